"""The labelling side of the label store: soft locks, single answers, per-person counts.

``LabelStore`` inherits these; they live here to keep ``store.py`` about opening a
store and the trainer's reads and writes. Each method is one SQL statement or one short
transaction, so several processes (the trainer, one or more servers) can share one store.

``claim_pair`` is one transaction of two statements: ``SELECT`` the best free pair and
lock its row (``FOR UPDATE OF p SKIP LOCKED`` on PostgreSQL; SQLite already holds the
file's write lock), then ``UPDATE … WHERE id = :picked AND <still free> RETURNING``.
Two people never lock one pair at once, on either database. Why two statements on
PostgreSQL (READ COMMITTED): one statement reads every table in one snapshot. A pair
that another labeller claimed *and answered* after that snapshot looks unlocked again
once its row is locked and re-read, while its answer is still invisible, so a single
``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`` hands out answered pairs a
second time (measured: 8 of 300 pairs, 16 threads). The second statement takes a new
snapshot after the row lock, sees that answer, and the claim moves on to the next pair.

The answer-lock rule (``submit_answer``): an answer to a pair that someone else holds an
unexpired lock on, or that already has ``answers_per_pair`` answers from others, is
refused (the API's 409) and nothing is stored. Refused rather than kept-but-flagged
because the lock is the promise made to the person holding it (their answer is wanted,
nobody else's), ``answers_per_pair`` is the human time the run agreed to spend per pair,
and a flagged row would be one more thing every reader of the store must filter; the
page tells the person the answer was not needed. A lock that has expired protects
nobody, so a late answer (a page that was offline) is stored while the pair still wants
answers. The pair's row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write
lock), so two answers racing for the last place cannot both be stored.

A name holds at most ``MAX_LOCKS_PER_NAME`` unexpired locks: a claim beyond that
releases that name's oldest lock. Undo is a row in ``corrections``, never an update.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Double,
    Executable,
    FromClause,
    Integer,
    ScalarSelect,
    Text,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    union,
    update,
)

from rlhp.labellers.base import Answer
from rlhp.store import schema
from rlhp.store.engine import Database


@dataclass(frozen=True)
class ClaimedPair:
    """A pair locked for one labeller until ``lock_expires``; clips are run-relative paths."""

    pair_id: int
    left_clip: str
    right_clip: str
    lock_expires: float
    left_id: int = 0
    """The left segment's id (0 where unknown)."""
    right_id: int = 0


Outcome = Literal["stored", "repeat", "no_pair", "locked", "answered"]
"""What became of an answer: stored; a repeat of this person's earlier answer (kept, not
changed); no such pair; refused, another person holds the pair's lock; refused, the pair
already has the answers it wants."""

Correction = Literal["stored", "no_answer", "too_late"]
"""What became of a correction: stored; this person has no answer to the pair; the
answer is older than the undo window."""

MAX_LOCKS_PER_NAME = 3
"""Locks one name may hold: the pair on screen, the preloaded next one, and one spare
(a reload). A fourth claim releases the name's oldest lock."""

# Statements are built once (bound parameters below); each call only executes them.
_pairs, _answers, _segments = schema.pairs, schema.answers, schema.segments
_corrections, _meta = schema.corrections, schema.meta
_me = bindparam("me", type_=Text)
_now = bindparam("now", type_=Double)
_per_pair = bindparam("per_pair", type_=Integer)


def _answer_count(p: FromClause) -> ScalarSelect[int]:
    return select(func.count()).where(_answers.c.pair_id == p.c.id).scalar_subquery()


def _free(p: FromClause) -> tuple[ColumnElement[bool], ...]:
    """Pair ``p`` may be offered to ``me``: unlocked (or an expired lock, or ``me``'s own),
    not answered by ``me``, fewer than ``per_pair`` answers."""
    return (
        or_(p.c.locked_by.is_(None), p.c.lock_expires < _now, p.c.locked_by == _me),
        ~exists().where(_answers.c.pair_id == p.c.id, _answers.c.labeller == _me),
        _answer_count(p) < _per_pair,
    )


def _pick_statement() -> Executable:
    p = _pairs.alias("p")
    left, right = _segments.alias("l"), _segments.alias("r")
    return (
        select(p.c.id, left.c.clip, right.c.clip, p.c.left_id, p.c.right_id)
        .join(left, left.c.id == p.c.left_id)
        .join(right, right.c.id == p.c.right_id)
        .where(left.c.clip.is_not(None), right.c.clip.is_not(None), *_free(p))
        .where(p.c.id.not_in(bindparam("skip", expanding=True)))
        .order_by(_answer_count(p), p.c.id)
        .limit(1)
        .with_for_update(of=p, skip_locked=True)  # PostgreSQL: lock the row picked
    )


