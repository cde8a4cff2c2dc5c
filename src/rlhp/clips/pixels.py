"""Clips of pixel environments (ALE, MinAtar) straight from the recorded observations.

No renderer and no simulator state: a segment already holds every frame the agent saw.
An Atari clip shows the newest frame of each observation — the ALE's own screen, max-
pooled over two frames, in grayscale, with the score blanked exactly as the reward model
sees it — upscaled 4× (84² → 336²) with nearest-neighbour pixels, at the agent's 15 Hz
(60 Hz / frame skip 4). A MinAtar clip colours each of its object channels (of the
newest frame, when ``atari.minatar_frames`` concatenates several). Steps after
the episode ended hold the last frame, dimmed, with a red band at the bottom.
"""

from __future__ import annotations

import numpy as np

from rlhp.rl.atari import is_minatar, minatar_channels
from rlhp.segments import Segment

PIXEL_FPS = 15.0
"""Agent steps per second of an Atari clip (60 Hz emulator, 4 frames per step)."""
ATARI_SCALE = 4
MINATAR_SCALE = 32
DIM = 0.35
PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    ],
    dtype=np.uint8,
)  # fmt: skip
"""Colours of MinAtar's object channels (channel c gets colour c mod 10)."""


def pixel_clip(env_id: str, segment: Segment) -> np.ndarray:
    """Frames ``(T, H', W', 3)`` uint8 of ``segment`` for a person to watch."""
    obs = segment.obs  # (T, C, H, W)
    if is_minatar(env_id):
        obs = obs[:, -minatar_channels(env_id) :]  # the newest frame (atari.minatar_frames)
        colours = PALETTE[np.arange(obs.shape[1]) % len(PALETTE)]  # (C, 3)
        on = obs > 0  # (T, C, H, W)
        last = np.where(on.any(axis=1), obs.shape[1] - 1 - np.argmax(on[:, ::-1], axis=1), -1)
        rgb = np.where((last >= 0)[..., None], colours[np.maximum(last, 0)], 0).astype(np.uint8)
        scale = MINATAR_SCALE
    else:
        gray = obs[:, -1]  # the newest frame of each stack, (T, H, W)
        rgb = np.repeat(gray[..., None], 3, axis=-1)
        scale = ATARI_SCALE
    frames = rgb.repeat(scale, axis=1).repeat(scale, axis=2)
    real = int((~segment.absorbing).sum())
    if real < segment.length:
        over = (frames[max(real - 1, 0)].astype(np.float32) * DIM).astype(np.uint8)
        over[-max(4, over.shape[0] // 12) :] = (200, 30, 30)
        frames[real:] = over
    return np.ascontiguousarray(frames)
