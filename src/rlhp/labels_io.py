"""Labels in and out of a run: ``rlhp labels export`` / ``rlhp labels import``.

One row per answer (several people may have answered one pair), with the pair's
segment ids so that rows can be joined with the store's segments:

    pair_id, left_id, right_id, env_step, choice, labeller, answered_at, given

``choice`` is the answer that counts: a person who corrected an answer on the page (undo)
exports the correction, and that is what an import stores and trains on; ``given`` is
the choice first given (the same unless corrected). Files without ``given`` (exports
before it existed) import as before.

JSON Lines (one object per line) or CSV with that header. A CSV text cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) is written with a leading ``'``, and import takes that ``'`` off
again, so names round-trip. Import is all or nothing:
every row is checked (known pair, same segments, valid choice, a labeller name the
labelling page would accept: ``rlhp.store.names``) before any is stored,
and a row already in the store (same pair and labeller) is skipped, so importing the
same file twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from rlhp.errors import RlhpError
from rlhp.labellers.base import CHOICES, Answer
from rlhp.store.labels import LabelStore
from rlhp.store.names import MAX_LABELLER, clean_name

Format = Literal["jsonl", "csv"]
FIELDS = ("pair_id", "left_id", "right_id", "env_step", "choice", "labeller", "answered_at")
"""The columns every file has."""
EXPORTED = (*FIELDS, "given")
"""The columns an export writes."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (CSV injection)."""


def _neutral(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula, made inert with a leading ``'``."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _unneutral(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


@dataclass(frozen=True)
class LabelRow:
    pair_id: int
    left_id: int
    right_id: int
    env_step: int
    choice: str
    labeller: str
    answered_at: float
    given: str | None = None
    """The choice first given, where the file says (``choice`` is the one that counts)."""


def label_rows(store: LabelStore) -> list[LabelRow]:
    pairs = {pid: (left, right, step) for pid, left, right, step in store.pairs()}
    return [
        LabelRow(
            a.pair_id,
            *pairs[a.pair_id][:2],
            pairs[a.pair_id][2],
            a.choice,
            a.labeller,
            a.answered_at,
            given,
        )
        for a, given in store.counted_answers()  # one read: a later answer cannot slip between
    ]


def dump_rows(rows: Iterable[LabelRow], fmt: Format) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(asdict(r)) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORTED, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _neutral(v) for k, v in asdict(r).items()} for r in rows)
    return out.getvalue()


def parse_rows(text: str, fmt: Format) -> list[LabelRow]:
    """Rows from a file's text; a bad row raises ``RlhpError`` naming its line."""
    if fmt == "jsonl":
        raw = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    raw.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise RlhpError(f"line {n}: not JSON ({exc.msg})") from exc
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = set(FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise RlhpError(
                f"CSV header lacks {', '.join(sorted(missing))}; expected {','.join(FIELDS)}"
            )
        raw = [
            (n, {k: _unneutral(v) if isinstance(v, str) else v for k, v in row.items()})
            for n, row in enumerate(reader, 2)
        ]
    return [_row(n, r) for n, r in raw]


def _row(line: int, data: object) -> LabelRow:
    if not isinstance(data, dict):
        raise RlhpError(f"line {line}: expected an object with {', '.join(FIELDS)}")
    try:
        row = LabelRow(
            pair_id=int(data["pair_id"]),
            left_id=int(data["left_id"]),
            right_id=int(data["right_id"]),
            env_step=int(data["env_step"]),
            choice=str(data["choice"]),
            labeller=str(data["labeller"]),
            answered_at=float(data["answered_at"]),
            given=None if data.get("given") in (None, "") else str(data["given"]),
        )
    except KeyError as exc:
        raise RlhpError(f"line {line}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise RlhpError(f"line {line}: {exc}") from exc
    for name, value in (("choice", row.choice), ("given", row.given)):
        if value is not None and value not in CHOICES:
            raise RlhpError(f"line {line}: {name} {value!r} is not one of {', '.join(CHOICES)}")
    try:  # the page's rule, so a file cannot bring in a name the page would refuse
        name = clean_name(row.labeller, MAX_LABELLER)
    except ValueError as exc:
        raise RlhpError(f"line {line}: labeller {_shown(row.labeller)}: {exc}") from exc
    if name != row.labeller:
        raise RlhpError(
            f"line {line}: labeller {_shown(row.labeller)} has spaces the labelling page "
            f"does not keep; write it {name!r}"
        )
    return row


def _shown(name: str) -> str:
    """A name in a one-line message: escaped (``repr``), and cut after 60 characters."""
    return repr(name) if len(name) <= 60 else repr(name[:60]) + "…"


def export_labels(store: LabelStore, out: Path | None, fmt: Format) -> str:
    text = dump_rows(label_rows(store), fmt)
    if out is not None:
        out.write_text(text)
    return text


def import_labels(store: LabelStore, path: Path, fmt: Format | None = None) -> tuple[int, int]:
    """Import answers from ``path`` into ``store``; returns (rows read, answers new)."""
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    rows = parse_rows(path.read_text(), fmt)
    pairs = {pid: (left, right) for pid, left, right, _ in store.pairs()}
    for n, r in enumerate(rows, 1):
        if r.pair_id not in pairs:
            raise RlhpError(f"row {n}: pair {r.pair_id} is not in this run; nothing was imported")
        if pairs[r.pair_id] != (r.left_id, r.right_id):
            raise RlhpError(
                f"row {n}: pair {r.pair_id} compares segments {pairs[r.pair_id]} in this run, "
                f"not ({r.left_id}, {r.right_id}); labels from another run? nothing was imported"
            )
    answers = [Answer(r.pair_id, r.choice, r.labeller, r.answered_at) for r in rows]  # type: ignore[arg-type]  # choice checked in _row
    return len(rows), store.record_answers(answers)
