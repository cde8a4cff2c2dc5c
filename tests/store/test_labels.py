"""The label store on every backend: SQLite file, SQLite URL, PostgreSQL (``new_location``)."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from rlhp.errors import StoreError
from rlhp.labellers.base import Answer
from rlhp.segments import Segment
from rlhp.store.engine import Location, parse_location
from rlhp.store.labels import LabelStore
from tests.conftest import NewLocation


def segment(value: float) -> Segment:
    return Segment(
        np.full((4, 2), value, dtype=np.float32),
        np.arange(4),
        np.array([0, 0, 0, 1], dtype=bool),
        10,
        2,
        1,
    )


def run_sql(location: Location, *statements: str) -> None:
    """Change a store behind rlhp's back, on any backend."""
    engine = create_engine(parse_location(location).url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_segments_and_truth_round_trip(new_location: NewLocation) -> None:
    store = LabelStore.create(new_location(), {"env_id": "X"})
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
    with pytest.raises(KeyError):
        store.segment(999)
    store.close()


def test_answers_are_kept_aggregated_and_idempotent(new_location: NewLocation) -> None:
    store = LabelStore.create(new_location(), {"env_id": "X"})
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
    assert [(x.pair_id, x.choice, x.labeller) for x in store.answers()] == [
        (p1, "left", "ann"),
        (p1, "equal", "bob"),
        (p2, "cant_tell", "ann"),
    ]
    store.close()


def test_times_keep_sub_second_precision(new_location: NewLocation) -> None:
    """Epoch seconds need double precision (a 4-byte REAL on PostgreSQL keeps ~2 minutes)."""
    store = LabelStore.create(new_location(), {"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    (p,) = store.add_pairs([(a, b)], 0, 0, "uniform")
    store.set_clip(a, "clips/a.mp4")
    store.set_clip(b, "clips/b.mp4")
    store.record_answers([Answer(p, "left", "ann", answered_at=1_700_000_000.125)])
    assert store.answers()[0].answered_at == 1_700_000_000.125
    claimed = store.claim_pair("bob", 30.5, answers_per_pair=2, now=1_700_000_000.25)
    assert claimed is not None and claimed.lock_expires == 1_700_000_030.75
    store.close()


def test_store_survives_reopening(new_location: NewLocation) -> None:
    location = new_location()
    store = LabelStore.create(location, {"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    (p,) = store.add_pairs([(a, b)], 0, 0, "uniform")
    store.record_answers([Answer(p, "right", "ann")])
    store.close()
    again = LabelStore.open(location, expect={"env_id": "X"})
    assert again.counts().answered == 1
    assert again.meta()["env_id"] == "X"
    again.close()


def test_create_refuses_an_existing_store(new_location: NewLocation) -> None:
    location = new_location()
    store = LabelStore.create(location, {"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    store.add_pairs([(a, b)], 0, 0, "uniform")
    store.close()
    with pytest.raises(StoreError, match="already") as error:
        LabelStore.create(location, {"env_id": "Y"})
    if parse_location(location).file is None:
        assert "fresh database" in str(error.value)
    again = LabelStore.open(location, expect={"env_id": "X"})  # untouched
    assert again.counts().pairs == 1
    again.close()


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_text("precious")
    with pytest.raises(StoreError, match="already exists"):
        LabelStore.create(path, {})
    assert path.read_text() == "precious"


def test_open_refuses_a_missing_store(new_location: NewLocation) -> None:
    location = new_location()  # a path that does not exist, or an empty database
    with pytest.raises(StoreError, match=r"no label store|holds no rlhp label store"):
        LabelStore.open(location)


def test_foreign_newer_and_mismatched_stores_are_refused(new_location: NewLocation) -> None:
    foreign = new_location()
    run_sql(
        foreign,
        "CREATE TABLE meta (key TEXT, value TEXT)",
        "INSERT INTO meta VALUES ('application', 'other')",
    )
    with pytest.raises(StoreError, match=r"not an rlhp label store|no rlhp label store"):
        LabelStore.open(foreign)
    newer = new_location()
    LabelStore.create(newer, {"env_id": "X"}).close()
    run_sql(newer, "UPDATE meta SET value = '99' WHERE key = 'format_version'")
    with pytest.raises(StoreError, match="newer"):
        LabelStore.open(newer)
    other_env = new_location()
    LabelStore.create(other_env, {"env_id": "X"}).close()
    with pytest.raises(StoreError, match="env_id='X', not 'Y'"):
        LabelStore.open(other_env, expect={"env_id": "Y"})


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a readable"):
        LabelStore.open(corrupt)
    assert corrupt.read_bytes() == b"this is not a database" * 100
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE things (x)")
    with pytest.raises(StoreError, match="not a readable rlhp label store"):
        LabelStore.open(foreign)


def test_a_store_made_by_the_sqlite3_only_version_opens(tmp_path: Path) -> None:
    """Format 1 files written by rlhp before SQLAlchemy (this exact DDL) read unchanged."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE segments (id INTEGER PRIMARY KEY, created_at REAL NOT NULL,
                env_step INTEGER NOT NULL, episode INTEGER NOT NULL, start INTEGER NOT NULL,
                length INTEGER NOT NULL, data BLOB NOT NULL, clip TEXT);
            CREATE TABLE segment_truth (segment_id INTEGER PRIMARY KEY REFERENCES segments(id),
                rewards BLOB NOT NULL);
            CREATE TABLE pairs (id INTEGER PRIMARY KEY,
                left_id INTEGER NOT NULL REFERENCES segments(id),
                right_id INTEGER NOT NULL REFERENCES segments(id), created_at REAL NOT NULL,
                env_step INTEGER NOT NULL, round INTEGER NOT NULL, selector TEXT NOT NULL,
                locked_by TEXT, lock_expires REAL);
            CREATE TABLE answers (id INTEGER PRIMARY KEY,
                pair_id INTEGER NOT NULL REFERENCES pairs(id),
                choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'equal', 'cant_tell')),
                labeller TEXT NOT NULL, answered_at REAL NOT NULL, UNIQUE (pair_id, labeller));
            CREATE INDEX answers_pair ON answers(pair_id);
            INSERT INTO meta VALUES ('application', 'rlhp-label-store'),
                ('format_version', '1'), ('env_id', 'X');
            """
        )
    store = LabelStore.open(path, expect={"env_id": "X"})
    a, b = store.add_segments([segment(1.0), segment(2.0)], None)
    (p,) = store.add_pairs([(a, b)], 0, 0, "uniform")
    assert (a, b, p) == (1, 2, 1)
    assert store.record_answers([Answer(p, "left", "ann"), Answer(p, "left", "ann")]) == 1
    store.close()
