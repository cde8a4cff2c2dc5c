"""The synthetic labeller: prefers the segment with more true reward (SPEC §2, §9).

It reads the hidden true rewards of each segment (nothing else in rlhp does, except
evaluation). With the defaults it is a perfect oracle with exact ties answered
"equal"; B-Pref's noise model (rationality β, myopia γ, mistakes, skips, equal-band)
makes it a realistic stand-in for a person.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rlhp.config import OracleConfig
from rlhp.labellers.base import Answer, Choice, Labeller, Query
from rlhp.preferences import preference_probability


@dataclass(frozen=True)
class PolicyReference:
    """What B-Pref's thresholds are fractions of: the current policy's segment returns.

    Attributes:
        mean: average true return of the policy's recent segments (SPEC §9's reference).
        floor: the level a return is measured from, ``min(0, lowest return seen)``: 0 on
            tasks whose rewards are never negative (B-Pref's own definition, exactly), the
            policy's worst segment on tasks whose rewards are (Pendulum, minimum-time
            tasks), where "a fraction of the average return" measured from 0 would put
            every segment below the skip threshold.
    """

    mean: float
    floor: float

    @property
    def scale(self) -> float:
        """Average return above the floor, ≥ 0: what δ_skip and δ_equal multiply."""
        return max(self.mean - self.floor, 0.0)

    @classmethod
    def from_returns(cls, returns: np.ndarray) -> PolicyReference:
        """From the true returns ``(M,)`` of a sample of the policy's segments."""
        if returns.size == 0:
            raise ValueError("a policy reference needs at least one segment return")
        return cls(float(returns.mean()), min(0.0, float(returns.min())))


def oracle_choices(
    true_rewards: np.ndarray,
    config: OracleConfig,
    rng: np.random.Generator,
    reference: PolicyReference | None = None,
) -> list[Choice]:
    """Answer pairs from their true per-step rewards (B-Pref's teacher, SPEC §9).

    Args:
        true_rewards: ``(N, 2, T)`` true rewards of left and right segments.
        config: the noise model; the defaults give a perfect oracle.
        rng: randomness for stochastic, mistaken answers.
        reference: the current policy's segment returns that δ_skip and δ_equal are
            fractions of — never the pairs of this request, so a pair's answer does not
            depend on what it is asked beside. Needed when ``skip`` or ``equal`` > 0.

    Returns:
        N choices, in B-Pref's order: skip (can't tell: the query is spent, no label) →
        equal → (myopic, stochastic) preference → mistake.
    """
    if true_rewards.ndim != 3 or true_rewards.shape[1] != 2:
        raise ValueError(f"expected (N, 2, T) rewards, got {true_rewards.shape}")
    if (config.skip > 0 or config.equal > 0) and reference is None:
        raise ValueError("oracle.skip and oracle.equal need the policy's reference returns")
    n, _, steps = true_rewards.shape
    returns = true_rewards.sum(axis=2)  # (N, 2)
    weights = config.gamma ** np.arange(steps - 1, -1, -1, dtype=np.float64)
    discounted = (true_rewards * weights).sum(axis=2)  # (N, 2)
    logits = torch.as_tensor(discounted[:, 0] - discounted[:, 1])
    if math.isfinite(config.beta) and config.beta > 0:
        p_left = preference_probability(config.beta * logits).numpy()
        left = rng.random(n) < p_left
        tie = np.zeros(n, dtype=bool)
    else:
        left = (logits > 0).numpy()
        tie = (logits == 0).numpy()
    flip = rng.random(n) < config.mistake
    left = np.where(flip, ~left, left)
    skip = np.zeros(n, dtype=bool)
    equal = tie
    if reference is not None:
        if config.skip > 0:
            skip = returns.max(axis=1) - reference.floor < config.skip * reference.scale
        if config.equal > 0:
            equal = tie | (np.abs(returns[:, 0] - returns[:, 1]) < config.equal * reference.scale)
    choices: list[Choice] = []
    for s_, e, lft in zip(skip, equal, left, strict=True):
        choices.append("cant_tell" if s_ else "equal" if e else "left" if lft else "right")
    return choices


class SyntheticOracle(Labeller):
    """A labeller that answers at once from the hidden true rewards."""

    def __init__(
        self,
        true_rewards: Callable[[int], np.ndarray],
        config: OracleConfig,
        rng: np.random.Generator,
        name: str = "oracle",
    ) -> None:
        self.name = name
        self._true_rewards = true_rewards
        self._config = config
        self._rng = rng
        self._pending: list[Answer] = []
        self.reference: PolicyReference | None = None
        """The current policy's segment returns, from the loop before each request."""

    def observe_policy(self, true_returns: np.ndarray) -> None:
        if true_returns.size:
            self.reference = PolicyReference.from_returns(true_returns)

    def request(self, queries: list[Query]) -> None:
        if not queries:
            return
        truth = np.stack(
            [
                np.stack([self._true_rewards(q.left_id), self._true_rewards(q.right_id)])
                for q in queries
            ]
        )
        choices = oracle_choices(truth, self._config, self._rng, self.reference)
        self._pending.extend(
            Answer(q.pair_id, c, self.name) for q, c in zip(queries, choices, strict=True)
        )

    def collect(self) -> list[Answer]:
        answers, self._pending = self._pending, []
        return answers
