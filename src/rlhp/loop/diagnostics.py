"""Reward-hacking diagnostic: the learned reward stops tracking the true one while the
agent keeps collecting more of it. And the words of the loop's two warnings (reward
hacking, rounds of ties): the loop logs them, this module says them.

The signature of an agent exploiting r̂ (paper §3.3, "the agent learned to exploit the
reward model"): over the last few reward updates the correlation between learned and
true segment returns falls, while the agent's learned episode return rises and its true
return does not. The trends are least-squares slopes over a window of updates, so one
noisy point does not decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhp.labellers.base import Answer
from rlhp.loop.coverage import no_preference

WINDOW = 4
"""Reward updates the trends are fitted over."""
MIN_CORRELATION_DROP = 0.15
"""Flag only when the fitted correlation falls at least this much across the window."""
MAX_CORRELATION = 0.7
"""…and only when the latest correlation is below this: a reward that still ranks recent
segments this well is not being exploited (early in a healthy CartPole run the
correlation dips from 0.95 to 0.8 while the policy improves)."""


@dataclass(frozen=True)
class HackingCheck:
    """The diagnostic after one reward update."""

    flagged: bool
    """True when the correlation falls by >= ``min_drop`` to below ``MAX_CORRELATION``
    while the learned return rises."""
    correlation_change: float
    """Fitted change of corr(learned, true segment returns) across the window (NaN if too
    few updates)."""
    learned_return_change: float
    """Fitted change of the agent's mean learned episode return across the window."""
    true_return_change: float = float("nan")
    """Fitted change of the agent's mean true episode return (NaN when not known)."""


def _trend(values: Sequence[float]) -> float:
    """Least-squares slope × (len − 1): the fitted change from the first point to the last."""
    x = np.arange(len(values), dtype=np.float64)
    slope = np.polyfit(x, np.asarray(values, dtype=np.float64), 1)[0]
    return float(slope * (len(values) - 1))


def check_reward_hacking(
    correlations: Sequence[float],
    learned_returns: Sequence[float],
    window: int = WINDOW,
    min_drop: float = MIN_CORRELATION_DROP,
    true_returns: Sequence[float] | None = None,
) -> HackingCheck:
    """Judge the last ``window`` updates that have the correlation and learned return finite.

    Args:
        correlations: corr(learned, true segment return) after each reward update.
        learned_returns: the agent's mean learned episode return at the same updates.
        window: updates the trends are fitted over (>= 2).
        min_drop: the smallest fitted fall of the correlation that counts.
        true_returns: the agent's mean true episode return at the same updates; when
            finite across the window, a rising true return clears the flag (the
            correlation also falls when a policy that is getting better makes the recent
            segments alike, as in CartPole once most clips stay upright).
    """
    truths = [float("nan")] * len(correlations) if true_returns is None else true_returns
    if not len(correlations) == len(learned_returns) == len(truths):
        raise ValueError("correlations and returns must have one entry per update")
    if window < 2:
        raise ValueError("window must be >= 2")
    rows = [
        (c, r, t)
        for c, r, t in zip(correlations, learned_returns, truths, strict=True)
        if math.isfinite(c) and math.isfinite(r)
    ][-window:]
    if len(rows) < window:
        return HackingCheck(False, float("nan"), float("nan"))
    corr_change = _trend([c for c, _, _ in rows])
    learned_change = _trend([r for _, r, _ in rows])
    true_change = (
        _trend([t for _, _, t in rows])
        if all(math.isfinite(t) for _, _, t in rows)
        else float("nan")
    )
    flagged = (
        corr_change <= -min_drop
        and learned_change > 0
        and rows[-1][0] < MAX_CORRELATION
        and not true_change > 0
    )
    return HackingCheck(flagged, corr_change, learned_change, true_change)


class HackingMonitor:
    """Keeps the per-update history for ``check_reward_hacking`` (the loop owns one)."""

    def __init__(self, window: int = WINDOW, min_drop: float = MIN_CORRELATION_DROP) -> None:
        self.window = window
        self.min_drop = min_drop
        self.correlations: list[float] = []
        self.learned_returns: list[float] = []
        self.true_returns: list[float] = []

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> HackingMonitor:
        """Rebuild the history from a resumed run's ``metrics.jsonl`` rows."""
        monitor = cls()
        for row in rows:
            if "reward/return_correlation" in row:
                monitor.update(
                    _number(row.get("reward/return_correlation")),
                    _number(row.get("rollout/learned_return")),
                    _number(row.get("rollout/true_return")),
                )
        return monitor

    def update(
        self, correlation: float, learned_return: float, true_return: float = float("nan")
    ) -> HackingCheck:
        self.correlations.append(correlation)
        self.learned_returns.append(learned_return)
        self.true_returns.append(true_return)
        return check_reward_hacking(
            self.correlations,
            self.learned_returns,
            self.window,
            self.min_drop,
            self.true_returns,
        )


def hacking_warning(check: HackingCheck, env_step: int, window: int, taught: bool) -> str:
    """The warning for a flagged ``check``; ``taught``: the labels come from people or a
    comparison rule, who may be teaching what the env's reward does not measure."""
    truth, advice = (
        (
            "the env's own reward",
            "expected if your labellers are teaching something the env's reward "
            "does not measure; otherwise check the clips",
        )
        if taught
        else ("true", "check the clips, add labels or raise reward_model.pessimism")
    )
    return (
        f"possible reward hacking at step {env_step}: corr(learned, {truth}) fell by "
        f"{-check.correlation_change:.2f} over the last {window} updates while the learned "
        f"return rose by {check.learned_return_change:.2f}; {advice}"
    )


TIE_WARNING_FRACTION = 0.5
"""Warn when at least this share of a round's answers are 'equal' or 'can't tell'."""


def tie_warning(answers: Sequence[Answer], ending_pairs: bool = True) -> str | None:
    """The warning for a round whose answers mostly carry no preference ('equal' or
    'can't tell', as the round's verdict counts them), or None; ``ending_pairs``: the
    next round may ask episode-end pairs (``rlhp.loop.coverage``)."""
    ties = no_preference(answers)
    if len(answers) < 5 or ties / len(answers) < TIE_WARNING_FRACTION:
        return None
    remedies = ["pairs segments that end an episode with ones that do not"] if ending_pairs else []
    if ties == len(answers):
        remedies.append("banks labels until segments differ")
    then = f" The next round {' and '.join(remedies)}." if remedies else ""
    return (
        f"{ties} of {len(answers)} new answers are ties or can't-tell: these labels carry no "
        f"preference.{then} If this persists, lengthen segments or check that the task's "
        "reward varies."
    )


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")
