"""The ``rlhp`` subcommands and options for people labelling (issue #3).

``train --feedback human`` and ``rlhp label`` serve the labelling page; ``rlhp labels``
exports and imports answers; ``rlhp reward fit`` fits a reward model offline. ``rlhp.cli.main``
registers them with ``add_labelling_commands`` and dispatches through
``LABELLING_COMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlhp.config import TrainConfig
from rlhp.errors import RlhpError
from rlhp.store.engine import Location, is_url, parse_location

if TYPE_CHECKING:
    from rlhp.labellers.base import Labeller
    from rlhp.labellers.factory import LabellerFactory
    from rlhp.store.labels import LabelStore
    from rlhp.web.app import LabellingSettings

STORE_SOURCE = "a run directory, a labels.sqlite file or a store's database URL"


def add_labelling_commands(sub: Any, train: argparse.ArgumentParser) -> None:
    """``--feedback`` and the page's options on ``train``; the ``label``, ``labels`` and
    ``reward`` subcommands on ``sub`` (the top-level subparsers)."""
    train.add_argument(
        "--feedback",
        choices=("oracle", "human"),
        help="who answers: the synthetic oracle (default) or people in the browser",
    )
    label = sub.add_parser("label", help="serve the labelling page for a run (trained elsewhere)")
    label.add_argument("run_dir", type=Path)
    for p in (train, label):
        _serve_options(p)
    labels = sub.add_parser("labels", help="export or import a run's answers")
    labels_sub = labels.add_subparsers(dest="labels_command", required=True)
    export = labels_sub.add_parser("export", help="every answer, one row each")
    export.add_argument("run_dir", metavar="RUN_DIR", help=STORE_SOURCE)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    imp = labels_sub.add_parser("import", help="add answers from an exported file (idempotent)")
    imp.add_argument("run_dir", metavar="RUN_DIR", help=STORE_SOURCE)
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file's suffix")
    reward = sub.add_parser("reward", help="reward models from saved preferences")
    reward_sub = reward.add_subparsers(dest="reward_command", required=True)
    fit = reward_sub.add_parser("fit", help="fit a reward model offline from saved preferences")
    fit.add_argument("source", help=STORE_SOURCE)
    fit.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    fit.add_argument("--labels", type=Path, help="use the answers in this exported file instead")
    fit.add_argument("--epochs", type=int, default=200, help="passes over the data (default 200)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config field of the model, over the run's or the task preset's, e.g. "
        "reward_model.ensemble_size=5 or atari.minatar_frames=2 (repeatable)",
    )


def _serve_options(parser: argparse.ArgumentParser) -> None:
    from rlhp.web import DEFAULT_HOST, DEFAULT_PORT

    group = parser.add_argument_group("labelling page (--feedback human, rlhp label)")
    group.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; others need --token)",
    )
    group.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    group.add_argument(
        "--token",
        help="access token every request must carry (required off-loopback; at least 8 characters)",
    )
    group.add_argument(
        "--instructions",
        help="the task instruction shown above the clips (saved in the store: rlhp label "
        "shows it too)",
    )
    group.add_argument(
        "--locks-per-address",
        type=int,
        default=24,
        help="pairs the names used from one client address may hold at once (default 24)",
    )
    group.add_argument(
        "--lock-seconds",
        type=float,
        default=120.0,
        help="how long a pair stays reserved for one person (default 120)",
    )


def check_page_options(args: argparse.Namespace) -> None:
    """Refuse a bad ``--lock-seconds`` or ``--locks-per-address``, before anything is made."""
    from rlhp.store.labelling import MAX_LOCKS_PER_NAME

    if not math.isfinite(args.lock_seconds) or args.lock_seconds <= 0:
        raise RlhpError(f"--lock-seconds {args.lock_seconds} must be a number of seconds > 0")
    if args.locks_per_address < MAX_LOCKS_PER_NAME:
        raise RlhpError(
            f"--locks-per-address {args.locks_per_address} must be >= {MAX_LOCKS_PER_NAME} "
            f"(one person holds up to {MAX_LOCKS_PER_NAME} pairs)"
        )


def _settings(args: argparse.Namespace, run_dir: Path, train: bool = False) -> LabellingSettings:
    """The page's settings; ``train``: the trainer's page (its instruction is the default
    one unless given, and is saved in the store for ``rlhp label``)."""
    from rlhp.loop.run_dir import store_location
    from rlhp.web.app import DEFAULT_INSTRUCTIONS, LabellingSettings

    if train and not args.instructions:
        args = argparse.Namespace(**{**vars(args), "instructions": DEFAULT_INSTRUCTIONS})

    check_page_options(args)
    return LabellingSettings(
        run_dir,
        store=store_location(run_dir),
        token=args.token,
        instructions=args.instructions if train else args.instructions or None,
        lock_seconds=args.lock_seconds,
        locks_per_address=args.locks_per_address,
    )


def human_factory(args: argparse.Namespace) -> LabellerFactory:
    """People answer on a page served from a thread of this process."""
    from rlhp.labellers.human import HumanLabeller
    from rlhp.web.app import INSTRUCTIONS_KEY
    from rlhp.web.server import LabellingServer, bind, check_binding

    # before the run directory is made: a bad port, host, token or lock option, or a
    # busy port, is one line and exit 2 with nothing left behind
    check_page_options(args)
    check_binding(args.host, args.token, args.port)
    sock = bind(args.host, args.port)

    def factory(config: TrainConfig, store: LabelStore, run_dir: Path, _rng: object) -> Labeller:
        settings = _settings(args, run_dir, train=True)
        assert settings.instructions is not None
        store.set_meta_value(INSTRUCTIONS_KEY, settings.instructions)
        server = LabellingServer(settings, args.host, args.port, sock=sock).start()
        print(f"rlhp: labelling page at {server.url}", file=sys.stderr, flush=True)
        return HumanLabeller(run_dir, config.env_id, store, where=server.url, on_close=server.stop)

    return factory


def _cmd_label(args: argparse.Namespace) -> int:
    from rlhp.web.server import LabellingServer, check_binding

    check_binding(args.host, args.token, args.port)
    settings = _settings(args, args.run_dir)
    store = parse_location(settings.store or args.run_dir / "labels.sqlite")
    if store.file is not None and not store.file.is_file():
        raise RlhpError(
            f"{args.run_dir} holds no label store; "
            f"start rlhp train --feedback human --out {args.run_dir}"
        )
    server = LabellingServer(settings, args.host, args.port)
    print(
        f"rlhp: labelling page at {server.url} (Ctrl-C stops it; answers are kept)",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    print(
        f"rlhp: labelling page stopped; every stored answer is kept in {store}",
        file=sys.stderr,
    )
    return 0


def _cmd_labels(args: argparse.Namespace) -> int:
    from rlhp.labels_io import export_labels, import_labels
    from rlhp.store.labels import LabelStore

    # both check a damaged file: an import before it writes, an export before it reports
    # the readable part as every answer
    writing = args.labels_command == "import"
    store = LabelStore.open(_store_of(args.run_dir), writing=writing, checked=True)
    try:
        if args.labels_command == "export":
            text = export_labels(store, args.out, args.format)
            if args.out is None:
                sys.stdout.write(text)
            return 0
        read, new = import_labels(store, args.file, args.format)
        print(f"{read} answers read, {new} new, {read - new} already in {args.run_dir}")
        return 0
    finally:
        store.close()


def _cmd_reward(args: argparse.Namespace) -> int:
    from rlhp.labels_io import parse_rows
    from rlhp.reward.offline import fit_offline, save_offline, store_env_id
    from rlhp.rl.presets import task_config
    from rlhp.store.labels import LabelStore

    if args.epochs < 1:
        raise RlhpError("--epochs must be >= 1")
    source = _store_of(args.source)
    run_dir = None if is_url(args.source) else Path(args.source)
    if run_dir is not None and not run_dir.is_dir():
        run_dir = run_dir.parent  # a labels.sqlite file, maybe in a run directory
    rows = None
    if args.labels is not None:
        is_csv = args.labels.suffix == ".csv"
        rows = parse_rows(args.labels.read_text(), "csv" if is_csv else "jsonl")
    store = LabelStore.open(source, checked=True)  # a fit reports on every saved answer
    try:
        if run_dir is not None and (run_dir / "config.json").is_file():  # the run's settings
            task = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        else:  # the model a new run of the task would build
            task = task_config(store_env_id(store))
        task = task.with_overrides(args.set) if args.set else task
        model, l2, result = fit_offline(store, task, args.epochs, args.seed, rows)
    finally:
        store.close()
    save_offline(model, l2, args.out, task)
    print(
        f"{result.comparisons} comparisons, {result.epochs} epochs: "
        f"held-out accuracy {result.val_accuracy:.3f}, agreement {result.agreement:.3f}, "
        f"loss {result.train_loss:.3f} (held-out {result.val_loss:.3f}), "
        f"L2 {result.l2:.3g} after {result.rounds} adaptations; wrote {args.out}"
    )
    return 0


def _store_of(source: str) -> Location:
    """The store a command reads: a URL as given, a run directory's store, or a file."""
    if is_url(source):
        return source
    from rlhp.loop.run_dir import store_location

    return store_location(Path(source)) if Path(source).is_dir() else Path(source)


LABELLING_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "label": _cmd_label,
    "labels": _cmd_labels,
    "reward": _cmd_reward,
}
