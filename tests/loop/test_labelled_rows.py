"""Labelled pairs are written once: an update's comparisons are views of stored rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlhp.labellers.base import Answer
from rlhp.loop.labelled import LabelledData
from rlhp.segments import Segment, SegmentBatch, stacked_view
from rlhp.store.labels import LabelStore

STACK, SIDE, STEPS = 4, 6, 5


def pixel_segments(count: int, seed: int) -> list[Segment]:
    rng = np.random.default_rng(seed)
    segments = []
    for _ in range(count):
        frames = rng.integers(0, 256, (STEPS + STACK - 1, SIDE, SIDE), dtype=np.uint8)
        absorbing = np.arange(STEPS) >= rng.integers(2, STEPS + 1)
        segments.append(
            Segment(
                stacked_view(frames, STACK), rng.integers(0, 4, STEPS), absorbing, frames=frames
            )
        )
    return segments


def ask(store: LabelStore, count: int, seed: int) -> list[int]:
    """``count`` new pairs of random pixel segments; their pair ids."""
    segments = pixel_segments(2 * count, seed)
    ids = store.add_segments(segments, np.zeros((2 * count, STEPS)))
    return store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")


def restacked(store: LabelStore, pair_ids: list[int]) -> SegmentBatch:
    """The pairs stacked afresh from the store: what the comparisons must equal."""
    by_id = {p.pair_id: p for p in store.labelled_pairs()}
    pairs = [(store.segment(by_id[i].left_id), store.segment(by_id[i].right_id)) for i in pair_ids]
    return SegmentBatch.from_pairs(pairs)


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    return LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "ALE/Breakout-v5"})


def test_comparisons_equal_the_pairs_restacked_across_growth(store: LabelStore) -> None:
    labelled = LabelledData(store, expected_pairs=2)  # grows twice over three rounds
    previous = None
    for round_ in range(3):
        pairs = ask(store, 3, seed=round_)
        store.record_answers(Answer(p, "left" if p % 2 else "equal", "ann") for p in pairs)
        data, fresh = labelled.comparisons()
        assert data is not None and fresh is not None and len(fresh) == 3
        ids = data.ids.tolist()
        expected = restacked(store, ids)
        np.testing.assert_array_equal(data.obs.numpy(), expected.obs)
        np.testing.assert_array_equal(data.actions.numpy(), expected.actions)
        np.testing.assert_array_equal(data.absorbing.numpy(), expected.absorbing)
        assert data.targets.tolist() == [1.0 if p % 2 else 0.5 for p in ids]
        if previous is not None:  # the earlier comparisons still read what they read
            np.testing.assert_array_equal(
                previous.obs.numpy(), restacked(store, previous.ids.tolist()).obs
            )
        previous = data


def test_each_pair_is_stored_once_and_updates_share_it(store: LabelStore) -> None:
    labelled = LabelledData(store, expected_pairs=8)
    store.record_answers(Answer(p, "left", "ann") for p in ask(store, 4, seed=0))
    first, _ = labelled.comparisons()
    store.record_answers(Answer(p, "right", "ann") for p in ask(store, 4, seed=1))
    second, _ = labelled.comparisons()
    assert first is not None and second is not None
    assert np.shares_memory(first.obs.numpy(), second.obs.numpy())
    rows = labelled.rows
    assert rows.used == 8  # one row per pair, none written twice
    assert rows.pixels[0].nbytes == 2 * (STEPS + STACK - 1) * SIDE * SIDE  # frames, not stacks


def test_a_late_answer_and_a_changed_target_keep_pairs_aligned(store: LabelStore) -> None:
    labelled = LabelledData(store, max_labels=4, expected_pairs=8)
    early = ask(store, 3, seed=0)
    later = ask(store, 3, seed=1)
    store.record_answers(Answer(p, "left", "ann") for p in later)
    labelled.comparisons()
    store.record_answers([Answer(early[0], "right", "ann"), Answer(later[0], "right", "bob")])
    data, fresh = labelled.comparisons()
    assert data is not None and fresh is not None
    assert data.ids.tolist() == [*later, early[0]]  # the order they were first labelled
    assert data.targets.tolist() == [0.5, 1.0, 1.0, 0.0]  # later[0]: left, then right
    assert fresh.ids.tolist() == [early[0]]
    np.testing.assert_array_equal(data.obs.numpy(), restacked(store, data.ids.tolist()).obs)


def test_pairs_answered_out_of_order_are_compacted_into_one_run(store: LabelStore) -> None:
    labelled = LabelledData(store, max_labels=3, expected_pairs=8)
    pairs = ask(store, 4, seed=0)
    store.record_answers([Answer(pairs[3], "left", "ann")])
    labelled.comparisons()
    store.record_answers([Answer(p, "right", "ann") for p in pairs[:3]])
    data, _ = labelled.comparisons()  # window: pairs 1, 2, 3, stored as rows 2, 3, 0
    assert data is not None
    assert sorted(data.ids.tolist()) == pairs[1:]
    assert labelled.rows.used == 3  # rebuilt as one consecutive run
    np.testing.assert_array_equal(data.obs.numpy(), restacked(store, data.ids.tolist()).obs)
    targets = dict(zip(data.ids.tolist(), data.targets.tolist(), strict=True))
    assert targets == {pairs[1]: 0.0, pairs[2]: 0.0, pairs[3]: 1.0}
