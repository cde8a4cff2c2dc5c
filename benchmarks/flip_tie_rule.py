"""``prefer_flip_sum`` with "about the same" at a tenth of a turn instead of a hundredth:
clips whose step scores add up within 0.1 are a tie, as a person watching them would
call them (docs/benchmarks.md, issue 12). Run from the repository root:

    rlhp train rlhp/HopperBackflipReward-v5 --teacher benchmarks.flip_tie_rule:prefer_flip_sum_tie10 \\
        --labels 900 --timesteps 3000000 --seed 0
"""

from __future__ import annotations

from rlhp.behaviours.flip_reward import compare_flip_sums
from rlhp.labellers.base import Choice
from rlhp.segments import Segment

TIE = 0.1
"""Clip sums closer than this (a tenth of a turn) are "about the same"."""


def prefer_flip_sum_tie10(left: Segment, right: Segment) -> Choice:
    return compare_flip_sums(left, right, TIE)
