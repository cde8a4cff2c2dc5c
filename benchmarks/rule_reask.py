"""Re-ask a teaching run's stored pairs with a comparison rule and count changed answers.

The pairs are those with a trainable answer; the rule is taken as the code has it now.

With the same seed, a run under a new rule is a new run only from the first pair the
new rule answers differently; if it answers every stored pair as the old rule did, a
new run repeats the old one (docs/benchmarks.md, issue 12: the eleventh backflip rule
over the tenth's run). So try a rule here first, in seconds, before spending hours:

    .venv/bin/python benchmarks/rule_reask.py runs/teach/backflip10-3m-s0 \\
        rlhp.behaviours.hopper:prefer_backflip
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from rlhp.labellers.rule import ask_rule, load_rule
from rlhp.loop.run_dir import RunDir
from rlhp.store.labels import LabelStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("rule", help="module:function, as --teacher takes it")
    args = parser.parse_args()
    rule = load_rule(args.rule)
    store = LabelStore.open(RunDir.open(args.run).store_location)
    changed: collections.Counter[tuple[str, str]] = collections.Counter()
    first, total = None, 0
    given = {a.pair_id: a.choice for a in store.answers()}
    for pair in store.labelled_pairs():  # pairs with a trainable answer, in order
        total += 1
        answer = given[pair.pair_id]
        new = ask_rule(rule, store.segment(pair.left_id), store.segment(pair.right_id))
        if new != answer:
            changed[(answer, new)] += 1
            first = pair.env_step if first is None else first
    print(json.dumps({
        "pairs": total, "changed": sum(changed.values()), "first_change_at_step": first,
        "changes": {f"{old}->{new}": n for (old, new), n in changed.most_common()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
