"""Asking for labels: oversampled candidates from recent episodes → selector → labeller."""

from __future__ import annotations

import logging

import numpy as np

from rlhp.labellers.base import Labeller, Query
from rlhp.queries import QuerySelector
from rlhp.segments import EpisodePool, SegmentBatch
from rlhp.store import LabelStore

log = logging.getLogger(__name__)


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
) -> int:
    """Sample ``oversampling``× candidate pairs, store the ``count`` chosen, send them out.

    Segments and their hidden true rewards are stored before the labeller hears of
    them, so an answer can never refer to a pair the store lacks.

    Returns:
        Pairs asked (0 while no episode can hold a segment yet; the labels due are asked
        at the next update).
    """
    try:
        segments, truth = pool.sample(2 * count * oversampling, segment_length, rng)
    except ValueError as exc:
        log.info("no segments to ask about yet (%s); the labels due are asked next update", exc)
        return 0
    labeller.observe_policy(truth.sum(axis=1))  # B-Pref's reference: the policy's segments
    batch = SegmentBatch.from_pairs(list(zip(segments[0::2], segments[1::2], strict=True)))
    chosen = selector(batch, count, rng)
    picked = [segments[2 * i] for i in chosen] + [segments[2 * i + 1] for i in chosen]
    picked_truth = np.concatenate([truth[0::2][chosen], truth[1::2][chosen]])
    ids = store.add_segments(picked, picked_truth)
    n = len(chosen)
    pair_ids = store.add_pairs(
        list(zip(ids[:n], ids[n:], strict=True)), env_step, round_index, selector_name
    )
    labeller.request(
        [Query(pid, ids[i], ids[n + i], picked[i], picked[n + i]) for i, pid in enumerate(pair_ids)]
    )
    return n
