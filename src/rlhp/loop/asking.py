"""Asking for labels: oversampled candidates from recent episodes → selector → labeller."""

from __future__ import annotations

import logging

import numpy as np

from rlhp.config import QueryConfig
from rlhp.labellers.base import Labeller, Query
from rlhp.loop.coverage import ENDING_SELECTOR, ending_segments, ends_inside
from rlhp.queries import QuerySelector
from rlhp.segments import EpisodeArchive, EpisodePool, Segment, SegmentBatch
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)


def candidate_pool(queries: QueryConfig, archive_rng: np.random.Generator) -> EpisodePool:
    """The episodes candidate segments are cut from: the most recent ones, and with
    ``queries.history_share`` > 0 an archive of earlier ones (a quarter of the bytes)."""
    archive = (
        EpisodeArchive(queries.history_episodes, queries.pool_bytes // 4, archive_rng)
        if queries.history_share > 0
        else None
    )
    return EpisodePool(queries.pool_steps, queries.pool_bytes, archive)


def ask_pairs(
    count: int,
    *,
    pool: EpisodePool,
    selector: QuerySelector,
    store: LabelStore,
    labeller: Labeller,
    segment_length: int,
    oversampling: int,
    env_step: int,
    round_index: int,
    selector_name: str,
    rng: np.random.Generator,
    ending_share: float = 0.0,
    history_share: float = 0.0,
) -> int:
    """Sample ``oversampling``× candidate pairs, store the ``count`` chosen, send them out.

    Segments and their hidden true rewards are stored before the labeller hears of
    them, so an answer can never refer to a pair the store lacks. With ``ending_share``
    > 0 that share of the pairs sets a segment containing an episode end beside one
    without (``rlhp.loop.coverage``; only if the pool holds terminated episodes; the
    store records ``ENDING_SELECTOR`` as their selector); the selector picks the rest.
    With ``history_share`` > 0 and an archive in the pool, that share of the candidates
    comes from earlier episodes (``EpisodeArchive``).

    Returns:
        Pairs asked (0 while no episode can hold a segment yet; the labels due are asked
        at the next update).
    """
    candidates = 2 * count * oversampling
    archive = pool.archive if history_share > 0 else None
    earlier = round(candidates * history_share) if archive is not None and len(archive) else 0
    try:
        segments, truth = pool.sample(candidates - earlier, segment_length, rng)
    except ValueError as exc:
        log.info("no segments to ask about yet (%s); the labels due are asked next update", exc)
        return 0
    labeller.observe_policy(truth.sum(axis=1))  # B-Pref's reference: the policy's segments
    if earlier:
        assert archive is not None
        segments, truth = _with_history(segments, truth, archive, earlier, segment_length, rng)
    lefts, rights, left_truth, right_truth = _ending_pairs(
        segments, truth, count, ending_share, pool, segment_length, rng
    )
    batch = SegmentBatch.from_pairs(list(zip(segments[0::2], segments[1::2], strict=True)))
    chosen = selector(batch, count - len(lefts), rng)
    lefts += [segments[2 * i] for i in chosen]
    rights += [segments[2 * i + 1] for i in chosen]
    picked = lefts + rights
    picked_truth = np.concatenate(
        [*left_truth, truth[0::2][chosen], *right_truth, truth[1::2][chosen]]
    ).reshape(len(picked), segment_length)
    ids = store.add_segments(picked, picked_truth)
    n, ending = len(lefts), len(lefts) - len(chosen)
    pairs = list(zip(ids[:n], ids[n:], strict=True))
    pair_ids = store.add_pairs(pairs[:ending], env_step, round_index, ENDING_SELECTOR)
    pair_ids += store.add_pairs(pairs[ending:], env_step, round_index, selector_name)
    labeller.request(
        [Query(pid, ids[i], ids[n + i], picked[i], picked[n + i]) for i, pid in enumerate(pair_ids)]
    )
    return n


def _with_history(
    segments: list[Segment],
    truth: np.ndarray,
    archive: EpisodeArchive,
    count: int,
    length: int,
    rng: np.random.Generator,
) -> tuple[list[Segment], np.ndarray]:
    """``segments`` and ``count`` cut from the archive, shuffled together so pairs mix
    recent and earlier behaviour (unchanged if no archived episode holds a segment)."""
    try:
        old, old_truth = archive.sample(count, length, rng)
    except ValueError:
        return segments, truth
    both, both_truth = segments + old, np.concatenate([truth, old_truth])
    order = rng.permutation(len(both))
    return [both[i] for i in order], both_truth[order]


def _ending_pairs(
    segments: list[Segment],
    truth: np.ndarray,
    count: int,
    share: float,
    pool: EpisodePool,
    length: int,
    rng: np.random.Generator,
) -> tuple[list[Segment], list[Segment], list[np.ndarray], list[np.ndarray]]:
    """Pairs of (segment with an episode end, candidate without), sides at random."""
    lefts: list[Segment] = []
    rights: list[Segment] = []
    left_truth: list[np.ndarray] = []
    right_truth: list[np.ndarray] = []
    wanted = min(count, round(count * share))
    plain = np.flatnonzero(~ends_inside(segments))
    ending = ending_segments(pool, min(wanted, len(plain)), length, rng)
    if ending is None:
        return lefts, rights, left_truth, right_truth
    ends, end_truth = ending
    partners = rng.choice(plain, size=len(ends), replace=False)
    for end, end_r, other in zip(ends, end_truth, partners, strict=True):
        pair = [(end, end_r), (segments[other], truth[other])]
        if rng.random() < 0.5:
            pair.reverse()
        (a, ra), (b, rb) = pair
        lefts.append(a)
        rights.append(b)
        left_truth.append(ra[None])
        right_truth.append(rb[None])
    return lefts, rights, left_truth, right_truth
