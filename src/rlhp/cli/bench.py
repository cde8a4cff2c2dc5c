"""``rlhp bench``: a grid of runs beside their env-reward twins, resumable, and its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, get_args

from rlhp.config import Algo
from rlhp.errors import RlhpError


def add_bench_command(sub: Any) -> None:
    """Register ``bench`` on the ``rlhp`` subparsers."""
    bench = sub.add_parser(
        "bench",
        help="benchmark grid: tasks × label budgets × seeds × any axes × {preferences, env reward}",
        description="Run every unfinished cell (one process each), then write runs.csv, "
        "summary.csv, summary.md and learning curves into --out. Finished cells are not re-run.",
    )
    bench.add_argument("--tasks", nargs="+", default=["Hopper-v5", "HalfCheetah-v5"])
    bench.add_argument("--labels", nargs="+", type=int, default=[700], help="label budgets")
    bench.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    bench.add_argument("--timesteps", type=int, default=300_000)
    bench.add_argument("--algo", choices=get_args(Algo), default="ppo")
    bench.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config field for every run"
    )
    bench.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="AXIS=V1,V2",
        help="another axis of the grid (repeatable; every combination is a condition): "
        "selector, teacher, ablation, method (none = the full method), segment_length, or "
        "any config key, e.g. reward_model.ensemble_size=1,3 (values with commas: V1;V2)",
    )
    bench.add_argument("--out", type=Path, default=Path("runs/bench"))
    bench.add_argument(
        "--report",
        type=Path,
        help="directory for the report files (default --out); grids sharing --out share cells",
    )
    bench.add_argument("--episodes", type=int, default=20, help="evaluation episodes per run")
    bench.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: report on the cells already finished and name the others",
    )
    bench.add_argument(
        "--jobs", type=int, default=1, help="local processes at once (without --ray)"
    )
    bench.add_argument(
        "--ray", action="store_true", help="run cells as Ray tasks, one CPU each (rlhp[ray])"
    )
    bench.add_argument(
        "--ray-address",
        help="Ray cluster address (default: RAY_ADDRESS, else a local Ray); implies --ray",
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    from rlhp.bench.grid import Axis, Grid
    from rlhp.bench.harness import run_bench

    try:
        axes = tuple(Axis.parse(text) for text in args.vary)
        for axis in axes:
            for task in args.tasks:  # each with its preset: a value may fit one task only
                axis.check(task)
        grid = Grid(
            tasks=tuple(args.tasks),
            labels=tuple(args.labels),
            seeds=tuple(args.seeds),
            timesteps=args.timesteps,
            algo=args.algo,
            overrides=tuple(args.set),
            axes=axes,
        )
    except ValueError as exc:
        raise RlhpError(str(exc)) from exc
    if args.episodes < 1 or args.jobs < 1:
        raise RlhpError("--episodes and --jobs must be >= 1")
    try:
        result = run_bench(
            grid,
            args.out,
            episodes=args.episodes,
            jobs=args.jobs,
            use_ray=args.ray or args.ray_address is not None,
            ray_address=args.ray_address,
            report_dir=args.report,
            run_missing=not args.report_only,
        )
    except (RuntimeError, ValueError) as exc:
        raise RlhpError(str(exc)) from exc
    print(result.markdown)
    print(
        f"{len(result.ran)} cells run, {len(result.skipped)} already finished"
        + (
            f" ({len(result.same)} of them the same run as a cell of another name)"
            if result.same
            else ""
        )
        + f", {len(result.failed)} failed, {len(result.missing)} not run; "
        f"report in {args.report or args.out}"
    )
    for name in result.failed:
        print(f"failed: {name} (see {args.out / 'logs' / name}.log)", file=sys.stderr)
    return 1 if result.failed else 0


BENCH_COMMANDS = {"bench": _cmd_bench}
