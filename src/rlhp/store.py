"""The label store: segments, pairs and every answer, in one SQLite file (WAL).

The trainer writes segments and pairs and reads answers; the labelling web app reads
pairs and clips and writes answers. Answers are never overwritten: each is kept with
who gave it and when; the same labeller answering the same pair twice is a no-op.
True rewards live in their own table, read only by the oracle and by evaluation.

Schema version 1. A file that is not SQLite, or not an rlhp store, or of a newer
version, is refused with an error that says so.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlhp.errors import StoreError
from rlhp.labellers.base import TARGETS, Answer, Choice
from rlhp.segments import Segment
from rlhp.store_labelling import LabellingQueries

FORMAT_VERSION = 1
APPLICATION = "rlhp-label-store"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    env_step INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    start INTEGER NOT NULL,
    length INTEGER NOT NULL,
    data BLOB NOT NULL,
    clip TEXT
);
CREATE TABLE segment_truth (
    segment_id INTEGER PRIMARY KEY REFERENCES segments(id),
    rewards BLOB NOT NULL
);
CREATE TABLE pairs (
    id INTEGER PRIMARY KEY,
    left_id INTEGER NOT NULL REFERENCES segments(id),
    right_id INTEGER NOT NULL REFERENCES segments(id),
    created_at REAL NOT NULL,
    env_step INTEGER NOT NULL,
    round INTEGER NOT NULL,
    selector TEXT NOT NULL,
    locked_by TEXT,
    lock_expires REAL
);
CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    pair_id INTEGER NOT NULL REFERENCES pairs(id),
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'equal', 'cant_tell')),
    labeller TEXT NOT NULL,
    answered_at REAL NOT NULL,
    UNIQUE (pair_id, labeller)
);
CREATE INDEX answers_pair ON answers(pair_id);
"""


@dataclass(frozen=True)
class StoreCounts:
    """Queries asked and answers received, counted separately (B-Pref)."""

    pairs: int
    """Pairs asked about (the label budget counts these)."""
    answered: int
    """Pairs with at least one answer, can't-tell included."""
    trainable: int
    """Pairs with at least one answer other than can't-tell."""
    equal: int
    """Answers 'equal'."""
    cant_tell: int
    """Answers 'can't tell'."""
    answers: int
    """All answers, several per pair possible."""


@dataclass(frozen=True)
class LabelledPair:
    """A pair with its aggregated target μ(left): the mean over its trainable answers."""

    pair_id: int
    left_id: int
    right_id: int
    target: float
    env_step: int


