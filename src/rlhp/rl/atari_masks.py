"""Per-game score masks for the paper's seven Atari games (SPEC §7: "score displays are
blanked").

Each mask is a list of rectangles ``(top, bottom, left, right)`` in the ALE's native
210×160 screen, read off real frames of ale-py 0.12 (rows and columns end-exclusive).
They cover the score, and what else counts the reward on screen: BeamRider's sector
number and enemy counter, Qbert's and Seaquest's lives next to the score, Enduro's
whole dashboard (odometer, day and the cars-to-pass counter, the speed readout of the
game). A rectangle is scaled to the 84×84 frame by rounding outward, so no pixel of
the display survives the resize. Other games get no mask (``score_mask`` returns an
empty one); add a rectangle here to blank one.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

Rect = tuple[int, int, int, int]
"""``(top, bottom, left, right)`` in the 210×160 ALE screen, end-exclusive."""

NATIVE_SHAPE = (210, 160)

MASKS: dict[str, tuple[Rect, ...]] = {
    "BeamRider": ((0, 42, 0, 160),),  # score, sector number, enemy counter (top left)
    "Breakout": ((0, 16, 0, 160),),  # score, lives, player number
    "Enduro": ((156, 194, 0, 160),),  # dashboard: odometer, day, cars to pass
    "Pong": ((0, 24, 0, 160),),  # both scores
    "Qbert": ((0, 13, 0, 160), (13, 27, 28, 56)),  # score; lives below it
    "Seaquest": ((0, 27, 0, 160),),  # score and reserve submarines
    "SpaceInvaders": ((0, 20, 0, 160),),  # both players' scores
}


def score_mask(game: str, shape: tuple[int, int] = (84, 84)) -> np.ndarray:
    """``shape`` bool array, True where ``game``'s score display is (all False if unknown)."""
    mask = np.zeros(shape, dtype=bool)
    sy, sx = shape[0] / NATIVE_SHAPE[0], shape[1] / NATIVE_SHAPE[1]
    for top, bottom, left, right in MASKS.get(game, ()):
        rows = slice(math.floor(top * sy), math.ceil(bottom * sy))
        cols = slice(math.floor(left * sx), math.ceil(right * sx))
        mask[rows, cols] = True
    return mask


class ScoreMask(gym.ObservationWrapper):
    """Sets the masked pixels of each ``(H, W)`` frame to 0 (black)."""

    def __init__(self, env: gym.Env, mask: np.ndarray) -> None:
        super().__init__(env)
        if mask.shape != env.observation_space.shape[-2:]:  # type: ignore[index]
            raise ValueError(f"mask {mask.shape} does not fit frames {env.observation_space.shape}")
        self.mask = mask

    def observation(self, observation: Any) -> np.ndarray:
        frame = np.array(observation, copy=True)
        frame[..., self.mask] = 0
        return frame
