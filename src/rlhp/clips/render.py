"""Frames of a segment, replayed from its recorded simulator states.

MuJoCo renders headless only with ``MUJOCO_GL=egl`` (or ``osmesa``); ``make_render_env``
sets ``egl`` when nothing is set. Measured here: CartPole ~2 ms per frame (pygame),
MuJoCo ~0.1 s per 480² frame (software EGL), hence the default size of 320 px.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

from rlhp.rl.sim_state import ClipError, set_state
from rlhp.segments import Segment

DIM = 0.35
"""Brightness of the frames shown after the episode ended (absorbing steps)."""


def make_render_env(env_id: str, size: int) -> gym.Env:
    """An environment that renders ``rgb_array`` frames of about ``size`` pixels."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        env = gym.make(env_id, render_mode="rgb_array", width=size, height=size)
    except TypeError:  # classic control has a fixed screen size
        env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    return env


def render_segment(env: gym.Env, segment: Segment) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 of ``segment`` in ``env`` (from ``make_render_env``).

    Steps after the episode ended repeat the last real frame, dimmed, with a red bar at
    the bottom: a person sees that the episode is over (it was not cut by a time limit).
    """
    if segment.states is None:
        raise ClipError(
            "this segment has no recorded simulator states; clips need record_states=True"
        )
    frames: list[np.ndarray] = []
    over: np.ndarray | None = None
    for t in range(segment.length):
        if segment.absorbing[t]:
            if over is None:  # dim the last real frame once, then hold it
                over = _episode_over(frames[-1])
            frames.append(over)
            continue
        set_state(env, segment.states[t])
        frame = env.render()
        if not isinstance(frame, np.ndarray):
            raise ClipError(f"{env.spec.id if env.spec else env} returned no rgb_array frame")
        frames.append(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    return np.stack(frames)


def _episode_over(frame: np.ndarray) -> np.ndarray:
    """The last frame, dimmed, with a red "episode over" band along the bottom."""
    out = (frame.astype(np.float32) * DIM).astype(np.uint8)
    band = max(4, frame.shape[0] // 12)
    out[-band:] = (200, 30, 30)
    if band >= 12:
        from PIL import Image, ImageDraw, ImageFont

        image = Image.fromarray(out)
        font = ImageFont.load_default(size=int(band * 0.7))
        ImageDraw.Draw(image).text(
            (frame.shape[1] // 2, frame.shape[0] - band // 2), "episode over", fill="white",
            font=font, anchor="mm",
        )  # fmt: skip
        out = np.asarray(image)
    return out
