import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rlhp.errors import StoreError
from rlhp.labellers.base import Answer
from rlhp.segments import Segment
from rlhp.store import LabelStore


def segment(value: float) -> Segment:
    return Segment(
        np.full((4, 2), value, dtype=np.float32),
        np.arange(4),
        np.array([0, 0, 0, 1], dtype=bool),
        10,
        2,
        1,
    )


def test_segments_and_truth_round_trip(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "s.sqlite", {"env_id": "X"})
    ids = store.add_segments(
        [segment(1.0), segment(2.0)], np.array([[1.0, 1, 1, 0], [0.0, 0, 0, 0]])
    )
    back = store.segment(ids[0])
    assert np.array_equal(back.obs, segment(1.0).obs) and back.absorbing.tolist() == [
        False,
        False,
        False,
        True,
    ]
    assert (back.env_step, back.episode, back.start) == (10, 2, 1)
    assert store.true_rewards(ids[0]).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert store.segment_ids() == ids


def test_answers_are_kept_aggregated_and_idempotent(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "s.sqlite", {"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    p1, p2, p3 = store.add_pairs(
        [(a, b), (b, a), (a, a)], env_step=0, round_index=0, selector="uniform"
    )
    assert store.record_answers([Answer(p1, "left", "ann"), Answer(p1, "left", "ann")]) == 1
    assert store.record_answers([Answer(p1, "equal", "bob"), Answer(p2, "cant_tell", "ann")]) == 2
    assert store.record_answers([Answer(999, "left", "ann")]) == 0  # unknown pair: ignored
    labelled = store.labelled_pairs()
    assert [(p.pair_id, p.target) for p in labelled] == [(p1, 0.75)]  # (1 + 0.5) / 2
    counts = store.counts()
    assert (counts.pairs, counts.answered, counts.trainable, counts.answers) == (3, 2, 1, 3)
    assert (counts.equal, counts.cant_tell) == (1, 1)
    assert [pid for pid, _, _ in store.unanswered_pairs()] == [p3]


def test_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = LabelStore.create(path, {"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    (p,) = store.add_pairs([(a, b)], 0, 0, "uniform")
    store.record_answers([Answer(p, "right", "ann")])
    store.close()
    again = LabelStore.open(path, expect={"env_id": "X"})
    assert again.counts().answered == 1


def test_create_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_text("precious")
    with pytest.raises(StoreError, match="already exists"):
        LabelStore.create(path, {})
    assert path.read_text() == "precious"


def test_corrupt_foreign_newer_and_mismatched_stores_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a readable"):
        LabelStore.open(corrupt)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('application', 'other')")
    with pytest.raises(StoreError, match="not an rlhp label store"):
        LabelStore.open(foreign)
    newer = tmp_path / "newer.sqlite"
    LabelStore.create(newer, {"env_id": "X"}).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    with pytest.raises(StoreError, match="newer"):
        LabelStore.open(newer)
    with pytest.raises(StoreError, match="env_id"):
        LabelStore.open(
            tmp_path / "s2.sqlite" if False else _make(tmp_path), expect={"env_id": "Y"}
        )
    assert corrupt.read_bytes().startswith(b"this is not a database")


def _make(tmp_path: Path) -> Path:
    path = tmp_path / "x.sqlite"
    LabelStore.create(path, {"env_id": "X"}).close()
    return path
