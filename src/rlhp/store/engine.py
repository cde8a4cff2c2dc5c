"""Where a label store lives, and the pool of connections to it.

A store's *location* is one of

* a filesystem path: an SQLite file (the default, ``RUN/labels.sqlite``);
* a SQLAlchemy URL: ``sqlite:///path/to/labels.sqlite`` (the same), or
  ``postgresql://user@host:port/database`` for a database several machines share
  (driver psycopg 3, ``pip install 'rlhp[postgres]'``; ``postgresql+psycopg://`` is the
  same). One database (or schema) holds one run's store.

SQLite connections get WAL, ``synchronous=NORMAL``, foreign keys and a 30 s busy
timeout as they are opened, and every write transaction starts with ``BEGIN IMMEDIATE``:
it takes the file's write lock first (waiting for other processes up to the timeout)
instead of failing to upgrade a read snapshot halfway. Reads run outside transactions,
each statement on the latest data. A process holds one SQLite connection, which its
threads use in turns. PostgreSQL runs each write in its own READ COMMITTED
transaction; ``store.labelling`` says how ``claim_pair`` stays safe there.

Passwords never appear in messages (``str(location)`` masks them); they belong in
``PGPASSWORD`` or ``~/.pgpass`` rather than in the URL.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, create_engine, event, inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError
from sqlalchemy.sql.dml import ReturningInsert

from rlhp.errors import StoreError

Location = str | Path
"""A filesystem path (SQLite) or a SQLAlchemy URL string."""

BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10
POOL_SIZE = 10
"""PostgreSQL connections a process keeps open (and as many more while busy)."""
URL_FORMS = "postgresql://user@host:port/database, sqlite:///path/to/labels.sqlite, or a file path"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def is_url(location: Location) -> bool:
    return isinstance(location, str) and _URL.match(location) is not None


@dataclass(frozen=True)
class StoreLocation:
    """A parsed location: the URL to connect to, and the SQLite file if it is one."""

    url: URL
    file: Path | None
    """The SQLite file; None for a database server."""
    shown: str
    """The location as given, any password masked: for messages."""

    def __str__(self) -> str:
        return self.shown

    @property
    def has_password(self) -> bool:
        return self.url.password is not None


def parse_location(location: Location) -> StoreLocation:
    """A path or URL as a ``StoreLocation``; StoreError names what is wrong with a bad one."""
    if not is_url(location):
        path = Path(location)
        return StoreLocation(URL.create("sqlite+pysqlite", database=str(path)), path, str(path))
    text = str(location)
    try:
        url = make_url(text)
        url.port  # noqa: B018  # a non-numeric port raises only when read
    except (ArgumentError, ValueError) as exc:
        shown = _PASSWORD.sub(r"\1***@", text)
        raise StoreError(f"{shown} is not a store URL ({exc}); use {URL_FORMS}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or "memory" in str(url.query):
            raise StoreError(
                f"{text}: an in-memory SQLite store would vanish with the process; "
                "give a file, e.g. sqlite:///runs/cp/labels.sqlite"
            )
        return StoreLocation(url, Path(url.database), _masked(url))
    if backend != "postgresql":
        raise StoreError(
            f"{_masked(url)}: rlhp keeps labels in SQLite or PostgreSQL, not {backend}; use {URL_FORMS}"
        )
    if not url.database:
        raise StoreError(f"{_masked(url)} names no database; add it: postgresql://host/DATABASE")
    shown = _masked(url)
    if url.drivername == "postgresql":  # SQLAlchemy 2.0 would pick psycopg2
        url = url.set(drivername="postgresql+psycopg")
    return StoreLocation(url, None, shown)


def _masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def problem(where: StoreLocation, exc: DBAPIError) -> str:
    """The database's own words for ``exc``, on one line, without the password."""
    reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    password = where.url.password
    return reason.replace(str(password), "***") if password else reason


