"""The synthetic labeller: prefers the segment with more true reward (SPEC §2, §9).

It reads the hidden true rewards of each segment (nothing else in rlhp does, except
evaluation). With the defaults it is a perfect oracle with exact ties answered
"equal"; B-Pref's noise model (rationality β, myopia γ, mistakes, skips, equal-band)
makes it a realistic stand-in for a person.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from rlhp.config import OracleConfig
from rlhp.labellers.base import Answer, Choice, Query
from rlhp.preferences import preference_probability


def oracle_choices(
    true_rewards: np.ndarray, config: OracleConfig, rng: np.random.Generator
) -> list[Choice]:
    """Answer pairs from their true per-step rewards.

    Args:
        true_rewards: ``(N, 2, T)`` true rewards of left and right segments.
        config: the noise model; the defaults give a perfect oracle.
        rng: randomness for stochastic, mistaken answers.

    Returns:
        N choices, in B-Pref's order: skip → equal → (myopic) preference → mistake.
    """
    if true_rewards.ndim != 3 or true_rewards.shape[1] != 2:
        raise ValueError(f"expected (N, 2, T) rewards, got {true_rewards.shape}")
    n, _, steps = true_rewards.shape
    returns = true_rewards.sum(axis=2)  # (N, 2)
    scale = float(np.abs(returns).mean()) if n else 0.0
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
    equal = tie | (np.abs(returns[:, 0] - returns[:, 1]) < config.equal * scale)
    skip = returns.max(axis=1) < config.skip * scale if config.skip > 0 else np.zeros(n, dtype=bool)
    choices: list[Choice] = []
    for s, e, lft in zip(skip, equal, left, strict=True):
        choices.append("cant_tell" if s else "equal" if e else "left" if lft else "right")
    return choices


class SyntheticOracle:
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

    def request(self, queries: list[Query]) -> None:
        if not queries:
            return
        truth = np.stack(
            [
                np.stack([self._true_rewards(q.left_id), self._true_rewards(q.right_id)])
                for q in queries
            ]
        )
        choices = oracle_choices(truth, self._config, self._rng)
        self._pending.extend(
            Answer(q.pair_id, c, self.name) for q, c in zip(queries, choices, strict=True)
        )

    def collect(self) -> list[Answer]:
        answers, self._pending = self._pending, []
        return answers
