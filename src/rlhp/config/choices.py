"""The closed sets of values some config fields take (``Literal`` types the CLI lists)."""

from typing import Literal

Algo = Literal["ppo", "a2c", "sac", "trpo"]
RewardSource = Literal["preferences", "env"]
Selector = Literal[
    "uniform", "disagreement", "entropy", "kcenter", "kcenter_disagreement", "kcenter_entropy"
]
ScheduleKind = Literal["decay", "constant"]
Feedback = Literal["oracle", "human"]
Device = Literal["cpu", "cuda", "auto"]
RewardTarget = Literal["comparisons", "returns"]
Precision = Literal["float32", "bfloat16", "auto"]
EpisodeEnds = Literal["absorbing", "continue"]
