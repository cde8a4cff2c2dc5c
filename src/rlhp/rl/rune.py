"""RUNE's exploration bonus (Liang et al., "Reward Uncertainty for Exploration in
Preference-based Reinforcement Learning", ICLR 2022, §4, eq. 3-4).

The agent is rewarded by the learned reward plus the ensemble's disagreement about it:

    r_t = r̂(s_t, a_t) + β_t · std_k r̂ₖ(s_t, a_t),    β_t = β₀ · (1 − ρ)^t

so early on the agent seeks the states the reward model is unsure about — the ones whose
labels would teach it most — and later it follows r̂ alone. The std is over the members'
normalised rewards measured from their absorbing-state rewards (the same Δₖ the agent's
reward and ``pessimism`` use), so members that differ only by a constant pay no bonus.
t counts every env step of the run. The bonus is ≥ 0, so it also rewards staying alive a
little where the members disagree; SAC's replay buffer is relabelled with r̂ alone.
"""

from __future__ import annotations

import numpy as np


def rune_beta(step: int | np.ndarray, beta0: float, decay: float) -> np.ndarray:
    """β_t = β₀ · (1 − ρ)^t for env step(s) ``step`` (negative steps count as 0)."""
    return beta0 * (1.0 - decay) ** np.maximum(step, 0)


def disagreement(advantages: np.ndarray) -> np.ndarray:
    """``(n,)`` std over members of ``(K, n)`` rewards (0 with one member: there is no
    disagreement to measure)."""
    if advantages.shape[0] < 2:
        return np.zeros(advantages.shape[1])
    return advantages.std(axis=0, ddof=1)


def rune_bonus(advantages: np.ndarray, steps: np.ndarray, beta0: float, decay: float) -> np.ndarray:
    """``(n,)`` β_t · std over members, from each member's ``(K, n)`` normalised reward
    minus its absorbing-state reward (``FrozenReward.advantages``) at env steps
    ``steps`` ``(n,)``."""
    return rune_beta(steps, beta0, decay) * disagreement(advantages)
