"""Load test of the labelling server: N simulated labellers against one local server.

    python benchmarks/load_test_labelling.py --labellers 20 --seconds 30 --pairs 3000
    python benchmarks/load_test_labelling.py --store postgresql://localhost/empty_db

Builds a throw-away run (fake clip files: the server only streams bytes; the store in
``RUN/labels.sqlite``, or in the empty database ``--store`` names), starts
``rlhp label`` in its own process on 127.0.0.1 (never any other address), and runs N
threads that each loop: ``GET /api/next`` → fetch the left clip → ``POST /api/answer``,
with no think time (far harsher than people, who need 3–5 s per pair). Then checks:

* no answer lost: every answer acknowledged with ``stored: true`` is in the store, and
  the store holds nothing else;
* none duplicated: one row per (pair, labeller);
* no pair offered to two people while locked (lock 120 s ≫ the run, one answer per
  pair wanted, so each pair must be offered to exactly one labeller).

Prints one JSON line: answers, throughput, request latency p50/p99.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

from rlhp.segments import Segment
from rlhp.store.labels import LabelStore


def make_run(
    root: Path, pairs: int, store_url: str | None = None, distinct_clips: bool = True
) -> Path:
    """A run of ``pairs`` pairs with fake clips (one file per segment, or one for all)."""
    run = root / "run"
    run.mkdir()
    if store_url is not None:  # as rlhp train --store records it
        (run / "run.json").write_text(json.dumps({"format_version": 1, "store": store_url}))
    store = LabelStore.create(store_url or run / "labels.sqlite", {"env_id": "CartPole-v1"})
    seg = Segment(np.zeros((10, 4), np.float32), np.zeros(10, np.int64), np.zeros(10, bool))
    ids = store.add_segments([seg] * (2 * pairs), None)
    store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
    (run / "clips").mkdir()
    clip = b"\x00" * 40_000  # about the size of a CartPole clip
    for sid in ids:
        name = f"segment-{sid if distinct_clips else ids[0]:06d}.mp4"
        if distinct_clips or sid == ids[0]:
            (run / "clips" / name).write_bytes(clip)
        store.set_clip(sid, f"clips/{name}")
    store.close()
    (run / "config.json").write_text(json.dumps({"schedule": {"labels": pairs}}))
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(run: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlhp",
            "label",
            str(run),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120  # a loaded 2-core machine: seconds, not 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


class Labeller(threading.Thread):
    def __init__(self, url: str, name: str, until: float, think: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.url, self.name, self.until, self.think = url, name, until, think
        self.offered: list[int] = []
        self.acknowledged: list[int] = []
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def _timed(self, client: httpx.Client, method: str, path: str, **kw: object) -> httpx.Response:
        started = time.perf_counter()
        response = client.request(method, path, **kw)  # type: ignore[arg-type]
        self.latencies.append(time.perf_counter() - started)
        return response

    def run(self) -> None:
        rng = np.random.default_rng(abs(hash(self.name)) % 2**32)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            self._timed(client, "POST", "/api/name", json={"name": self.name})
            while time.monotonic() < self.until:
                body = self._timed(client, "GET", "/api/next").json()
                pair = body.get("pair")
                if pair is None:
                    time.sleep(0.05)
                    continue
                self.offered.append(pair["id"])
                clip = self._timed(client, "GET", pair["left"])
                if clip.status_code != 200:
                    self.errors.append(f"clip {clip.status_code}")
                if self.think:
                    time.sleep(self.think * rng.uniform(0.5, 1.5))
                choice = ("left", "right", "equal", "cant_tell")[int(rng.integers(4))]
                answer = self._timed(
                    client, "POST", "/api/answer", json={"pair_id": pair["id"], "choice": choice}
                )
                if answer.status_code != 200:
                    self.errors.append(f"answer {answer.status_code} {answer.text}")
                elif answer.json()["stored"]:
                    self.acknowledged.append(pair["id"])


def run_load_test(
    labellers: int, seconds: float, pairs: int, think: float = 0.0, store_url: str | None = None
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), pairs, store_url)
        port = free_port()
        server = start_server(run, port)
        try:
            until = time.monotonic() + seconds
            url = f"http://127.0.0.1:{port}"
            threads = [Labeller(url, f"person-{i:02d}", until, think) for i in range(labellers)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(10)
        store = LabelStore.open(store_url or run / "labels.sqlite")
        stored = [(a.pair_id, a.labeller) for a in store.answers()]
        store.close()
    acknowledged = {(p, t.name) for t in threads for p in t.acknowledged}
    offered_by: dict[int, set[str]] = defaultdict(set)
    for t in threads:
        for p in t.offered:
            offered_by[p].add(t.name)
    latencies = np.array([x for t in threads for x in t.latencies])
    result = {
        "store": "postgresql" if store_url else "sqlite",
        "labellers": labellers,
        "think_s": think,
        "seconds": round(elapsed, 1),
        "answers": len(stored),
        "answers_per_s": round(len(stored) / elapsed, 1),
        "requests": int(latencies.size),
        "requests_per_s": round(latencies.size / elapsed, 1),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
        "latency_p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1),
        "lost": len(acknowledged - set(stored)),
        "unacknowledged_extra": len(set(stored) - acknowledged),
        "duplicated": len(stored) - len(set(stored)),
        "pairs_offered_to_two": sum(len(v) > 1 for v in offered_by.values()),
        "errors": sum(len(t.errors) for t in threads),
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labellers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean seconds a person looks at a pair"
    )
    parser.add_argument("--store", metavar="URL", help="an empty database for the store")
    args = parser.parse_args()
    result = run_load_test(args.labellers, args.seconds, args.pairs, args.think, args.store)
    print(json.dumps(result))
    ok = not (
        result["lost"] or result["duplicated"] or result["pairs_offered_to_two"] or result["errors"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