def database_error(where: StoreLocation, exc: DBAPIError) -> StoreError:
    """A StoreError for a database that refused us: its reason, and what to check."""
    if where.file is not None:
        hint = "check that the file's directory exists and is writable"
    elif isinstance(exc, OperationalError):
        hint = "check the host, port, user and database name and that the server is running"
    else:
        hint = "check that the user may create and use tables in that database"
    return StoreError(f"cannot use the label store at {where} ({problem(where, exc)}); {hint}")


class Database:
    """The connections to one store; safe to share between threads and processes.

    SQLite: one connection per process, used by one thread at a time (a lock; SQLite
    writes one at a time anyway, and both a connection per thread and threads waiting
    on the pool measured slower under 20 labellers). A method must not call another
    while it holds the connection. PostgreSQL: a pool of ``POOL_SIZE`` connections.
    """

    def __init__(self, where: StoreLocation) -> None:
        self.where = where
        self.sqlite = where.file is not None
        try:
            if self.sqlite:
                self.engine = create_engine(where.url, pool_size=1, max_overflow=0)
                event.listen(self.engine, "connect", _sqlite_setup)
            else:
                self.engine = create_engine(
                    where.url,
                    pool_size=POOL_SIZE,
                    max_overflow=POOL_SIZE,
                    pool_pre_ping=True,  # a trainer outlives a server restart
                    connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "rlhp"},
                )
        except ImportError as exc:
            raise StoreError(
                f"{where.url.get_backend_name()} driver not installed ({exc}): "
                "pip install 'rlhp[postgres]' (psycopg 3; postgresql:// URLs use it)"
            ) from exc
        except ArgumentError as exc:
            raise StoreError(f"{where} is not a usable store URL ({exc}); use {URL_FORMS}") from exc
        self._inserts: dict[str, ReturningInsert[Any]] = {}
        self._turn: AbstractContextManager[Any] = (
            threading.Lock() if self.sqlite else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads; each statement sees the latest committed data."""
        with self._damaged(), self._turn, self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._damaged(), self._turn, self.engine.begin() as conn:
            if self.sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    @contextlib.contextmanager
    def _damaged(self) -> Iterator[None]:
        """A damaged SQLite file, noticed by any statement, becomes one StoreError."""
        try:
            yield
        except DatabaseError as exc:
            if self.sqlite and _is_damage(exc):
                raise damaged(self.where, problem(self.where, exc)) from exc
            raise

    def check_integrity(self) -> None:
        """Refuse a damaged SQLite file (``PRAGMA quick_check``: every page and index,
        without the slower cross-checks of ``integrity_check``); PostgreSQL checks its own."""
        if not self.sqlite:
            return
        with self.read() as conn:
            found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(5)")]
        if found != ["ok"]:
            raise damaged(self.where, "; ".join(found))

    def add_missing_tables(self, metadata: MetaData) -> None:
        """Create the tables a store of an older release lacks (additions within a format)."""
        with self.read() as conn:
            present = set(inspect(conn).get_table_names())
        if set(metadata.tables) - present:
            with self.write() as conn:
                metadata.create_all(conn, checkfirst=True)

    def insert_new(self, table: Table) -> ReturningInsert[Any]:
        """``INSERT … ON CONFLICT DO NOTHING RETURNING id``: rows that would break a unique
        key are skipped, so the rows returned are the new ones."""
        if table.name not in self._inserts:
            dialect_insert = sqlite_insert if self.sqlite else postgresql_insert
            stmt = dialect_insert(table).on_conflict_do_nothing()
            self._inserts[table.name] = stmt.returning(table.c.id)
        return self._inserts[table.name]

    def close(self) -> None:
        self.engine.dispose()


def damaged(where: StoreLocation, detail: str) -> StoreError:
    return StoreError(
        f"{where} is damaged ({detail}); restore it from a backup, or export what is "
        "readable with the sqlite3 shell's .recover"
    )


def _is_damage(exc: DatabaseError) -> bool:
    text = str(exc.orig).lower()
    return "malformed" in text or "corrupt" in text


def _sqlite_setup(dbapi_connection: Any, _record: object) -> None:
    # The driver must not open transactions by itself: Database.write says BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()
