"""Running cells: each in its own process, measured with ``os.wait4``; locally or on Ray.

A cell is finished when its run directory's ``state.json`` says ``finished`` and its
``benchmark.json`` record exists, or when ``out/records/CELL.json`` holds its record;
finished cells are never run again, so an interrupted grid continues where it stopped
(an unfinished run resumes from its checkpoint). The records are small (a few KiB:
the measurements and a thinned learning curve) and are all the report reads, so a grid
can continue on another machine, or in a later session, from ``out/records`` and
``out/random_returns.json`` alone: commit them, not the run directories.
On a cluster the output directory must be on storage every node sees.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlhp.atomic import write_json
from rlhp.bench.grid import Cell
from rlhp.bench.worker import EVALUATION_FILE
from rlhp.loop.metrics import read_metrics

log = logging.getLogger(__name__)

RECORD_FILE = "benchmark.json"
RECORDS_DIR = "records"
CURVE_POINTS = 400
"""The most points of a learning curve a record keeps (evenly thinned beyond it)."""
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2
"""Object store of a Ray started by the harness itself (Ray's default takes 30 % of RAM)."""


def run_dir_of(cell: Cell, out: Path) -> Path:
    return out / "runs" / cell.name


def record_file_of(cell: Cell, out: Path) -> Path:
    """Where the cell's record is kept apart from its run directory."""
    return out / RECORDS_DIR / f"{cell.name}.json"


def finished_record(cell: Cell, out: Path) -> dict[str, Any] | None:
    """The cell's record if its run finished and was measured, else None: from its run
    directory, else from ``out/records`` (the run directory may be gone). A run
    directory's record older than ``out/records`` (or than its late return and curve)
    gets them here, from its metrics, and is copied into ``out/records``."""
    run_dir = run_dir_of(cell, out)
    record = _run_dir_record(run_dir)
    if record is None:
        try:
            kept: dict[str, Any] = json.loads(record_file_of(cell, out).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return None if "error" in kept else kept
    if "error" not in record and ("late_return" not in record or "curve" not in record):
        metrics = read_metrics(run_dir)  # a record written before these existed
        record.setdefault("late_return", late_training_return(metrics, cell.timesteps))
        record.setdefault("curve", learning_curve(metrics))
    if "error" not in record and not record_file_of(cell, out).exists():
        write_record(record_file_of(cell, out), record)
    return record


def _run_dir_record(run_dir: Path) -> dict[str, Any] | None:
    state_file, record_file = run_dir / "state.json", run_dir / RECORD_FILE
    if not (state_file.exists() and record_file.exists()):
        return None
    try:
        if not json.loads(state_file.read_text()).get("finished"):
            return None
        record: dict[str, Any] = json.loads(record_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record


def write_record(path: Path, value: dict[str, Any]) -> None:
    """Write a record (JSON) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, value)


def learning_curve(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """What the report draws of a run, thinned to at most ``CURVE_POINTS`` points each:
    the true training return and corr(learned, true segment return) against env steps."""

    def series(key: str) -> tuple[list[float], list[float]]:
        points = [
            (float(r["env_step"]), float(r[key]))
            for r in rows
            if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
        ]
        if len(points) > CURVE_POINTS:
            keep = np.unique(np.linspace(0, len(points) - 1, CURVE_POINTS).round().astype(int))
            points = [points[i] for i in keep]
        return [p[0] for p in points], [p[1] for p in points]

    steps, returns = series("rollout/true_return")
    corr_steps, corr = series("reward/return_correlation")
    return {"env_step": steps, "true_return": returns, "corr_env_step": corr_steps, "corr": corr}


def run_cell(cell: Cell, out: Path | str, episodes: int) -> dict[str, Any]:
    """Train and evaluate ``cell`` in a child process; returns (and saves) its record.

    A failed run gives a record with ``error`` set (the tail of its log) instead of
    raising, so one bad cell does not stop the grid.
    """
    out = Path(out)
    run_dir = run_dir_of(cell, out)
    log_file = out / "logs" / f"{cell.name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    resumed = (run_dir / "run.json").exists()
    command = [
        sys.executable,
        "-m",
        "rlhp.bench.worker",
        str(run_dir),
        json.dumps(cell.to_dict()),
        str(episodes),
    ]
    start = time.perf_counter()
    with log_file.open("a") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    record: dict[str, Any] = {
        **cell.to_dict(),
        "cell": cell.name,
        "run_dir": str(run_dir),
        "resumed": resumed,
        "process_wall_s": time.perf_counter() - start,
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "peak_rss_mib": rusage.ru_maxrss / 1024,  # Linux: KiB
        "exit_code": proc.returncode,
    }
    if proc.returncode != 0 or not (run_dir / EVALUATION_FILE).exists():
        tail = log_file.read_text().splitlines()[-5:]
        record["error"] = " | ".join(tail) or f"exit code {proc.returncode}"
        return record
    evaluation = json.loads((run_dir / EVALUATION_FILE).read_text())
    state = json.loads((run_dir / "state.json").read_text())
    metrics = read_metrics(run_dir)
    record.update(
        **reward_diagnostics(metrics),
        late_return=late_training_return(metrics, cell.timesteps),
        curve=learning_curve(metrics),
        true_return=evaluation["true_return_mean"],
        true_return_std=evaluation["true_return_std"],
        evaluation_episodes=evaluation["episodes"],
        visible_return=evaluation.get("visible_return_mean"),
        evaluation_deterministic=evaluation.get("deterministic", True),
        labels_answered=evaluation["labels_used"],
        env_steps=evaluation["timesteps"],
        return_pearson=evaluation["return_pearson"],
        train_wall_s=float(state.get("wall_time", float("nan"))),
    )
    record.update(provenance())
    write_record(run_dir / RECORD_FILE, record)
    write_record(record_file_of(cell, out), record)
    return record


def provenance() -> dict[str, Any]:
    """When, from what code and on what machine a record was measured: the UTC time it
    finished, rlhp's git commit (and whether the rlhp package's files differ from it)
    when rlhp runs from a checkout, the machine's cores and its 1-minute load average (a
    wall ratio measured beside other work reads differently from one on idle cores)."""
    here = Path(__file__).resolve().parents[1]  # the rlhp package: the code a run runs

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".") if commit else None
    return {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "uncommitted_changes": None if status is None else bool(status),
        "cpu_count": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
    }


def reward_diagnostics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The reward model at the end of a run, how often hacking was flagged, and how long
    the agent waited for fits to finish (seconds, over the run)."""
    fits = [r for r in rows if r.get("reward/val_accuracy") is not None]
    last = fits[-1] if fits else {}
    return {
        "final_val_accuracy": last.get("reward/val_accuracy"),
        "final_return_correlation": last.get("reward/return_correlation"),
        "reward_hacking_flags": sum(int(r.get("diagnostics/reward_hacking") or 0) for r in rows),
        "fit_wait_s": sum(float(r.get("time/fit_wait_seconds") or 0.0) for r in rows),
    }


LATE_SHARE = 0.1
"""The share of training at the end whose episode returns ``late_training_return`` averages."""


def late_training_return(rows: list[dict[str, Any]], timesteps: int) -> float | None:
    """Mean true episode return while training over the last ``LATE_SHARE`` of the steps.

    The mean of the ``rollout/true_return`` rows (each a mean over the latest episodes of
    the stochastic policy) logged at or after step (1 − LATE_SHARE) × ``timesteps``: the
    end of the learning curve, which moves less from seed to seed than one deterministic
    evaluation of the final checkpoint. None if no such row has a return.
    """
    start = (1 - LATE_SHARE) * timesteps
    late = [
        float(r["rollout/true_return"])
        for r in rows
        if r.get("env_step", -1) >= start
        and isinstance(r.get("rollout/true_return"), (int, float))
        and math.isfinite(r["rollout/true_return"])
    ]
    return statistics.fmean(late) if late else None


def run_local(cells: list[Cell], out: Path, episodes: int, jobs: int = 1) -> list[dict[str, Any]]:
    """Run cells as local processes, ``jobs`` at a time; records in completion order."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_cell, cell, out, episodes) for cell in cells]
        return [f.result() for f in futures]


def run_ray(
    cells: list[Cell], out: Path, episodes: int, address: str | None = None
) -> list[dict[str, Any]]:
    """Run cells as Ray tasks of one CPU each.

    ``address`` None starts Ray locally, unless ``RAY_ADDRESS`` names a cluster
    (``ray.init`` reads it); the same command then runs on the cluster.
    """
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--ray needs Ray: pip install 'rlhp[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None and not os.environ.get("RAY_ADDRESS"):
            # a local Ray: cells pass only small records, so a small object store will do
            options["object_store_memory"] = LOCAL_OBJECT_STORE_BYTES
        ray.init(address=address, **options)
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        pending = [task.remote(cell, str(out.resolve()), episodes) for cell in cells]
        return list(ray.get(pending))
    finally:
        if started_here:
            ray.shutdown()


def random_return(env_id: str, episodes: int = 20, seed: int = 10_000) -> float:
    """Mean return of uniformly random actions: the zero of the normalised score."""
    from rlhp.config import AtariConfig
    from rlhp.rl.atari import is_pixel_env, make_pixel_env

    env = make_pixel_env(env_id, AtariConfig()) if is_pixel_env(env_id) else gym.make(env_id)
    env.action_space.seed(seed)
    totals = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        totals.append(total)
    env.close()
    return float(np.mean(totals))
