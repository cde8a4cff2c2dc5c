"""Issue-2 acceptance grid: preference runs beside their env-reward twins.

For each (task, seed) the env-reward run and the preference run train back to back in
fresh processes (alternating which goes first), so both see the same machine load. Each
finished run is evaluated over 20 deterministic episodes; a random policy is evaluated
the same way for the normalised score. Writes a JSON file of every run and prints a
markdown table of medians and ratios.

    .venv/bin/python benchmarks/acceptance.py --out runs/acceptance            # full grid
    .venv/bin/python benchmarks/acceptance.py --tasks CartPole-v1 --seeds 0    # one cell
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rlhp.bench.runner import random_return

TASKS = {"CartPole-v1": 100, "Pendulum-v1": 500}
"""Task → label budget (the issue's acceptance settings); 100k steps each."""


def run_one(env_id: str, labels: int, seed: int, reward: str, out: Path, timesteps: int) -> dict:
    run_dir = out / f"{env_id}-{reward}-s{seed}"
    cmd = [
        sys.executable,
        "-m",
        "rlhp",
        "train",
        env_id,
        "--seed",
        str(seed),
        "--timesteps",
        str(timesteps),
        "--reward",
        reward,
        "--labels",
        str(labels),
        "--out",
        str(run_dir),
        "--no-progress",
    ]
    if (run_dir / "state.json").exists() and json.loads((run_dir / "state.json").read_text()).get(
        "finished"
    ):
        record = json.loads((run_dir / "benchmark.json").read_text())
        return record
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, _, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, None) and not (run_dir / "state.json").exists():
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read() if proc.stderr else ''}")
    evaluation = json.loads(
        subprocess.run(
            [sys.executable, "-m", "rlhp", "evaluate", str(run_dir), "--episodes", "20", "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    record = {
        "env_id": env_id,
        "seed": seed,
        "reward": reward,
        "labels": labels if reward == "preferences" else 0,
        "wall_s": wall,
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "peak_rss_mib": rusage.ru_maxrss / 1024,
        "true_return": evaluation["true_return_mean"],
        "true_return_std": evaluation["true_return_std"],
        "command": " ".join(["rlhp", *cmd[3:]]),
    }
    (run_dir / "benchmark.json").write_text(json.dumps(record, indent=2))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("runs/acceptance"))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=100_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for env_id in args.tasks:
        for seed in args.seeds:
            order = ["env", "preferences"] if seed % 2 == 0 else ["preferences", "env"]
            for reward in order:
                record = run_one(env_id, TASKS[env_id], seed, reward, args.out, args.timesteps)
                records.append(record)
                print(json.dumps(record), flush=True)
    (args.out / "results.json").write_text(json.dumps(records, indent=2))
    print(
        "\n| task | seed | labels | env-reward return | preference return | normalised score | wall pref/env | peak RSS pref / env (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for env_id in args.tasks:
        r_random = random_return(env_id)
        ratios, scores = [], []
        for seed in args.seeds:
            env_run = next(
                r
                for r in records
                if r["env_id"] == env_id and r["seed"] == seed and r["reward"] == "env"
            )
            pref = next(
                r
                for r in records
                if r["env_id"] == env_id and r["seed"] == seed and r["reward"] == "preferences"
            )
            score = (pref["true_return"] - r_random) / (env_run["true_return"] - r_random)
            ratio = pref["wall_s"] / env_run["wall_s"]
            ratios.append(ratio)
            scores.append(score)
            print(
                f"| {env_id} | {seed} | {pref['labels']} | {env_run['true_return']:.1f} ± {env_run['true_return_std']:.1f} "
                f"| {pref['true_return']:.1f} ± {pref['true_return_std']:.1f} | {score:.2f} | {ratio:.2f} "
                f"| {pref['peak_rss_mib']:.0f} / {env_run['peak_rss_mib']:.0f} |"
            )
        print(
            f"| {env_id} | median | | | | {statistics.median(scores):.2f} | {statistics.median(ratios):.2f} | |"
        )
        print(f"\n{env_id}: random-policy return {r_random:.1f} (20 episodes)\n")


if __name__ == "__main__":
    main()