_PICK = _pick_statement()
_CLAIM = (
    update(_pairs)
    .where(_pairs.c.id == bindparam("picked"), *_free(_pairs))
    .values(locked_by=_me, lock_expires=bindparam("expires"))
    .returning(_pairs.c.lock_expires)
)
_PAIR_EXISTS = select(_pairs.c.id).where(_pairs.c.id == bindparam("pair"))
_RELEASE = (
    update(_pairs)
    .where(_pairs.c.id == bindparam("pair"), _pairs.c.locked_by == _me)
    .values(locked_by=None, lock_expires=None)
)
_ANSWERS_BY = select(func.count()).select_from(_answers).where(_answers.c.labeller == _me)
_HELD = (
    select(_pairs.c.id)
    .where(_pairs.c.locked_by == _me, _pairs.c.lock_expires >= _now)
    .order_by(_pairs.c.lock_expires.desc(), _pairs.c.id.desc())
)
_RELEASE_MANY = (
    update(_pairs)
    .where(_pairs.c.id.in_(bindparam("pairs", expanding=True)), _pairs.c.locked_by == _me)
    .values(locked_by=None, lock_expires=None)
)
_LOCKS_OF = (
    select(func.count())
    .select_from(_pairs)
    .where(
        _pairs.c.locked_by.in_(bindparam("names", expanding=True)), _pairs.c.lock_expires >= _now
    )
)
_PAIR_LOCK = (
    select(_pairs.c.locked_by, _pairs.c.lock_expires)
    .where(_pairs.c.id == bindparam("pair"))
    .with_for_update()  # PostgreSQL: answers to one pair are stored one at a time
)
_MY_ANSWER = select(_answers.c.id, _answers.c.answered_at).where(
    _answers.c.pair_id == bindparam("pair"), _answers.c.labeller == _me
)
_OTHERS_ANSWERS = (
    select(func.count())
    .select_from(_answers)
    .where(_answers.c.pair_id == bindparam("pair"), _answers.c.labeller != _me)
)
_ADD_CORRECTION = _corrections.insert()
_META_VALUE = select(_meta.c.value).where(_meta.c.key == bindparam("key"))
_DROP_META = delete(_meta).where(_meta.c.key == bindparam("key"))


