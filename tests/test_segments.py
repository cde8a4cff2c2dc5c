import numpy as np
import pytest

from rlhp.segments import (
    Episode,
    EpisodeArchive,
    EpisodePool,
    Segment,
    SegmentBatch,
    cut_segment,
)


def episode(length: int, terminated: bool, index: int = 0) -> Episode:
    return Episode(
        obs=np.arange(length, dtype=np.float32).reshape(length, 1) + 1,
        actions=np.zeros(length, dtype=np.int64),
        true_rewards=np.ones(length),
        terminated=terminated,
        env_step=length,
        index=index,
    )


def test_terminated_episode_is_padded_with_absorbing_steps() -> None:
    segment, truth = cut_segment(episode(5, terminated=True), start=3, length=4)
    assert segment.absorbing.tolist() == [False, False, True, True]
    assert truth.tolist() == [1.0, 1.0, 0.0, 0.0]  # nothing more happens after the end
    assert segment.obs[2:].sum() == 0


def test_truncated_episode_cannot_be_padded() -> None:
    with pytest.raises(ValueError):
        cut_segment(episode(5, terminated=False), start=3, length=4)


def test_pool_samples_only_valid_segments(rng: np.random.Generator) -> None:
    pool = EpisodePool(max_steps=1000)
    pool.add(episode(3, terminated=False))  # too short for 4 steps: never sampled
    pool.add(episode(6, terminated=False, index=1))
    pool.add(episode(2, terminated=True, index=2))
    segments, truth = pool.sample(500, 4, rng)
    assert {s.episode for s in segments} == {1, 2}
    for s, t in zip(segments, truth, strict=True):
        assert s.length == 4
        assert t.sum() == (~s.absorbing).sum()


def test_pool_forgets_oldest_episodes() -> None:
    pool = EpisodePool(max_steps=10)
    for i in range(5):
        pool.add(episode(4, terminated=True, index=i))
    assert [e.index for e in pool.episodes] == [2, 3, 4]  # 12 steps: the fewest holding 10
    assert pool.added_steps == 20


def test_batch_validates_shapes() -> None:
    s = Segment(np.zeros((3, 2)), np.zeros(3), np.zeros(3, dtype=bool))
    batch = SegmentBatch.from_pairs([(s, s), (s, s)])
    assert batch.obs.shape == (2, 2, 3, 2) and len(batch) == 2
    with pytest.raises(ValueError):
        SegmentBatch(np.zeros((2, 3, 3, 2)), np.zeros((2, 2, 3)), np.zeros((2, 2, 3), dtype=bool))
    with pytest.raises(ValueError):
        Segment(np.zeros((3, 2)), np.zeros(4), np.zeros(3, dtype=bool))


def test_archive_keeps_a_uniform_sample_of_evicted_episodes() -> None:
    archive = EpisodeArchive(capacity=200, max_bytes=2**30, rng=np.random.default_rng(0))
    pool = EpisodePool(max_steps=8, archive=archive)
    for i in range(10_000):
        pool.add(episode(4, terminated=True, index=i))
    kept = np.array([e.index for e in archive.episodes])
    assert len(kept) == 200 and archive.offered == 10_000 - len(pool)
    assert not set(kept) & {e.index for e in pool.episodes}  # only what the pool let go
    # uniform over the run's history: every tenth of it holds about a tenth of the sample
    per_tenth = np.bincount(kept // 1_000, minlength=10)
    assert per_tenth.min() >= 8 and per_tenth.max() <= 35  # 20 expected, p < 1e-4 outside


def test_archive_stays_within_its_bytes(rng: np.random.Generator) -> None:
    one = episode(4, terminated=True).nbytes
    archive = EpisodeArchive(capacity=100, max_bytes=3 * one, rng=rng)
    for i in range(50):
        archive.offer(episode(4, terminated=True, index=i))
    assert len(archive) == 3 and archive.nbytes == 3 * one
    segments, truth = archive.sample(20, 4, rng)
    assert {s.episode for s in segments} <= {e.index for e in archive.episodes}
    assert truth.shape == (20, 4)
    with pytest.raises(ValueError, match="capacity"):
        EpisodeArchive(capacity=0, max_bytes=one, rng=rng)
