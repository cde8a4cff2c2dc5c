"""The ``rlhp`` command: ``main(argv)`` is what the console script and the tests call.

Errors a user can fix print one line, ``rlhp: error: …``, and exit with code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rlhp.cli.bench import BENCH_COMMANDS, add_bench_command
from rlhp.cli.labelling import LABELLING_COMMANDS, add_labelling_commands
from rlhp.cli.record import RECORD_COMMANDS, add_record_command
from rlhp.cli.train import TRAIN_COMMANDS, add_train_commands
from rlhp.errors import RlhpError

EXIT_USAGE = 2

COMMANDS = {**TRAIN_COMMANDS, **BENCH_COMMANDS, **LABELLING_COMMANDS, **RECORD_COMMANDS}


def parser() -> argparse.ArgumentParser:
    """The ``rlhp`` argument parser with every subcommand."""
    root = argparse.ArgumentParser(prog="rlhp", description="Deep RL from human preferences.")
    root.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = root.add_subparsers(dest="command", required=True)
    train = add_train_commands(sub)  # train, evaluate, plot
    add_bench_command(sub)
    add_labelling_commands(sub, train)  # --feedback, label, labels, reward fit
    add_record_command(sub)  # record: a video of the policy
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
