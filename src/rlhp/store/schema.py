"""The label store's tables, declared once for every database (SQLAlchemy Core).

The same declaration becomes SQLite DDL (``BLOB``, ``INTEGER PRIMARY KEY`` row ids) or
PostgreSQL DDL (``BYTEA``, ``SERIAL``, ``DOUBLE PRECISION``). Times are seconds since
the epoch as double precision (a 4-byte ``REAL`` on PostgreSQL would round them to
minutes). Format version 1: the tables and columns of the first SQLite-only stores, so
those files open unchanged.

* ``meta``: key → value; ``application`` and ``format_version`` identify a store, the
  trainer adds ``env_id`` and the like.
* ``segments``: one row per stored segment, its arrays as one ``.npz`` blob; ``clip`` is
  the run-relative path of its rendered clip, once there is one.
* ``segment_truth``: hidden true per-step rewards (oracle and evaluation only).
* ``pairs``: queries asked; ``locked_by``/``lock_expires`` is the labelling page's soft lock.
* ``answers``: every answer with who and when; one per (pair, labeller).
* ``corrections``: a person's later change of one of their answers (the page's undo);
  the answer row stays as it was, the newest correction is the answer that counts.
  Added within format 1: ``LabelStore.open`` creates it in stores made before it.

A database is recognised as a store by its ``meta`` rows; ``read_meta`` and
``check_meta`` refuse anything else with a message that says what it is instead.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError

from rlhp.errors import StoreError
from rlhp.store.engine import Database, StoreLocation, database_error, problem

FORMAT_VERSION = 1
APPLICATION = "rlhp-label-store"

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Double, nullable=False),
    Column("env_step", Integer, nullable=False),
    Column("episode", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("length", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("clip", Text),
)

segment_truth = Table(
    "segment_truth",
    metadata,
    Column("segment_id", Integer, ForeignKey("segments.id"), primary_key=True, autoincrement=False),
    Column("rewards", LargeBinary, nullable=False),
)

pairs = Table(
    "pairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("left_id", Integer, ForeignKey("segments.id"), nullable=False),
    Column("right_id", Integer, ForeignKey("segments.id"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("env_step", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("selector", Text, nullable=False),
    Column("locked_by", Text),
    Column("lock_expires", Double),
)

answers = Table(
    "answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair_id", Integer, ForeignKey("pairs.id"), nullable=False),
    Column("choice", Text, nullable=False),
    Column("labeller", Text, nullable=False),
    Column("answered_at", Double, nullable=False),
    CheckConstraint("choice IN ('left', 'right', 'equal', 'cant_tell')", name="answers_choice"),
    UniqueConstraint("pair_id", "labeller", name="answers_pair_labeller"),
)

Index("answers_pair", answers.c.pair_id)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("answer_id", Integer, ForeignKey("answers.id"), nullable=False),
    Column("choice", Text, nullable=False),
    Column("corrected_at", Double, nullable=False),
    CheckConstraint("choice IN ('left', 'right', 'equal', 'cant_tell')", name="corrections_choice"),
)

Index("corrections_answer", corrections.c.answer_id)

TABLES = tuple(metadata.tables)
"""Every table name of a store: a database holding any of them already holds a store."""


def refuse_rlhp_tables(conn: Connection, where: StoreLocation) -> None:
    """Creating a store needs a fresh database: refuse one that holds any rlhp table."""
    found = sorted(set(inspect(conn).get_table_names()) & set(TABLES))
    if found:
        raise StoreError(
            f"{where} already holds rlhp tables ({', '.join(found)}); give each run a fresh "
            "database (CREATE DATABASE …) or schema, or resume the run that made them"
        )


def meta_rows(conn: Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute(select(meta.c.key, meta.c.value))}


def read_meta(db: Database) -> dict[str, str]:
    """The ``meta`` table; StoreError if there is none or the database cannot be read."""
    where = db.where
    try:
        with db.read() as conn:
            if where.file is None and not inspect(conn).has_table("meta"):
                raise StoreError(
                    f"{where} holds no rlhp label store (no table meta); point to the database "
                    "the run was created in (rlhp train --store URL creates a store)"
                )
            return meta_rows(conn)
    except DBAPIError as exc:
        if where.file is None:
            raise database_error(where, exc) from exc
        raise StoreError(
            f"{where} is not a readable rlhp label store ({problem(where, exc)}); "
            "restore it from a backup or point to the right run directory"
        ) from exc


def check_meta(where: StoreLocation, rows: dict[str, str], expect: dict[str, str]) -> None:
    """Refuse a foreign store, one of a newer format, or one whose meta differs from ``expect``."""
    if rows.get("application") != APPLICATION:
        if where.file is None:
            raise StoreError(
                f"{where} holds a table meta but no rlhp label store; "
                "point to the database the run was created in"
            )
        raise StoreError(
            f"{where} is an SQLite file but not an rlhp label store; point to a run's labels.sqlite"
        )
    version = int(rows.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise StoreError(
            f"{where} has store format {version}, newer than this rlhp reads ({FORMAT_VERSION}); upgrade rlhp"
        )
    for key, value in expect.items():
        if rows.get(key) != value:
            raise StoreError(
                f"{where} belongs to {key}={rows.get(key)!r}, not {value!r}; use a run directory of the same {key}"
            )
