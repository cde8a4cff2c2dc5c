"""A grid's final policies evaluated both ways: deterministic and sampled actions.

For each finished preference cell in OUT whose run directory and env twin's are still
there, evaluates both policies over the same seeds with the policy's most likely
actions and with sampled ones, and prints a markdown table of returns and normalised
scores (the twin of the same task, seed and steps; R_random from OUT's
``random_returns.json``). Training is not repeated; only the evaluation differs.

    .venv/bin/python benchmarks/evaluation_modes.py benchmarks/results/minatar-2026-12-06 \\
        --tasks MinAtar/Breakout-v1 MinAtar/SpaceInvaders-v1 MinAtar/Freeway-v1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlhp.bench.report import normalised_score, twin_key
from rlhp.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    random_returns = json.loads((args.out / "random_returns.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((args.out / "records").glob("*.json"))]
    records = [  # the grid's plain cells that finished
        r for r in records if not r.get("overrides") and not r.get("options") and "error" not in r
    ]
    twins = {twin_key(r): r for r in records if r["reward"] == "env"}
    print("| task | seed | twin det. / sampled | preferences det. / sampled "
          "| normalised det. / sampled |")  # fmt: skip
    print("|---|---|---|---|---|")
    for pref in records:
        twin = twins.get(twin_key(pref))
        if pref["env_id"] not in args.tasks or pref["reward"] == "env" or twin is None:
            continue
        if not all(Path(r["run_dir"]).exists() for r in (pref, twin)):
            continue
        returns = {
            (who, det): evaluate(r["run_dir"], args.episodes, deterministic=det).true_return_mean
            for who, r in (("env", twin), ("pref", pref))
            for det in (True, False)
        }
        base = random_returns[pref["env_id"]]
        scores = [
            normalised_score(returns["pref", d], returns["env", d], base) for d in (True, False)
        ]
        print(
            f"| {pref['env_id']} | {pref['seed']} "
            f"| {returns['env', True]:.2f} / {returns['env', False]:.2f} "
            f"| {returns['pref', True]:.2f} / {returns['pref', False]:.2f} "
            f"| {scores[0]:.2f} / {scores[1]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
