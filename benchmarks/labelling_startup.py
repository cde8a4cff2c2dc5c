"""How long ``rlhp label`` takes from launch to its first answered request.

    python benchmarks/labelling_startup.py --runs 5

Builds a throw-away run (``load_test_labelling.make_run``), then launches ``rlhp label``
``--runs`` times on 127.0.0.1, each until ``GET /api/config`` answers, then SIGINT. Prints
one JSON line: wall seconds to the first answer (min / median) and the CPU seconds the
server process used to get there (user + system, from ``wait4``), which a loaded shared
machine inflates far less than wall time. Also whether torch or Stable-Baselines3 were
imported (they must not be: ``import rlhp.web`` stays clear of training code).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test_labelling import free_port, make_run


def startup(run: Path) -> tuple[float, float]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhp", "label", str(run), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.005)
    wall = time.perf_counter() - started
    os.kill(proc.pid, signal.SIGINT)
    _, _, usage = os.wait4(proc.pid, 0)
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    code = "import sys, rlhp.web.server; print('torch' in sys.modules or 'stable_baselines3' in sys.modules)"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), 100)
        walls, cpus = zip(*(startup(run) for _ in range(args.runs)), strict=True)
    result = {
        "runs": args.runs,
        "wall_s_min": round(min(walls), 2),
        "wall_s_median": round(statistics.median(walls), 2),
        "cpu_s_min": round(min(cpus), 2),
        "cpu_s_median": round(statistics.median(cpus), 2),
        "imports_torch_or_sb3": heavy.stdout.strip() == "True",
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
