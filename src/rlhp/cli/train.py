"""``rlhp train``, ``rlhp evaluate`` and ``rlhp plot``: a run, its score, its curves."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, get_args

from rlhp.ablations import ABLATIONS, METHODS, apply_variants
from rlhp.cli.labelling import human_factory
from rlhp.config import (
    ORACLE_PRESETS,
    Algo,
    Device,
    RewardSource,
    Selector,
    TrainConfig,
)
from rlhp.errors import RlhpError
from rlhp.store.engine import parse_location


def add_train_commands(sub: Any) -> argparse.ArgumentParser:
    """Register ``train``, ``evaluate`` and ``plot`` on the ``rlhp`` subparsers; the
    ``train`` parser (the labelling commands add ``--feedback`` to it)."""
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
    evaluate.add_argument(
        "--actions",
        choices=("auto", "deterministic", "sampled"),
        default="auto",
        help="the policy's most likely actions or sampled ones (auto: sampled on pixel "
        "games, as rl-baselines3-zoo evaluates Atari; deterministic elsewhere)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    plot = sub.add_parser("plot", help="PNG of true return and reward accuracy")
    plot.add_argument("run_dir", type=Path)
    plot.add_argument("--out", type=Path, help="PNG path (default RUN_DIR/plot.png)")

    return train


def train_config(args: argparse.Namespace, base: TrainConfig | None) -> TrainConfig:
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
    return dataclasses.replace(  # the observations it was learned on: the same preprocessing
        config,
        reward_model=saved.config,
        atari=saved.atari,
        reward_model_file=str(saved.path.absolute()),
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
        config = train_config(args, saved)
        factory = human_factory(args) if _people(config) else None
        summary = resume(args.resume, config, progress=progress, labeller_factory=factory)
    else:
        config = train_config(args, None)
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
    deterministic = {"auto": None, "deterministic": True, "sampled": False}[args.actions]
    result = evaluate(args.run_dir, episodes=args.episodes, deterministic=deterministic)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(
        f"{result.env_id}: true return {result.true_return_mean:.1f} ± {result.true_return_std:.1f} "
        f"over {result.episodes} episodes, "
        f"{'deterministic' if result.deterministic else 'sampled'} actions"
    )
    if result.return_terms:
        parts = ", ".join(f"{key} {value:.1f}" for key, value in result.return_terms.items())
        print(f"its parts per episode: {parts}")
    if result.visible_return_mean != result.true_return_mean:
        print(f"without the terms hidden from the oracle: {result.visible_return_mean:.1f}")
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


def _cmd_plot(args: argparse.Namespace) -> int:
    from rlhp.plotting import plot_run

    print(plot_run(args.run_dir, args.out))
    return 0


TRAIN_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "plot": _cmd_plot}
