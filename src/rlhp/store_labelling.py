"""The labelling side of the label store: soft locks, single answers, per-person counts.

``LabelStore`` inherits these; they live here to keep ``store.py`` about the schema and
the trainer's reads and writes. Each method is one SQL statement (or one short
transaction), so several processes (the trainer, one or more servers) can share one
store file: SQLite serialises the writes, and ``claim_pair`` is a single
``UPDATE … RETURNING`` — two people can never lock the same pair at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from rlhp.labellers.base import Answer


@dataclass(frozen=True)
class ClaimedPair:
    """A pair locked for one labeller until ``lock_expires``; clips are run-relative paths."""

    pair_id: int
    left_clip: str
    right_clip: str
    lock_expires: float


class LabellingQueries:
    """What the labelling web app needs: soft locks, single answers, per-person counts.

    Each method is one SQL statement (or one transaction), so several processes (the
    trainer, one or more servers) can share the store: SQLite serialises the writes.
    """

    _db: sqlite3.Connection
    _lock: threading.RLock

    def claim_pair(
        self,
        labeller: str,
        lock_seconds: float,
        exclude: Iterable[int] = (),
        answers_per_pair: int = 1,
        now: float | None = None,
    ) -> ClaimedPair | None:
        """Lock the next pair for ``labeller``; None when no pair with both clips is free.

        A pair is free when nobody holds an unexpired lock on it (or ``labeller`` does),
        ``labeller`` has not answered it, and it has fewer than ``answers_per_pair``
        answers. Fewest answers first, then oldest. One UPDATE … RETURNING, so two
        people can never lock the same pair at once.
        """
        now = time.time() if now is None else now
        skip = sorted({int(i) for i in exclude})
        marks = ",".join(f":x{i}" for i in range(len(skip))) or "-1"
        sql = f"""
            UPDATE pairs SET locked_by = :me, lock_expires = :expires WHERE id = (
                SELECT p.id FROM pairs p
                JOIN segments l ON l.id = p.left_id JOIN segments r ON r.id = p.right_id
                WHERE l.clip IS NOT NULL AND r.clip IS NOT NULL
                  AND (p.locked_by IS NULL OR p.lock_expires < :now OR p.locked_by = :me)
                  AND NOT EXISTS (
                      SELECT 1 FROM answers a WHERE a.pair_id = p.id AND a.labeller = :me)
                  AND (SELECT COUNT(*) FROM answers a WHERE a.pair_id = p.id) < :per_pair
                  AND p.id NOT IN ({marks})
                ORDER BY (SELECT COUNT(*) FROM answers a WHERE a.pair_id = p.id), p.id
                LIMIT 1)
            RETURNING id, lock_expires"""
        params: dict[str, object] = {
            "me": labeller,
            "expires": now + lock_seconds,
            "now": now,
            "per_pair": answers_per_pair,
            **{f"x{i}": v for i, v in enumerate(skip)},
        }
        with self._lock, self._db as db:
            row = db.execute(sql, params).fetchone()
            if row is None:
                return None
            clips = db.execute(
                "SELECT l.clip, r.clip FROM pairs p JOIN segments l ON l.id = p.left_id "
                "JOIN segments r ON r.id = p.right_id WHERE p.id = ?",
                (row[0],),
            ).fetchone()
        return ClaimedPair(int(row[0]), clips[0], clips[1], float(row[1]))

    def submit_answer(self, answer: Answer) -> bool | None:
        """Store one answer and release the labeller's lock on the pair.

        Returns True if stored, False if this labeller had already answered this pair
        (idempotent repeat; the first answer is kept), None if the pair does not exist.
        """
        with self._lock, self._db as db:
            if db.execute("SELECT 1 FROM pairs WHERE id = ?", (answer.pair_id,)).fetchone() is None:
                return None
            cur = db.execute(
                "INSERT OR IGNORE INTO answers (pair_id, choice, labeller, answered_at) "
                "VALUES (?, ?, ?, ?)",
                (answer.pair_id, answer.choice, answer.labeller, answer.answered_at),
            )
            db.execute(
                "UPDATE pairs SET locked_by = NULL, lock_expires = NULL "
                "WHERE id = ? AND locked_by = ?",
                (answer.pair_id, answer.labeller),
            )
            return cur.rowcount == 1

    def answers_by(self, labeller: str) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM answers WHERE labeller = ?", (labeller,)
                ).fetchone()[0]
            )

    def waiting_pairs(self) -> tuple[int, int]:
        """Unanswered pairs ``(with both clips ready, still being rendered)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT l.clip IS NOT NULL AND r.clip IS NOT NULL, COUNT(*) FROM pairs p "
                "JOIN segments l ON l.id = p.left_id JOIN segments r ON r.id = p.right_id "
                "WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.pair_id = p.id) GROUP BY 1"
            ).fetchall()
        ready = dict(rows)
        return int(ready.get(1, 0)), int(ready.get(0, 0))

    def segments_without_clip(self) -> list[int]:
        """Segments of unanswered pairs whose clip is not rendered yet (e.g. after a restart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.id FROM segments s WHERE s.clip IS NULL AND s.id IN ("
                "SELECT left_id FROM pairs UNION SELECT right_id FROM pairs) ORDER BY s.id"
            ).fetchall()
        return [int(r[0]) for r in rows]

    def clip_of(self, segment_id: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT clip FROM segments WHERE id = ?", (segment_id,)
            ).fetchone()
        return None if row is None else row[0]

    def pairs(self) -> list[tuple[int, int, int, int]]:
        """Every pair as ``(pair_id, left_id, right_id, env_step)``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, left_id, right_id, env_step FROM pairs ORDER BY id")
            return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows.fetchall()]
