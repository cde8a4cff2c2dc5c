"""Soak test: simulated labellers on two servers sharing one PostgreSQL store, one server
killed (SIGKILL) and restarted every few minutes.

    python benchmarks/soak_labelling.py --seconds 1800 --labellers 20 --kill-every 300

Starts its own PostgreSQL (Debian's binaries, as the tests do; or ``--store URL`` of an
empty database), builds a run whose store lives there, and runs two ``rlhp label``
processes on 127.0.0.1. Each simulated labeller behaves like the page: it claims a pair,
fetches its clip, looks at it for a while (``--think`` seconds, uniform), answers, and
keeps an answer that got no reply and sends it again (the page's queue) until the server
replies — on its own server, or on the other one if its own is still down. Every
``--kill-every`` seconds one server (alternately) gets SIGKILL mid-stream and is
restarted ``--down`` seconds later. A rogue thread meanwhile answers pairs that were just
offered to other people (the lock must refuse it). Then checks:

* lost: an answer the labeller gave (and was not told "not needed", 409) missing from
  the store; extra: a stored answer no labeller gave; duplicated: two rows for one
  (pair, labeller), or a pair with more answers than wanted (one);
* offered while locked: a pair offered to a second person while the first one's lock
  was still valid (server time: ``lock_expires - lock_seconds``) and not answered;
* rogue answers stored: an answer to someone else's locked pair that was accepted.

Prints one JSON line: answers, answers/s, request latency p50/p99 (all requests, and
answers only), kills, retries.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.postgres: the same throw-away PostgreSQL as the tests
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_test_labelling import free_port, make_run  # noqa: E402

from rlhp.store.labels import LabelStore  # noqa: E402

LOCK_SECONDS = 120.0


def start_server(run: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "rlhp", "label", str(run), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lock-seconds", str(LOCK_SECONDS)]
    command += ["--locks-per-address", "1000"]  # every simulated person is on 127.0.0.1
    log = run.parent / f"server-{port}.log"
    with log.open("a") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=2)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")


class Offers:
    """Every offer seen: pair → [(labeller, server time of the offer, lock expiry)]."""

    def __init__(self) -> None:
        self.by_pair: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
        self.recent: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def add(self, pair: int, name: str, expires: float) -> None:
        with self.lock:
            self.by_pair[pair].append((name, expires - LOCK_SECONDS, expires))
            self.recent = [*self.recent[-50:], (pair, name)]


class Labeller(threading.Thread):
    def __init__(
        self, urls: list[str], home: int, name: str, until: float, think: tuple[float, float],
        offers: Offers, seed: int,
    ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.urls, self.home, self.name, self.until = urls, home, name, until
        self.think, self.offers = think, offers
        self.rng = np.random.default_rng(seed)
        self.given: dict[int, str] = {}
        """Answers given and not refused (409): pair → choice."""
        self.refused = 0
        self.retries = 0
        self.latencies: list[float] = []
        self.answer_latencies: list[float] = []
        self.errors: list[str] = []

    def _call(self, method: str, path: str, **kw: object) -> httpx.Response:
        """One request to the home server, else the other; retried until one replies."""
        while True:
            for i in (self.home, 1 - self.home):
                started = time.perf_counter()
                try:
                    with httpx.Client(base_url=self.urls[i], timeout=10) as client:
                        client.post("/api/name", json={"name": self.name})
                        response = client.request(method, path, **kw)  # type: ignore[arg-type]
                except httpx.TransportError:
                    self.retries += 1
                    continue
                self.latencies.append(time.perf_counter() - started)
                return response
            time.sleep(0.5)  # both down (never, by design): wait as the page does

    def run(self) -> None:
        with httpx.Client(base_url=self.urls[self.home], timeout=10) as client:
            client.post("/api/name", json={"name": self.name})
            while time.monotonic() < self.until:
                try:
                    self._one(client)
                except httpx.TransportError:
                    self.retries += 1
                    time.sleep(0.2)  # the server went away between requests; ask again
                except Exception as exc:  # counted and reported
                    self.errors.append(repr(exc))

    def _one(self, client: httpx.Client) -> None:
        started = time.perf_counter()
        body = client.get("/api/next").json()
        self.latencies.append(time.perf_counter() - started)
        pair = body.get("pair")
        if pair is None:
            time.sleep(0.5)
            return
        self.offers.add(pair["id"], self.name, pair["lock_expires"])
        started = time.perf_counter()
        clip = client.get(pair["left"])
        self.latencies.append(time.perf_counter() - started)
        if clip.status_code != 200:
            self.errors.append(f"clip {clip.status_code}")
        time.sleep(float(self.rng.uniform(*self.think)))
        choice = ("left", "right", "equal", "cant_tell")[int(self.rng.integers(4))]
        started = time.perf_counter()
        try:
            reply = client.post("/api/answer", json={"pair_id": pair["id"], "choice": choice})
        except httpx.TransportError:  # the page keeps it and sends it again
            reply = self._call(
                "POST", "/api/answer", json={"pair_id": pair["id"], "choice": choice}
            )
        self.answer_latencies.append(time.perf_counter() - started)
        if reply.status_code == 409:
            self.refused += 1
        elif reply.status_code == 200:
            self.given[pair["id"]] = choice
        else:
            self.errors.append(f"answer {reply.status_code} {reply.text}")


class Rogue(threading.Thread):
    """Answers pairs just offered to someone else: every one must be refused."""

    def __init__(self, urls: list[str], until: float, offers: Offers) -> None:
        super().__init__(daemon=True)
        self.urls, self.until, self.offers = urls, until, offers
        self.attempts = 0
        self.stored: list[int] = []

    def run(self) -> None:
        rng = np.random.default_rng(7)
        while time.monotonic() < self.until:
            time.sleep(0.5)
            with self.offers.lock:
                recent = list(self.offers.recent)
            if not recent:
                continue
            pair, _owner = recent[int(rng.integers(len(recent)))]
            try:
                with httpx.Client(base_url=self.urls[int(rng.integers(2))], timeout=10) as c:
                    c.post("/api/name", json={"name": "rogue"})
                    reply = c.post("/api/answer", json={"pair_id": pair, "choice": "left"})
            except httpx.TransportError:
                continue
            self.attempts += 1
            if reply.status_code == 200 and reply.json().get("stored"):
                self.stored.append(pair)


def _percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values), q)) * 1000, 1) if values else 0.0


def run_soak(
    seconds: float, labellers: int, kill_every: float, down: float, think: tuple[float, float],
    pairs: int, store_url: str | None = None,
) -> dict[str, object]:  # fmt: skip
    pg = None
    if store_url is None:
        from tests.postgres import PostgresServer, missing

        if missing():
            raise SystemExit(f"PostgreSQL is needed: {missing()}")
        pg = PostgresServer.start()
        store_url = pg.new_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return _soak(Path(tmp), seconds, labellers, kill_every, down, think, pairs, store_url)
    finally:
        if pg is not None:
            pg.stop()


def _soak(
    tmp: Path, seconds: float, labellers: int, kill_every: float, down: float,
    think: tuple[float, float], pairs: int, store_url: str,
) -> dict[str, object]:  # fmt: skip
    run = make_run(tmp, pairs, store_url, distinct_clips=False)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers = [start_server(run, p) for p in ports]
    offers = Offers()
    started = time.monotonic()
    until = started + seconds
    people = [
        Labeller(urls, i % 2, f"person-{i:02d}", until, think, offers, seed=i)
        for i in range(labellers)
    ]
    rogue = Rogue(urls, until, offers)
    for t in [*people, rogue]:
        t.start()
    kills, restart_s, failed_starts = 0, [], 0
    next_kill = started + kill_every
    while time.monotonic() < until:
        time.sleep(min(1.0, max(0.0, until - time.monotonic())))
        if time.monotonic() >= next_kill and time.monotonic() < until - down:
            victim = kills % 2
            os.kill(servers[victim].pid, signal.SIGKILL)
            servers[victim].wait(10)
            kills += 1
            time.sleep(down)
            t0 = time.perf_counter()
            for attempt in range(3):  # a loaded machine: try again, and count it
                try:
                    servers[victim] = start_server(run, ports[victim])
                    break
                except RuntimeError:
                    failed_starts += 1
                    if attempt == 2:
                        raise
            restart_s.append(time.perf_counter() - t0)
            next_kill += kill_every
    for t in [*people, rogue]:
        t.join(60)
    elapsed = time.monotonic() - started
    for s in servers:
        s.terminate()
        s.wait(10)
    store = LabelStore.open(store_url)
    stored = [(a.pair_id, a.labeller, a.choice) for a in store.answers()]
    store.close()
    given = {(p, t.name, c) for t in people for p, c in t.given.items()}
    people_rows = [r for r in stored if r[1] != "rogue"]
    per_pair: dict[int, int] = defaultdict(int)
    for p, _, _ in stored:
        per_pair[p] += 1
    offered_while_locked = 0
    for _pair, seen in offers.by_pair.items():
        seen.sort(key=lambda o: o[1])
        for (a, _, a_expires), (b, b_now, _) in itertools.pairwise(seen):
            if a != b and b_now < a_expires:
                offered_while_locked += 1
    latencies = [x for t in people for x in t.latencies]
    answer_latencies = [x for t in people for x in t.answer_latencies]
    return {
        "store": "postgresql",
        "servers": 2,
        "labellers": labellers,
        "think_s": list(think),
        "seconds": round(elapsed, 1),
        "kills": kills,
        "restart_s_max": round(max(restart_s), 2) if restart_s else None,
        "failed_starts": failed_starts,
        "answers": len(people_rows),
        "answers_per_s": round(len(people_rows) / elapsed, 2),
        "requests": len(latencies),
        "latency_p50_ms": _percentile_ms(latencies, 50),
        "latency_p99_ms": _percentile_ms(latencies, 99),
        "answer_p50_ms": _percentile_ms(answer_latencies, 50),
        "answer_p99_ms": _percentile_ms(answer_latencies, 99),
        "answer_max_ms": round(max(answer_latencies) * 1000, 1) if answer_latencies else 0.0,
        "retries": sum(t.retries for t in people),
        "refused_409": sum(t.refused for t in people),
        "lost": len(given - set(people_rows)),
        "extra": len(set(people_rows) - given),
        "duplicated": len(stored)
        - len({(p, lab) for p, lab, _ in stored})
        + sum(n > 1 for n in per_pair.values()),
        "offered_while_locked": offered_while_locked,
        "rogue_attempts": rogue.attempts,
        "rogue_stored": len(rogue.stored),
        "errors": sum(len(t.errors) for t in people),
        "first_errors": [e for t in people for e in t.errors][:5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1800.0)
    parser.add_argument("--labellers", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=300.0)
    parser.add_argument(
        "--down", type=float, default=5.0, help="seconds a killed server stays down"
    )
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--pairs", type=int, default=30_000)
    parser.add_argument("--store", metavar="URL", help="an empty PostgreSQL database")
    args = parser.parse_args()
    result = run_soak(
        args.seconds, args.labellers, args.kill_every, args.down, tuple(args.think), args.pairs,
        args.store,
    )  # fmt: skip
    print(json.dumps(result))
    bad = ("lost", "extra", "duplicated", "offered_while_locked", "rogue_stored", "errors")
    return 1 if any(result[k] for k in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