def effective_choice() -> ColumnElement[str]:
    """The answer that counts for a row of ``answers``: its newest correction, else itself."""
    newest = (
        select(_corrections.c.choice)
        .where(_corrections.c.answer_id == _answers.c.id)
        .order_by(_corrections.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(newest, _answers.c.choice)


def _waiting_statement() -> Executable:
    left, right = _segments.alias("l"), _segments.alias("r")
    ready = case((left.c.clip.is_not(None) & right.c.clip.is_not(None), 1), else_=0)
    return (
        select(func.count(), func.sum(ready))
        .select_from(_pairs)
        .join(left, left.c.id == _pairs.c.left_id)
        .join(right, right.c.id == _pairs.c.right_id)
        .where(~exists().where(_answers.c.pair_id == _pairs.c.id))
    )


_WAITING = _waiting_statement()
_WITHOUT_CLIP = (
    select(_segments.c.id)
    .where(
        _segments.c.clip.is_(None),
        _segments.c.id.in_(union(select(_pairs.c.left_id), select(_pairs.c.right_id))),
    )
    .order_by(_segments.c.id)
)
_CLIP_OF = select(_segments.c.clip).where(_segments.c.id == bindparam("segment"))
_PAIRS = select(_pairs.c.id, _pairs.c.left_id, _pairs.c.right_id, _pairs.c.env_step).order_by(
    _pairs.c.id
)


def answer_row(answer: Answer) -> dict[str, object]:
    """The ``answers`` row of ``answer`` (its id is the database's)."""
    return {
        "pair_id": answer.pair_id,
        "choice": answer.choice,
        "labeller": answer.labeller,
        "answered_at": answer.answered_at,
    }


class LabellingQueries:
    """What the labelling web app needs: soft locks, single answers, per-person counts."""

    _db: Database

    def claim_pair(
        self,
        labeller: str,
        lock_seconds: float,
        exclude: Iterable[int] = (),
        answers_per_pair: int = 1,
        now: float | None = None,
        max_locks: int = MAX_LOCKS_PER_NAME,
    ) -> ClaimedPair | None:
        """Lock the next pair for ``labeller``; None when no pair with both clips is free.

        A pair is free when nobody holds an unexpired lock on it (or ``labeller`` does),
        ``labeller`` has not answered it, and it has fewer than ``answers_per_pair``
        answers. Fewest answers first, then oldest. The pair's row is locked before it is
        re-checked and claimed, so two people can never lock the same pair at once. A
        name holding ``max_locks`` locks gives up its oldest one.
        """
        now = time.time() if now is None else now
        params = {"me": labeller, "now": now, "per_pair": answers_per_pair}
        skip = {int(i) for i in exclude}
        with self._db.write() as conn:
            while True:
                picked = conn.execute(_PICK, {**params, "skip": sorted(skip)}).first()
                if picked is None:
                    return None
                pair_id, left_clip, right_clip, left_id, right_id = picked
                claim = {**params, "picked": pair_id, "expires": now + lock_seconds}
                expires = conn.scalar(_CLAIM, claim)
                if expires is not None:
                    held = [int(i) for i in conn.scalars(_HELD, params)]
                    stale = [i for i in held if i != pair_id][max_locks - 1 :]
                    if stale:
                        conn.execute(_RELEASE_MANY, {"me": labeller, "pairs": stale})
                    return ClaimedPair(
                        int(pair_id),
                        left_clip,
                        right_clip,
                        float(expires),
                        int(left_id),
                        int(right_id),
                    )
                skip.add(pair_id)  # answered between the two statements (PostgreSQL only)

    def submit_answer(
        self, answer: Answer, answers_per_pair: int = 1, now: float | None = None
    ) -> Outcome:
        """Store one answer under the answer-lock rule (module docstring); release the lock.

        A repeat of this labeller's earlier answer to the pair is ``"repeat"`` (the first
        answer is kept), so a page may resend an answer whose reply it never saw.
        """
        now = time.time() if now is None else now
        me = {"me": answer.labeller, "pair": answer.pair_id}
        with self._db.write() as conn:
            lock = conn.execute(_PAIR_LOCK, me).first()
            if lock is None:
                return "no_pair"
            outcome: Outcome
            if conn.execute(_MY_ANSWER, me).first() is not None:
                outcome = "repeat"
            elif lock[0] not in (None, answer.labeller) and float(lock[1]) >= now:
                return "locked"
            elif int(conn.scalar(_OTHERS_ANSWERS, me) or 0) >= answers_per_pair:
                outcome = "answered"
            else:
                conn.execute(self._db.insert_new(_answers), answer_row(answer))
                outcome = "stored"
            conn.execute(_RELEASE, me)
            return outcome

    def correct_answer(
        self,
        pair_id: int,
        labeller: str,
        choice: str,
        within_seconds: float,
        now: float | None = None,
    ) -> Correction:
        """Record that ``labeller`` changes their answer to ``pair_id`` into ``choice``.

        The answer row is kept as it was; a ``corrections`` row is added and becomes the
        answer that counts (``effective_choice``). Only an answer given less than
        ``within_seconds`` ago may be corrected (the page's undo).
        """
        now = time.time() if now is None else now
        with self._db.write() as conn:
            mine = conn.execute(_MY_ANSWER, {"me": labeller, "pair": pair_id}).first()
            if mine is None:
                return "no_answer"
            if float(mine[1]) < now - within_seconds:
                return "too_late"
            row = {"answer_id": int(mine[0]), "choice": choice, "corrected_at": now}
            conn.execute(_ADD_CORRECTION, row)
            return "stored"

    def locks_held(self, labellers: Iterable[str], now: float | None = None) -> int:
        """Unexpired locks held by any of ``labellers`` (e.g. the names one address used)."""
        names = sorted(set(labellers))
        if not names:
            return 0
        now = time.time() if now is None else now
        with self._db.read() as conn:
            return int(conn.scalar(_LOCKS_OF, {"names": names, "now": now}) or 0)

    def meta_value(self, key: str) -> str | None:
        with self._db.read() as conn:
            return conn.scalar(_META_VALUE, {"key": key})

    def set_meta_value(self, key: str, value: str) -> None:
        """Add or replace one ``meta`` entry (e.g. the instruction the labellers see)."""
        with self._db.write() as conn:
            conn.execute(_DROP_META, {"key": key})
            conn.execute(_meta.insert(), {"key": key, "value": value})

    def answers_by(self, labeller: str) -> int:
        with self._db.read() as conn:
            return int(conn.scalar(_ANSWERS_BY, {"me": labeller}) or 0)

    def waiting_pairs(self) -> tuple[int, int]:
        """Unanswered pairs ``(with both clips ready, still being rendered)``."""
        with self._db.read() as conn:
            waiting, ready = conn.execute(_WAITING).one()
        return int(ready or 0), int(waiting) - int(ready or 0)

    def segments_without_clip(self) -> list[int]:
        """Segments of unanswered pairs whose clip is not rendered yet (e.g. after a restart)."""
        with self._db.read() as conn:
            return [int(i) for i in conn.scalars(_WITHOUT_CLIP)]

    def clip_of(self, segment_id: int) -> str | None:
        with self._db.read() as conn:
            return conn.scalar(_CLIP_OF, {"segment": segment_id})

    def pairs(self) -> list[tuple[int, int, int, int]]:
        """Every pair as ``(pair_id, left_id, right_id, env_step)``, oldest first."""
        with self._db.read() as conn:
            return [(int(a), int(b), int(c), int(d)) for a, b, c, d in conn.execute(_PAIRS)]
