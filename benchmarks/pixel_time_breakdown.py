"""Where a pixel run's time goes: the breakdown of a short ``rlhp train`` under cProfile.

Profile a run, then break it down (main thread; the reward fits run on a worker thread
and are reported from ``time/fit_seconds`` in the run's metrics):

    python -m cProfile -o runs/pref.prof -m rlhp.cli train ALE/Breakout-v5 --labels 100 \\
        --timesteps 8192 --seed 0 --no-progress --out runs/pref \\
        --set reward_model.pretrain_epochs=20 --set schedule.updates=4
    .venv/bin/python benchmarks/pixel_time_breakdown.py runs/pref.prof runs/pref

Columns: the policy update (SB3 ``train``), the environments (``DummyVecEnv.step_wait``),
r̂ inference for the agent (``CnnFrozenReward.__call__``), pre-training
(``PreferenceLoop._pretrain``, its fit included), waiting for background fits
(``Fitter.join``, pre-training's included), the fit thread's total, and agent steps/s
of the RL phase (``learn``).
"""

from __future__ import annotations

import argparse
import json
import pstats
from pathlib import Path

PARTS = {
    "policy update": ("train", ("ppo.py", "a2c.py")),
    "env step": ("step_wait", ("dummy_vec_env.py",)),
    "r̂ inference": ("__call__", ("reward/cnn.py",)),
    "pre-training": ("_pretrain", ("loop/trainer.py",)),
    "fit waits": ("join", ("loop/fitting.py",)),
    "learn": ("learn", ("on_policy_algorithm.py",)),
}


def cumulative(stats: pstats.Stats, name: str, file_ends: tuple[str, ...]) -> float:
    """Seconds spent in (and below) every function ``name`` defined in such a file."""
    table = stats.stats  # type: ignore[attr-defined]
    return sum(
        row[3]
        for (filename, _, func), row in table.items()
        if func == name and filename.endswith(file_ends)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    stats = pstats.Stats(str(args.profile))
    parts = {k: cumulative(stats, *where) for k, where in PARTS.items()}
    rows = [json.loads(line) for line in (args.run_dir / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((args.run_dir / "config.json").read_text())
    fit_thread = sum(r.get("time/fit_seconds") or 0.0 for r in rows)
    steps = rows[-1]["env_step"]
    header = ["run", "total s", *[k for k in parts if k != "learn"], "fit thread s", "RL steps/s"]
    values = [
        f"{config['env_id']} {config['reward']}",
        f"{stats.total_tt:.0f}",  # type: ignore[attr-defined]
        *(f"{v:.1f}" for k, v in parts.items() if k != "learn"),
        f"{fit_thread:.1f}",
        f"{steps / parts['learn']:.0f}",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
