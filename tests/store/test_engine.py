"""Store locations: paths and URLs, SQLite settings, and one clear line for every bad one."""

import sys
from pathlib import Path

import pytest

from rlhp.errors import StoreError
from rlhp.store.engine import Database, parse_location
from rlhp.store.labels import LabelStore
from tests.postgres import PostgresServer


def test_paths_and_urls_name_the_same_kinds_of_store(tmp_path: Path) -> None:
    path = parse_location(tmp_path / "labels.sqlite")
    assert path.file == tmp_path / "labels.sqlite" and str(path) == str(tmp_path / "labels.sqlite")
    as_text = parse_location(str(tmp_path / "labels.sqlite"))
    assert as_text.file == path.file
    url = parse_location(f"sqlite:///{tmp_path}/labels.sqlite")
    assert url.file == path.file and url.url.get_backend_name() == "sqlite"
    server = parse_location("postgresql://ann@db.lab:5433/run7")
    assert server.file is None and server.url.drivername == "postgresql+psycopg"
    assert (server.url.host, server.url.port, server.url.database) == ("db.lab", 5433, "run7")
    assert str(server) == "postgresql://ann@db.lab:5433/run7"  # as given, driver not added
    assert not server.has_password


def test_passwords_are_masked_in_messages() -> None:
    where = parse_location("postgresql://ann:sekrit@db.lab/run7")
    assert where.has_password and where.url.password == "sekrit"  # kept to connect
    assert "sekrit" not in str(where) and "***" in str(where)
    with pytest.raises(StoreError) as error:
        parse_location("postgresql://ann:sekrit@db.lab:notaport/run7")
    assert "sekrit" not in str(error.value) and "not a store URL" in str(error.value)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("nonsense://db.lab/x", "SQLite or PostgreSQL, not nonsense"),
        ("postgresql://db.lab:port/run7", "not a store URL"),
        ("mysql://ann@db.lab/run7", "SQLite or PostgreSQL, not mysql"),
        ("postgresql://db.lab", "names no database"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("postgresql+nodriver://db.lab/run7", "not a usable store URL"),
    ],
)
def test_bad_locations_say_what_is_wrong_and_how_to_write_one(location: str, says: str) -> None:
    with pytest.raises(StoreError, match=says) as error:
        LabelStore.open(location)
    assert len(str(error.value).splitlines()) == 1


def test_a_missing_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(StoreError, match=r"driver not installed.*pip install 'rlhp\[postgres\]'"):
        LabelStore.create("postgresql://ann@127.0.0.1/run7", {})


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as error:
        LabelStore.open("postgresql://ann:sekrit@127.0.0.1:1/run7")
    message = str(error.value)
    assert message.startswith("cannot use the label store at postgresql://ann:***@127.0.0.1:1/run7")
    assert "server is running" in message and "sekrit" not in message
    assert len(message.splitlines()) == 1


def test_sqlite_connections_use_wal_and_wait_for_other_writers(tmp_path: Path) -> None:
    LabelStore.create(tmp_path / "s.sqlite", {}).close()
    db = Database(parse_location(tmp_path / "s.sqlite"))
    with db.read() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    db.close()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_a_database_without_a_store_is_refused(postgres_server: PostgresServer) -> None:
    empty = postgres_server.new_database()
    with pytest.raises(
        StoreError, match=r"holds no rlhp label store.*database the run was created"
    ):
        LabelStore.open(empty)
    missing = empty.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError, match=r'cannot use the label store.*"no_such_database"'):
        LabelStore.open(missing)


def test_two_runs_share_a_database_in_two_schemas(postgres_server: PostgresServer) -> None:
    import psycopg

    url = postgres_server.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA run7")
        conn.execute("CREATE SCHEMA run8")
    first = LabelStore.create(f"{url}?options=-csearch_path%3Drun7", {"env_id": "A"})
    second = LabelStore.create(f"{url}?options=-csearch_path%3Drun8", {"env_id": "B"})
    assert (first.meta()["env_id"], second.meta()["env_id"]) == ("A", "B")
    with pytest.raises(StoreError, match="already holds rlhp tables"):
        LabelStore.create(f"{url}?options=-csearch_path%3Drun7", {})
    first.close()
    second.close()
