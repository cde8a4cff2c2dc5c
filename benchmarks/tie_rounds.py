"""Per-round tie rate and labels spent, read from run directories' label stores.

For minimum-time tasks (issue 9, defect 7): how many pairs each query round asked, how
many of their answers were ties ('equal' or 'can't tell'), and in total how many of the
budget's labels carried a preference.

    .venv/bin/python benchmarks/tie_rounds.py runs/mintime-before/* runs/bench-mintime/runs/*pref*
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from rlhp.loop.run_dir import store_location
from rlhp.store.labels import LabelStore


def rounds(run: Path) -> list[tuple[int, int, int]]:
    """``(env step, pairs asked, tie answers)`` per query round of one run (a round's
    pairs are asked at one env step)."""
    store = LabelStore.open(store_location(run))
    try:
        round_of = {pid: step for pid, _, _, step in store.pairs()}
        asked: dict[int, int] = defaultdict(int)
        ties: dict[int, int] = defaultdict(int)
        for rnd in round_of.values():
            asked[rnd] += 1
        for answer in store.answers():
            if answer.choice in ("equal", "cant_tell"):
                ties[round_of[answer.pair_id]] += 1
    finally:
        store.close()
    return [(r, asked[r], ties[r]) for r in sorted(asked)]


def _pairs_with_round(store: LabelStore) -> list[tuple[int, int, int, int]]:
    return [(pid, left, right, int(rnd)) for pid, left, right, rnd in store.pair_rounds()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args()
    for run in args.runs:
        per_round = rounds(run)
        asked = sum(a for _, a, _ in per_round)
        tied = sum(t for _, _, t in per_round)
        all_tie_rounds = sum(1 for _, a, t in per_round if a and t == a)
        if args.json:
            print(json.dumps({"run": str(run), "rounds": per_round, "asked": asked, "ties": tied}))
            continue
        print(
            f"{run}: {asked} asked in {len(per_round)} rounds, {tied} ties "
            f"({tied / max(asked, 1):.0%}), {asked - tied} with a preference, "
            f"{all_tie_rounds} rounds all ties"
        )
        print("  asked per round: " + " ".join(str(a) for _, a, _ in per_round))
        print("  ties per round:  " + " ".join(str(t) for _, _, t in per_round))


if __name__ == "__main__":
    main()
