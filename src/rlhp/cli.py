"""The ``rlhp`` command: ``main(argv)`` is what the console script and the tests call.

Errors a user can fix print one line, ``rlhp: error: …``, and exit with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from rlhp.ablations import ABLATIONS, METHODS, apply_variants
from rlhp.cli_labelling import LABELLING_COMMANDS, add_labelling_commands, human_factory
from rlhp.cli_record import RECORD_COMMANDS, add_record_command
from rlhp.config import (
    ORACLE_PRESETS,
    Algo,
    Device,
    RewardSource,
    Selector,
    TrainConfig,
)
from rlhp.errors import RlhpError
from rlhp.store_engine import parse_location

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlhp", description="Deep RL from human preferences.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an agent from preferences (or the env reward)")
    train.add_argument(
        "env_id", nargs="?", help="Gymnasium id, e.g. CartPole-v1 (optional with --resume)"
    )
    train.add_argument("--labels", type=int, help="label budget (default 700)")
    train.add_argument("--timesteps", type=int, help="environment steps (default 100000)")
    train.add_argument("--seed", type=int, help="random seed (default 0)")
    train.add_argument(
        "--algo",
        choices=get_args(Algo),
        help="RL algorithm (default ppo; trpo needs rlhp[contrib])",
    )
    train.add_argument(
        "--query", choices=get_args(Selector), help="query selection (default disagreement)"
    )
    train.add_argument(
        "--reward", choices=get_args(RewardSource), help="preferences (default) or env"
    )
    train.add_argument("--segment-length", type=int, help="steps per segment (default: env preset)")
    train.add_argument(
        "--teacher",
        metavar="PRESET|MODULE:FUNCTION",
        help=f"simulated teacher preset (B-Pref: {', '.join(sorted(ORACLE_PRESETS))}), or a "
        "comparison rule module:function (docs/teaching.md)",
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config field, e.g. reward_model.ensemble_size=5 (repeatable)",
    )
    train.add_argument(
        "--ablation",
        action="append",
        default=[],
        choices=sorted(ABLATIONS),
        help="one of the paper's ablations, applied after every other flag (repeatable): "
        + "; ".join(f"{v.name}: {v.summary}" for v in ABLATIONS.values()),
    )
    train.add_argument(
        "--method",
        action="append",
        default=[],
        choices=sorted(METHODS),
        help="a feedback-efficiency method with its paper's defaults, applied after every "
        "other flag (repeatable): " + "; ".join(f"{v.name}: {v.summary}" for v in METHODS.values()),
    )
    train.add_argument("--out", type=Path, help="run directory (default runs/ENV-TIME)")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR")
    train.add_argument(
        "--store",
        metavar="URL",
        help="put the label store in this database instead of RUN/labels.sqlite, e.g. "
        "postgresql://user@host/db (an empty database; password in PGPASSWORD or ~/.pgpass)",
    )
    train.add_argument(
        "--reward-model",
        metavar="FILE_OR_RUN",
        help="train a fresh agent on a saved reward model, frozen, asking no labels "
        "(a file of rlhp reward fit, or a run directory)",
    )
    train.add_argument(
        "--device", choices=get_args(Device), help="torch device for the agent and r̂ (default cpu)"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="true return of a trained policy")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--episodes", type=int, default=20)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

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
        "--jobs", type=int, default=1, help="local processes at once (without --ray)"
    )
    bench.add_argument(
        "--ray", action="store_true", help="run cells as Ray tasks, one CPU each (rlhp[ray])"
    )
    bench.add_argument(
        "--ray-address",
        help="Ray cluster address (default: RAY_ADDRESS, else a local Ray); implies --ray",
    )

    plot = sub.add_parser("plot", help="PNG of true return and reward accuracy")
    plot.add_argument("run_dir", type=Path)
    plot.add_argument("--out", type=Path, help="PNG path (default RUN_DIR/plot.png)")

    add_labelling_commands(sub, train)  # --feedback, label, labels, reward fit
    add_record_command(sub)  # record: a video of the policy
    return parser


def _train_config(args: argparse.Namespace, base: TrainConfig | None) -> TrainConfig:
    """The config from flags; with ``base`` (resume), unset flags keep the saved values."""
    if base is None:
        if not args.env_id:
            raise RlhpError("train needs an ENV_ID (e.g. CartPole-v1), or --resume DIR")
        from rlhp.rl.presets import task_config

        config = task_config(args.env_id)  # the task's preset; flags and --set override it
    else:
        if args.env_id and args.env_id != base.env_id:
            raise RlhpError(
                f"{args.resume} is a run of {base.env_id}, not {args.env_id}; drop ENV_ID or start a new run with --out"
            )
        config = base
    top = {
        "total_timesteps": args.timesteps,
        "seed": args.seed,
        "reward": args.reward,
        "feedback": args.feedback,
        "device": args.device,
    }
    config = dataclasses.replace(config, **{k: v for k, v in top.items() if v is not None})
    if args.labels is not None:
        config = dataclasses.replace(
            config, schedule=dataclasses.replace(config.schedule, labels=args.labels)
        )
    if args.algo is not None:
        config = dataclasses.replace(
            config, agent=dataclasses.replace(config.agent, algo=args.algo)
        )
    if args.query is not None or args.segment_length is not None:
        queries = config.queries
        if args.query is not None:
            queries = dataclasses.replace(queries, selector=args.query)
        if args.segment_length is not None:
            queries = dataclasses.replace(queries, segment_length=args.segment_length)
        config = dataclasses.replace(config, queries=queries)
    if args.teacher is not None:
        config = _with_teacher(config, args.teacher)
    if getattr(args, "reward_model", None) is not None and base is None:
        config = _with_saved_reward(config, args.reward_model)
    config = config.with_overrides(args.set) if args.set else config
    return apply_variants(config, args.ablation, args.method)


def _with_saved_reward(config: TrainConfig, source: str) -> TrainConfig:
    """``config`` training on the saved reward model at ``source``, with its architecture."""
    from rlhp.reward.saved import model_from, read_saved

    saved = read_saved(source)
    model_from(saved, config.env_id)  # the same env, and weights that fit its spaces
    return dataclasses.replace(
        config, reward_model=saved.config, reward_model_file=str(saved.path.absolute())
    )


def _with_teacher(config: TrainConfig, teacher: str) -> TrainConfig:
    if teacher in ORACLE_PRESETS:
        return dataclasses.replace(config, oracle=ORACLE_PRESETS[teacher], rule=None)
    from rlhp.labellers.rule import load_rule

    load_rule(teacher)  # a bad module:function fails here, before anything is written
    return dataclasses.replace(config, rule=teacher)


def _cmd_train(args: argparse.Namespace) -> int:
    from rlhp.loop.run_dir import RunDir
    from rlhp.loop.runs import resume, train

    progress = not args.no_progress and sys.stderr.isatty()
    if args.resume is not None:
        if args.reward_model is not None:
            raise RlhpError("--reward-model starts a new run; resume without it")
        run = RunDir.open(args.resume)
        if args.store is not None and args.store != str(run.store_location):
            raise RlhpError(
                f"{args.resume} keeps its labels in {parse_location(run.store_location)}; "
                "resume without --store"
            )
        saved = run.config()
        config = _train_config(args, saved)
        factory = human_factory(args) if _people(config) else None
        summary = resume(args.resume, config, progress=progress, labeller_factory=factory)
    else:
        config = _train_config(args, None)
        out = args.out or Path("runs") / f"{config.env_id}-{time.strftime('%Y%m%d-%H%M%S')}"
        factory = human_factory(args) if _people(config) else None
        summary = train(config, out, progress=progress, labeller_factory=factory, store=args.store)
    print(
        f"run {summary.run_dir}: {summary.env_steps} steps, {summary.labels_asked} queries asked, "
        f"{summary.labels_received} labels received, {summary.labels_skipped} skipped, "
        f"recent true return {summary.true_return:.1f}, {summary.wall_time:.0f} s"
    )
    return 0


def _people(config: TrainConfig) -> bool:
    """People answer on a page this process serves (not a rule on it)."""
    return config.feedback == "human" and config.rule is None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rlhp.evaluation import evaluate

    if args.episodes < 1:
        raise RlhpError("--episodes must be >= 1")
    result = evaluate(args.run_dir, episodes=args.episodes)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(
        f"{result.env_id}: true return {result.true_return_mean:.1f} ± {result.true_return_std:.1f} "
        f"over {result.episodes} deterministic episodes"
    )
    print(
        f"trained {result.timesteps} steps on the {result.reward} reward; "
        f"{result.labels_asked} queries asked, {result.labels_used} labels received, "
        f"{result.labels_skipped} skipped"
    )
    if result.return_pearson is not None:
        print(
            f"learned vs true segment returns ({result.segments_compared} segments): "
            f"Pearson {result.return_pearson:.3f}, Spearman {result.return_spearman:.3f}"
        )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from rlhp.bench.grid import Axis, Grid
    from rlhp.bench.harness import run_bench

    try:
        axes = tuple(Axis.parse(text) for text in args.vary)
        for axis in axes:
            axis.check(args.tasks[0])
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
        )
    except RuntimeError as exc:
        raise RlhpError(str(exc)) from exc
    print(result.markdown)
    print(
        f"{len(result.ran)} cells run, {len(result.skipped)} already finished, "
        f"{len(result.failed)} failed; report in {args.report or args.out}"
    )
    for name in result.failed:
        print(f"failed: {name} (see {args.out / 'logs' / name}.log)", file=sys.stderr)
    return 1 if result.failed else 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from rlhp.plotting import plot_run

    print(plot_run(args.run_dir, args.out))
    return 0


COMMANDS = {
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "plot": _cmd_plot,
    **LABELLING_COMMANDS,
    **RECORD_COMMANDS,
    "bench": _cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except (RlhpError, FileNotFoundError) as exc:
        print(f"rlhp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "rlhp: interrupted; labels and the last checkpoint are kept (rlhp train --resume DIR)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
