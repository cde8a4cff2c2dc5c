"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temp cluster, trust auth.

The server listens on 127.0.0.1 at a free port (its socket in the temp directory), with
durability off (fsync, synchronous_commit): nothing of it outlives the session. As root,
``initdb`` refuses to run, so the binaries run as the ``postgres`` user (``runuser``)
over a data directory it owns; otherwise they run as the current user.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL = "install it with `apt-get install postgresql` (or `make postgres`)"


def bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries: Debian's, else ``initdb`` on the PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def missing() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None if it can."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed: pip install -c constraints.txt -e '.[postgres]'"
    binaries = bin_dir()
    if binaries is None or not (binaries / "pg_ctl").exists():
        return f"no PostgreSQL server binaries (initdb, pg_ctl): {INSTALL}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return f"running as root needs the postgres user to run initdb: {INSTALL}"
        if shutil.which("runuser") is None:
            return "running as root needs runuser (util-linux) to run initdb as postgres"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One cluster; ``new_database()`` gives each test (or store) a database of its own."""

    root: Path
    port: int
    binaries: Path
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> PostgresServer:
        binaries = bin_dir()
        assert binaries is not None
        root = Path(tempfile.mkdtemp(prefix="rlhp-pg-"))
        server = cls(root, _free_port(), binaries)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300"
        )
        server._run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t",
                    "60", "-o", options, "start")  # fmt: skip
        return server

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"rlhp_test_{next(self._names)}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.url}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.binaries / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{log}")
