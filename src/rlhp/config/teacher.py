"""The synthetic oracle and B-Pref's simulated teachers (SPEC §9)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rlhp.config.parsing import check


@dataclass(frozen=True)
class OracleConfig:
    """The synthetic labeller, with B-Pref's noise model (SPEC §9). Defaults: a perfect oracle."""

    beta: float = math.inf
    """Rationality: labels sampled from sigmoid(β·ΔR); inf (or <= 0) picks the larger return."""
    gamma: float = 1.0
    """Myopia: step t of H is weighted γ^(H-1-t)."""
    mistake: float = 0.0
    """Probability of flipping the label."""
    skip: float = 0.0
    """δ_skip: skip the query (answer can't-tell: spent, no label) when the better return
    is below this fraction of the current policy's average segment return (measured from
    ``min(0, the policy's worst segment)``; ``rlhp.labellers.oracle.PolicyReference``)."""
    equal: float = 0.0
    """δ_equal: answer 'equal' when |R1-R2| < this fraction of the current policy's
    average segment return (measured as for ``skip``)."""
    hidden_terms: tuple[str, ...] | None = None
    """Reward terms of the env's ``info`` that the oracle does not see, because a person
    watching the clip could not (MuJoCo v5: the control cost ``reward_ctrl``, paper §3.1):
    the oracle's reward is the env's reward minus these terms. None takes the task preset
    (``rlhp.rl.presets``); ``[]`` shows the oracle the env's full reward."""

    def __post_init__(self) -> None:
        check(0.0 <= self.mistake <= 1.0, "oracle.mistake must be in [0, 1]")
        check(0.0 < self.gamma <= 1.0, "oracle.gamma must be in (0, 1]")
        check(self.skip >= 0 and self.equal >= 0, "oracle.skip and oracle.equal must be >= 0")


ORACLE_PRESETS: dict[str, OracleConfig] = {
    "oracle": OracleConfig(),
    "stoc": OracleConfig(beta=1.0),
    "mistake": OracleConfig(mistake=0.1),
    "skip": OracleConfig(skip=0.1),
    "equal": OracleConfig(equal=0.1),
    "myopic": OracleConfig(gamma=0.9),
}
"""B-Pref's named simulated teachers (SPEC §9)."""
