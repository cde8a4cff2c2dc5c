"""Clips of pixel environments come from the recorded frames: what the model saw."""

from __future__ import annotations

import numpy as np

from rlhp.clips.pixels import ATARI_SCALE, DIM, MINATAR_SCALE, PALETTE, pixel_clip
from rlhp.rl.atari_masks import score_mask
from rlhp.segments import Segment, stacked_view


def atari_segment(real: int, length: int = 25) -> Segment:
    frames = np.random.default_rng(0).integers(1, 256, (length + 3, 84, 84), dtype=np.uint8)
    frames[:, score_mask("Pong")] = 0  # as the env's ScoreMask leaves them
    frames[real + 3 :] = 0
    absorbing = np.arange(length) >= real
    return Segment(
        stacked_view(frames, 4), np.zeros(length, dtype=np.int64), absorbing, frames=frames
    )


def test_an_atari_clip_is_the_newest_frame_upscaled() -> None:
    segment = atari_segment(real=25)
    clip = pixel_clip("ALE/Pong-v5", segment)
    assert clip.shape == (25, 84 * ATARI_SCALE, 84 * ATARI_SCALE, 3) and clip.dtype == np.uint8
    newest = segment.obs[:, -1]
    assert np.array_equal(clip[:, ::ATARI_SCALE, ::ATARI_SCALE, 0], newest)
    assert np.array_equal(clip[..., 0], clip[..., 2])  # grayscale
    big_mask = score_mask("Pong").repeat(ATARI_SCALE, 0).repeat(ATARI_SCALE, 1)
    assert (clip[:, big_mask] == 0).all()  # the score stays blanked for people too
    assert (clip[:, ~big_mask] > 0).all()


def test_after_the_episode_the_last_frame_is_held_dimmed() -> None:
    segment = atari_segment(real=10)
    clip = pixel_clip("ALE/Pong-v5", segment)
    held = (clip[9].astype(np.float32) * DIM).astype(np.uint8)
    assert np.array_equal(clip[10, :100], held[:100])
    assert np.array_equal(clip[24], clip[10])
    assert (clip[10, -10:] == (200, 30, 30)).all()  # the red "episode over" band


def test_a_minatar_clip_colours_each_object_channel() -> None:
    obs = np.zeros((3, 4, 10, 10), dtype=np.uint8)
    obs[:, 0, 2, 3] = 255
    obs[:, 3, 7, 7] = 255
    segment = Segment(obs, np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool))
    clip = pixel_clip("MinAtar/Breakout-v1", segment)
    assert clip.shape == (3, 10 * MINATAR_SCALE, 10 * MINATAR_SCALE, 3)
    s = MINATAR_SCALE
    assert (clip[0, 2 * s, 3 * s] == PALETTE[0]).all()
    assert (clip[0, 7 * s, 7 * s] == PALETTE[3]).all()
    assert (clip[0, 0, 0] == 0).all()
