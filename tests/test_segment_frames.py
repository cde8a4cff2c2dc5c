"""Stacked pixel observations are stored once: episodes, segments, pairs and the store
keep each 84×84 frame one time, and rebuild the stacks exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import torch

from rlhp.reward.training import Comparisons
from rlhp.segments import Episode, EpisodePool, SegmentBatch, cut_segment, stacked_view
from rlhp.store.labels import LabelStore

FRAME = 84 * 84
K = 4


def pixel_episode(length: int, terminated: bool = True, seed: int = 0) -> Episode:
    frames = np.random.default_rng(seed).integers(0, 256, (length + K - 1, 84, 84), dtype=np.uint8)
    return Episode(
        obs=stacked_view(frames, K),
        actions=np.zeros(length, dtype=np.int64),
        true_rewards=np.arange(length, dtype=np.float64),
        terminated=terminated,
        env_step=length,
        frames=frames,
    )


def explicit_stacks(frames: np.ndarray, length: int) -> np.ndarray:
    return np.stack([frames[t : t + K] for t in range(length)])


def test_the_view_is_the_frame_stack_without_a_copy() -> None:
    e = pixel_episode(30)
    assert e.obs.shape == (30, K, 84, 84)
    assert np.shares_memory(e.obs, e.frames)
    assert e.frames is not None and np.array_equal(e.obs, explicit_stacks(e.frames, 30))
    assert e.nbytes == 33 * FRAME + 30 * 8 + 30 * 8  # frames once, actions, rewards


def test_a_segment_holds_each_frame_once() -> None:
    e = pixel_episode(100)
    assert e.frames is not None
    segment, truth = cut_segment(e, start=10, length=25)
    assert segment.frames is not None and segment.frames.shape == (25 + 3, 84, 84)
    # bytes per segment: 28 frames, not 25 × 4 = 100 (the stacked copy would be 3.6× more)
    assert segment.nbytes == 28 * FRAME + 25 * 8 + 25
    assert np.shares_memory(segment.obs, segment.frames)
    assert np.array_equal(segment.obs, e.obs[10:35])
    assert truth.tolist() == list(range(10, 35))


def test_a_segment_past_the_end_is_padded_with_absorbing_steps() -> None:
    e = pixel_episode(12)
    segment, truth = cut_segment(e, start=5, length=25)
    assert segment.absorbing.tolist() == [False] * 7 + [True] * 18
    assert np.array_equal(segment.obs[:7], e.obs[5:12])
    assert truth[7:].sum() == 0
    assert segment.nbytes == 28 * FRAME + 25 * 8 + 25


def test_pairs_stay_views_until_a_batch_is_taken() -> None:
    segments = [cut_segment(pixel_episode(40, seed=s), 3, 25)[0] for s in range(6)]
    batch = SegmentBatch.from_pairs(list(zip(segments[0::2], segments[1::2], strict=True)))
    assert batch.obs.shape == (3, 2, 25, K, 84, 84)
    assert batch.obs.base is not None  # a view of (3, 2, 28, 84, 84) frames
    assert np.array_equal(batch.obs[1, 0], segments[2].obs)
    data = Comparisons.from_batch(batch, np.ones(3, dtype=np.float32))
    assert data.obs.untyped_storage().nbytes() == 3 * 2 * 28 * FRAME  # torch aliases it
    assert torch.equal(data.obs[2, 1], torch.as_tensor(segments[5].obs))


def test_the_store_keeps_the_frames_once(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "ALE/Pong-v5"})
    segment, truth = cut_segment(pixel_episode(60), start=20, length=25)
    (sid,) = store.add_segments([segment], truth[None])
    back = store.segment(sid)
    assert back.frames is not None and np.array_equal(back.frames, segment.frames)
    assert np.array_equal(back.obs, segment.obs) and back.obs.shape == (25, K, 84, 84)
    store.close()
    with sqlite3.connect(tmp_path / "labels.sqlite") as conn:
        (size,) = conn.execute("SELECT length(data) FROM segments").fetchone()
    # the stored row: 28 frames once (not 100), actions and flags, and .npz headers
    assert 28 * FRAME < size < 28 * FRAME + 25 * 9 + 2_000


def test_the_pool_is_bounded_in_bytes() -> None:
    one = pixel_episode(100).nbytes
    pool = EpisodePool(max_steps=10**9, max_bytes=int(2.5 * one))
    for seed in range(5):
        pool.add(pixel_episode(100, seed=seed))
    assert len(pool) == 2 and pool.nbytes == 2 * one <= 2.5 * one
    assert pool.added_steps == 500


def test_segments_stack_their_frames_once() -> None:
    from rlhp.segments import stack_segments

    episode = pixel_episode(60)
    segments = [cut_segment(episode, start, 25)[0] for start in (0, 10, 35)]
    obs, actions, absorbing = stack_segments(segments)
    assert obs.shape == (3, 25, K, 84, 84) and actions.shape == (3, 25)
    assert np.array_equal(obs, np.stack([s.obs for s in segments]))  # the same stacks
    # consecutive observations share 3 of their 4 frames: a view of the frames, not copies
    assert np.shares_memory(obs[0, 0], obs[0, 1]) and not obs.flags.owndata
    assert not absorbing.any()
