"""The label store: segments, pairs and every answer, in one database.

The trainer writes segments and pairs and reads answers; the labelling web app reads
pairs and clips and writes answers. Answers are never overwritten: each is kept with
who gave it and when; the same labeller answering the same pair twice is a no-op.
True rewards live in their own table, read only by the oracle and by evaluation.

By default the store is an SQLite file in WAL mode (``RUN/labels.sqlite``); a
PostgreSQL URL puts it in a database that several machines share (``store.engine``
says how locations are written; ``store.schema`` declares the tables). Several
processes — the trainer and one or more labelling servers — may use one store at once.

Format version 1. A file that is not SQLite, a database without an rlhp store, and a
store of a newer version are refused with an error that says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.exc import DBAPIError

from rlhp.errors import StoreError
from rlhp.labellers.base import NO_PREFERENCE, TARGETS, Answer, Choice
from rlhp.store import schema
from rlhp.store.blobs import from_blob, to_blob
from rlhp.store.counts import StoreCounts, read_counts
from rlhp.store.engine import Database, Location, StoreLocation, database_error, parse_location
from rlhp.store.labelling import LabellingQueries, answer_row, effective_choice

if TYPE_CHECKING:
    import numpy as np

    from rlhp.segments import Segment

# NumPy (and the segments built on it) load on the first segment read or written: the
# labelling server only counts, claims and answers until a clip's timeline is asked for,
# so it starts without NumPy's import (15 % of its start-up CPU, docs/benchmarks.md).


@dataclass(frozen=True)
class LabelledPair:
    """A pair with its aggregated target μ(left): the mean over its trainable answers."""

    pair_id: int
    left_id: int
    right_id: int
    target: float
    env_step: int


# Statements are built once; each call only executes them.
_segments, _truth, _pairs, _answers = (
    schema.segments,
    schema.segment_truth,
    schema.pairs,
    schema.answers,
)
_ADD_SEGMENTS = _segments.insert().returning(_segments.c.id, sort_by_parameter_order=True)
_ADD_PAIRS = _pairs.insert().returning(_pairs.c.id, sort_by_parameter_order=True)
_SEGMENT = select(
    _segments.c.data, _segments.c.env_step, _segments.c.episode, _segments.c.start
).where(_segments.c.id == bindparam("segment"))
_TRUTH_IDS = select(_truth.c.segment_id).order_by(_truth.c.segment_id)
_TRUTH = select(_truth.c.rewards).where(_truth.c.segment_id == bindparam("segment"))
_SET_CLIP = (
    update(_segments).where(_segments.c.id == bindparam("segment")).values(clip=bindparam("path"))
)
_UNANSWERED = (
    select(_pairs.c.id, _pairs.c.left_id, _pairs.c.right_id)
    .where(_pairs.c.id.not_in(select(_answers.c.pair_id)))
    .order_by(_pairs.c.id)
)
_PAIR_IDS = select(_pairs.c.id)
_ANSWERS = select(
    _answers.c.pair_id, _answers.c.choice, _answers.c.labeller, _answers.c.answered_at
).order_by(_answers.c.id)
_CHOICE = effective_choice()  # an answer's newest correction (the page's undo), else itself
_COUNTED_ANSWERS = select(
    _answers.c.pair_id, _CHOICE, _answers.c.labeller, _answers.c.answered_at, _answers.c.choice
).order_by(_answers.c.id)
_LABELLED = (
    select(_pairs.c.id, _pairs.c.left_id, _pairs.c.right_id, _pairs.c.env_step, _CHOICE)
    .join(_answers, _answers.c.pair_id == _pairs.c.id)
    .where(_CHOICE != "cant_tell")
    .order_by(_pairs.c.id, _answers.c.id)
)

_TIES_BY_SELECTOR = (
    select(
        _pairs.c.selector,
        func.count(),
        func.sum(case((_CHOICE.in_(NO_PREFERENCE), 1), else_=0)),
    )
    .join(_answers, _answers.c.pair_id == _pairs.c.id)
    .group_by(_pairs.c.selector)
)


class LabelStore(LabellingQueries):
    """One store, by location; safe to share between threads of one process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.location: StoreLocation = db.where
        """Where the store is; ``str()`` of it masks any password."""

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def check_new(cls, location: Location) -> StoreLocation:
        """Raise StoreError unless a store can be created at ``location``; writes nothing."""
        where = parse_location(location)
        if where.file is not None:
            if where.file.exists():
                raise StoreError(
                    f"{where} already exists; open it instead of creating it, or pick another path"
                )
            return where
        db = Database(where)
        try:
            with db.read() as conn:
                schema.refuse_rlhp_tables(conn, where)
        except DBAPIError as exc:
            raise database_error(where, exc) from exc
        finally:
            db.close()
        return where

    @classmethod
    def create(cls, location: Location, meta: dict[str, str]) -> LabelStore:
        """Create a new store: a new SQLite file, or the tables in an empty database.

        Refuses an existing file and a database that already holds rlhp tables.
        """
        where = cls.check_new(location)
        if where.file is not None:
            where.file.parent.mkdir(parents=True, exist_ok=True)
        db = Database(where)
        entries = {"application": schema.APPLICATION, "format_version": str(schema.FORMAT_VERSION)}
        entries.update(meta)
        try:
            with db.write() as conn:
                schema.refuse_rlhp_tables(conn, where)  # a second creator may have come first
                schema.metadata.create_all(conn)
                rows = [{"key": k, "value": v} for k, v in sorted(entries.items())]
                conn.execute(schema.meta.insert(), rows)
        except DBAPIError as exc:
            db.close()
            raise database_error(where, exc) from exc
        except BaseException:
            db.close()
            raise
        return cls(db)

    @classmethod
    def open(
        cls,
        location: Location,
        expect: dict[str, str] | None = None,
        writing: bool = False,
        checked: bool = False,
    ) -> LabelStore:
        """Open an existing store, checking that it is an rlhp store this version can read.

        Args:
            location: the SQLite file, or the database's URL.
            expect: meta entries that must match (e.g. the env id), or the open fails.
            writing: the caller will add to it: an SQLite file is checked page by page
                first (``PRAGMA quick_check``), so a damaged file is refused before any
                answer goes into it.
            checked: check it page by page although nothing is added: the caller reports
                on all of it (an export, an evaluation), which the readable part of a
                damaged file would pass off as the whole.
        """
        where = parse_location(location)
        if where.file is not None and not where.file.is_file():
            raise StoreError(f"no label store at {where}; check the run directory path")
        db = Database(where)
        try:
            schema.check_meta(where, schema.read_meta(db), expect or {})
            if writing or checked:
                db.check_integrity()
            db.add_missing_tables(schema.metadata)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self._db.close()

    def meta(self) -> dict[str, str]:
        with self._db.read() as conn:
            return schema.meta_rows(conn)

    # -- segments and pairs ------------------------------------------------------------

    def add_segments(self, segments: list[Segment], true_rewards: np.ndarray | None) -> list[int]:
        """Store segments (and their hidden true rewards ``(N, T)``, if known); returns ids."""
        if not segments:
            return []
        now = time.time()
        rows = []
        for s in segments:
            pixels = {"obs": s.obs} if s.frames is None else {"frames": s.frames}  # frames once
            arrays = {**pixels, "actions": s.actions, "absorbing": s.absorbing}
            if s.states is not None:
                arrays["states"] = s.states
            rows.append(
                {
                    "created_at": now,
                    "env_step": s.env_step,
                    "episode": s.episode,
                    "start": s.start,
                    "length": s.length,
                    "data": to_blob(**arrays),
                }
            )
        with self._db.write() as conn:
            ids = [int(i) for i in conn.scalars(_ADD_SEGMENTS, rows)]
            if true_rewards is not None:
                conn.execute(
                    _truth.insert(),
                    [
                        {"segment_id": sid, "rewards": to_blob(rewards=true_rewards[i])}
                        for i, sid in enumerate(ids)
                    ],
                )
        return ids

    def segment(self, segment_id: int) -> Segment:
        from rlhp.segments import Segment

        with self._db.read() as conn:
            row = conn.execute(_SEGMENT, {"segment": segment_id}).first()
        if row is None:
            raise KeyError(f"no segment {segment_id}")
        arrays = from_blob(row[0])
        states = arrays.get("states")  # recorded for human feedback only
        actions, absorbing = arrays["actions"], arrays["absorbing"]
        if "frames" in arrays:  # stacked pixel observations, each frame stored once
            frames = arrays["frames"]
            return Segment.from_frames(
                frames, frames.shape[0] - absorbing.shape[0] + 1, actions, absorbing,
                env_step=row[1], episode=row[2], start=row[3],
            )  # fmt: skip
        return Segment(arrays["obs"], actions, absorbing, row[1], row[2], row[3], states)

    def segment_ids(self) -> list[int]:
        """Ids of the segments that have hidden true rewards stored."""
        with self._db.read() as conn:
            return [int(i) for i in conn.scalars(_TRUTH_IDS)]

    def true_rewards(self, segment_id: int) -> np.ndarray:
        """Hidden true per-step rewards ``(T,)``: for the oracle and evaluation only."""
        with self._db.read() as conn:
            blob = conn.scalar(_TRUTH, {"segment": segment_id})
        if blob is None:
            raise KeyError(f"no true rewards stored for segment {segment_id}")
        return from_blob(blob)["rewards"]

    def set_clip(self, segment_id: int, relative_path: str) -> None:
        with self._db.write() as conn:
            conn.execute(_SET_CLIP, {"segment": segment_id, "path": relative_path})

    def add_pairs(
        self, pairs: list[tuple[int, int]], env_step: int, round_index: int, selector: str
    ) -> list[int]:
        if not pairs:
            return []
        now = time.time()
        rows = [
            {
                "left_id": left,
                "right_id": right,
                "created_at": now,
                "env_step": env_step,
                "round": round_index,
                "selector": selector,
            }
            for left, right in pairs
        ]
        with self._db.write() as conn:
            return [int(i) for i in conn.scalars(_ADD_PAIRS, rows)]

    def unanswered_pairs(self) -> list[tuple[int, int, int]]:
        """``(pair_id, left_id, right_id)`` of pairs nobody has answered yet, oldest first."""
        with self._db.read() as conn:
            return [(int(p), int(a), int(b)) for p, a, b in conn.execute(_UNANSWERED)]

    # -- answers -----------------------------------------------------------------------

    def record_answers(self, answers: Iterable[Answer]) -> int:
        """Store answers; a repeat of (pair, labeller) is ignored. Returns how many were new.

        Answers to pairs the store does not hold are ignored too. This is the trainer's
        and ``rlhp labels import``'s path (the oracle answers every pair it is asked, an
        import merges answers given elsewhere): no page locks apply to it. People's
        answers go through ``submit_answer``, which enforces them.
        """
        batch = list(answers)
        if not batch:
            return 0
        with self._db.write() as conn:
            known = set(conn.scalars(_PAIR_IDS))
            rows = [answer_row(a) for a in batch if a.pair_id in known]
            if not rows:
                return 0
            return len(conn.execute(self._db.insert_new(_answers), rows).all())

    def answers(self) -> list[Answer]:
        """Every answer in the order given, as given."""
        with self._db.read() as conn:
            rows = conn.execute(_ANSWERS).all()
        return [Answer(int(p), _choice(c), lab, float(t)) for p, c, lab, t in rows]

    def counted_answers(self) -> list[tuple[Answer, Choice]]:
        """Every answer in the order given as training counts it — its newest correction
        (the page's undo) in place of the choice first given — with the choice first given."""
        with self._db.read() as conn:
            rows = conn.execute(_COUNTED_ANSWERS).all()
        return [
            (Answer(int(p), _choice(c), lab, float(t)), _choice(given))
            for p, c, lab, t, given in rows
        ]

    def labelled_pairs(self) -> list[LabelledPair]:
        """Every pair with a trainable answer; several answers average into one target."""
        with self._db.read() as conn:
            rows = conn.execute(_LABELLED).all()
        sums: dict[int, list[float]] = {}
        info: dict[int, tuple[int, int, int]] = {}
        for pid, left, right, step, choice in rows:
            target = TARGETS[_choice(choice)]
            assert target is not None
            sums.setdefault(pid, []).append(target)
            info[pid] = (left, right, step)
        return [
            LabelledPair(pid, info[pid][0], info[pid][1], fmean(t), info[pid][2])
            for pid, t in sums.items()
        ]

    def ties_by_selector(self) -> dict[str, tuple[int, int]]:
        """``{selector: (answers, ties)}``: answers to the pairs each selector chose, and
        how many were 'equal' or 'can't tell' (a corrected answer as corrected)."""
        with self._db.read() as conn:
            rows = conn.execute(_TIES_BY_SELECTOR).all()
        return {str(name): (int(n), int(ties or 0)) for name, n, ties in rows}

    def counts(self) -> StoreCounts:
        with self._db.read() as conn:
            return read_counts(conn)


def _choice(value: Choice | str) -> Choice:
    if value not in TARGETS:
        raise StoreError(f"unknown answer {value!r} in the store")
    return value