def _to_blob(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _from_blob(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class LabelStore(LabellingQueries):
    """One connection to a store file; safe to share between threads of one process."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, meta: dict[str, str]) -> LabelStore:
        """Create a new store; refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise StoreError(
                f"{path} already exists; open it instead of creating it, or pick another path"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(path)
        with db:
            db.executescript(_SCHEMA)
            entries = {"application": APPLICATION, "format_version": str(FORMAT_VERSION), **meta}
            db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(entries.items()))
        return cls(path, db)

    @classmethod
    def open(cls, path: Path, expect: dict[str, str] | None = None) -> LabelStore:
        """Open an existing store, checking that it is an rlhp store this version can read.

        Args:
            path: the SQLite file.
            expect: meta entries that must match (e.g. the env id), or the open fails.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"no label store at {path}; check the run directory path")
        try:
            db = _connect(path)
            rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} is not a readable rlhp label store ({exc}); "
                "restore it from a backup or point to the right run directory"
            ) from exc
        if rows.get("application") != APPLICATION:
            raise StoreError(
                f"{path} is an SQLite file but not an rlhp label store; point to a run's labels.sqlite"
            )
        version = int(rows.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise StoreError(
                f"{path} has store format {version}, newer than this rlhp reads ({FORMAT_VERSION}); upgrade rlhp"
            )
        for key, value in (expect or {}).items():
            if rows.get(key) != value:
                raise StoreError(
                    f"{path} belongs to {key}={rows.get(key)!r}, not {value!r}; use a run directory of the same {key}"
                )
        return cls(path, db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    # -- segments and pairs ------------------------------------------------------------

    def add_segments(self, segments: list[Segment], true_rewards: np.ndarray | None) -> list[int]:
        """Store segments (and their hidden true rewards ``(N, T)``, if known); returns ids."""
        now = time.time()
        ids = []
        with self._tx() as db:
            for i, s in enumerate(segments):
                arrays = {"obs": s.obs, "actions": s.actions, "absorbing": s.absorbing}
                if s.states is not None:
                    arrays["states"] = s.states
                blob = _to_blob(**arrays)
                cur = db.execute(
                    "INSERT INTO segments (created_at, env_step, episode, start, length, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (now, s.env_step, s.episode, s.start, s.length, blob),
                )
                sid = int(cur.lastrowid or 0)
                ids.append(sid)
                if true_rewards is not None:
                    db.execute(
                        "INSERT INTO segment_truth VALUES (?, ?)",
                        (sid, _to_blob(rewards=true_rewards[i])),
                    )
        return ids

    def segment(self, segment_id: int) -> Segment:
        with self._lock:
            row = self._db.execute(
                "SELECT data, env_step, episode, start FROM segments WHERE id = ?", (segment_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no segment {segment_id}")
        arrays = _from_blob(row[0])
        states = arrays.get("states")  # recorded for human feedback only
        obs, actions, absorbing = arrays["obs"], arrays["actions"], arrays["absorbing"]
        return Segment(obs, actions, absorbing, row[1], row[2], row[3], states)

    def segment_ids(self) -> list[int]:
        """Ids of the segments that have hidden true rewards stored."""
        with self._lock:
            return [
                int(r[0])
                for r in self._db.execute(
                    "SELECT segment_id FROM segment_truth ORDER BY segment_id"
                )
            ]

    def true_rewards(self, segment_id: int) -> np.ndarray:
        """Hidden true per-step rewards ``(T,)``: for the oracle and evaluation only."""
        with self._lock:
            row = self._db.execute(
                "SELECT rewards FROM segment_truth WHERE segment_id = ?", (segment_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no true rewards stored for segment {segment_id}")
        return _from_blob(row[0])["rewards"]

    def set_clip(self, segment_id: int, relative_path: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE segments SET clip = ? WHERE id = ?", (relative_path, segment_id))

    def add_pairs(
        self, pairs: list[tuple[int, int]], env_step: int, round_index: int, selector: str
    ) -> list[int]:
        now = time.time()
        with self._tx() as db:
            return [
                int(
                    db.execute(
                        "INSERT INTO pairs (left_id, right_id, created_at, env_step, round, selector) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (left, right, now, env_step, round_index, selector),
                    ).lastrowid
                    or 0
                )
                for left, right in pairs
            ]

    def unanswered_pairs(self) -> list[tuple[int, int, int]]:
        """``(pair_id, left_id, right_id)`` of pairs nobody has answered yet, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT id, left_id, right_id FROM pairs "
                "WHERE id NOT IN (SELECT pair_id FROM answers) ORDER BY id"
            ).fetchall()

    # -- answers -----------------------------------------------------------------------

    def record_answers(self, answers: Iterable[Answer]) -> int:
        """Store answers; a repeat of (pair, labeller) is ignored. Returns how many were new."""
        with self._tx() as db:
            before = db.total_changes
            for a in answers:
                db.execute(
                    "INSERT OR IGNORE INTO answers (pair_id, choice, labeller, answered_at) "
                    "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM pairs WHERE id = ?)",
                    (a.pair_id, a.choice, a.labeller, a.answered_at, a.pair_id),
                )
            return db.total_changes - before

    def answers(self) -> list[Answer]:
        with self._lock:
            rows = self._db.execute(
                "SELECT pair_id, choice, labeller, answered_at FROM answers ORDER BY id"
            ).fetchall()
        return [Answer(int(p), c, lab, float(t)) for p, c, lab, t in rows]

    def labelled_pairs(self) -> list[LabelledPair]:
        """Every pair with a trainable answer; several answers average into one target."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.left_id, p.right_id, p.env_step, a.choice FROM pairs p "
                "JOIN answers a ON a.pair_id = p.id WHERE a.choice != 'cant_tell' ORDER BY p.id, a.id"
            ).fetchall()
        sums: dict[int, list[float]] = {}
        info: dict[int, tuple[int, int, int]] = {}
        for pid, left, right, step, choice in rows:
            target = TARGETS[_choice(choice)]
            assert target is not None
            sums.setdefault(pid, []).append(target)
            info[pid] = (left, right, step)
        return [
            LabelledPair(pid, info[pid][0], info[pid][1], float(np.mean(t)), info[pid][2])
            for pid, t in sums.items()
        ]

    def counts(self) -> StoreCounts:
        with self._lock:
            pairs = self._db.execute("SELECT COUNT(*) FROM pairs").fetchone()[0]
            answered = self._db.execute("SELECT COUNT(DISTINCT pair_id) FROM answers").fetchone()[0]
            trainable = self._db.execute(
                "SELECT COUNT(DISTINCT pair_id) FROM answers WHERE choice != 'cant_tell'"
            ).fetchone()[0]
            by_choice = dict(
                self._db.execute("SELECT choice, COUNT(*) FROM answers GROUP BY choice").fetchall()
            )
        return StoreCounts(
            pairs=int(pairs),
            answered=int(answered),
            trainable=int(trainable),
            equal=int(by_choice.get("equal", 0)),
            cant_tell=int(by_choice.get("cant_tell", 0)),
            answers=int(sum(by_choice.values())),
        )


def _choice(value: Choice | str) -> Choice:
    if value not in TARGETS:
        raise StoreError(f"unknown answer {value!r} in the store")
    return value


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level="DEFERRED")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db
