"""How far apart the two clips of each labelled pair are under the sum-over-steps backflip
rule (``rlhp.behaviours.flip_reward.flip_sum``): pairs whose sums differ by a few
hundredths of a turn are answered by the rule but carry little a reward model (or a
person) can see (docs/benchmarks.md, issue 12):

    .venv/bin/python benchmarks/flip_sum_margins.py runs/teach/flipland-rule-3m-s0/labels.sqlite
"""

from __future__ import annotations

import sys

import numpy as np

from rlhp.behaviours.flip_reward import flip_sum
from rlhp.store.labels import LabelStore


def main() -> None:
    store = LabelStore.open(sys.argv[1])
    margins = np.array(
        [
            abs(flip_sum(store.segment(p.left_id)) - flip_sum(store.segment(p.right_id)))
            for p in store.labelled_pairs()
        ]
    )
    store.close()
    shares = {f"share_below_{t}": round(float((margins < t).mean()), 3) for t in (0.05, 0.1, 0.25)}
    print({"pairs": len(margins), "median": round(float(np.median(margins)), 3), **shares})


if __name__ == "__main__":
    main()
