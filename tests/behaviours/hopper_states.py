"""Hand-made Hopper states (``qpos`` then ``qvel``, 12 numbers) shared by the behaviour tests."""

from __future__ import annotations

import numpy as np

STAND_Z = 1.2
"""Torso height with the foot just touching (clearance -0.01)."""
TWO_PI = 2 * np.pi


def standing(pitch: float = 0.0, steps: int = 10) -> np.ndarray:
    """``(steps, 12)`` upright on the foot at ``pitch`` (a multiple of 2π is upright)."""
    states = np.zeros((steps, 12))
    states[:, 1] = STAND_Z
    states[:, 2] = pitch
    return states
