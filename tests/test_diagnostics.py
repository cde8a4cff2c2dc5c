"""Reward-hacking diagnostic on synthetic metric series with known answers."""

from __future__ import annotations

import math

import pytest

from rlhp.labellers.base import Answer
from rlhp.loop.diagnostics import (
    HackingCheck,
    HackingMonitor,
    check_reward_hacking,
    hacking_warning,
    tie_warning,
)


def test_falling_correlation_with_rising_learned_return_is_flagged() -> None:
    check = check_reward_hacking([0.9, 0.8, 0.7, 0.6], [1.0, 2.0, 3.0, 4.0], window=4)
    assert check.flagged
    assert check.correlation_change == pytest.approx(-0.3)  # slope −0.1 over 3 steps
    assert check.learned_return_change == pytest.approx(3.0)


def test_no_flag_when_learned_return_falls_too_or_correlation_holds() -> None:
    # both fall: the reward got worse, but the agent is not exploiting it
    assert not check_reward_hacking([0.9, 0.8, 0.7, 0.6], [4.0, 3.0, 2.0, 1.0]).flagged
    # correlation noisy but flat: fitted change −0.01, far above −0.15
    assert not check_reward_hacking([0.9, 0.88, 0.9, 0.89], [1.0, 2.0, 3.0, 4.0]).flagged
    # a fall smaller than min_drop: fitted change −0.09
    assert not check_reward_hacking([0.9, 0.87, 0.84, 0.81], [1.0, 2.0, 3.0, 4.0]).flagged


def test_only_the_last_window_of_finite_updates_counts() -> None:
    corr = [0.2, 0.5, 0.9, float("nan"), 0.9, 0.9, 0.9]  # a past rise, then flat
    learned = [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0]
    check = check_reward_hacking(corr, learned, window=4)
    assert not check.flagged and check.correlation_change == pytest.approx(0.0)
    too_short = check_reward_hacking([0.9, 0.1], [1.0, 9.0], window=4)
    assert not too_short.flagged and math.isnan(too_short.correlation_change)


def test_monitor_flags_at_the_update_where_the_trend_appears() -> None:
    # A run that learns well (correlation rising to 0.9), then is exploited: the
    # correlation falls 0.9 → 0.45 while the learned return keeps climbing.
    series = [(0.5, 0.0), (0.7, 1.0), (0.9, 2.0), (0.9, 3.0), (0.75, 4.0), (0.6, 5.0), (0.45, 6.0)]
    monitor = HackingMonitor(window=4, min_drop=0.15)
    flags = [monitor.update(c, r).flagged for c, r in series]
    # windows: [.5 .7 .9 .9] rising; [.7 .9 .9 .75] change +0.045; [.9 .9 .75 .6] change −0.315
    assert flags == [False, False, False, False, False, True, True]
    rows = [
        {"reward/return_correlation": c, "rollout/learned_return": r} for c, r in series[:-1]
    ] + [{"env_step": 5}]  # rows without a reward update are ignored
    resumed = HackingMonitor.from_rows(rows)
    assert resumed.update(*series[-1]).flagged


def test_a_dip_that_leaves_the_reward_well_correlated_is_not_flagged() -> None:
    # a healthy CartPole run early on: the policy improves, the correlation dips but stays high
    assert not check_reward_hacking([0.99, 0.95, 0.88, 0.8], [1.0, 2.0, 3.0, 4.0]).flagged
    assert check_reward_hacking([0.95, 0.85, 0.75, 0.65], [1.0, 2.0, 3.0, 4.0]).flagged


def test_a_rising_true_return_clears_the_flag() -> None:
    # the CartPole run that used to warn: correlation 0.96 → 0.67 over four updates while
    # the learned return rose 64 → 375 — and the true return rose 32 → 98 with it
    corr, learned = [0.952, 0.893, 0.814, 0.668], [64.0, 95.8, 162.1, 259.3]
    assert check_reward_hacking(corr, learned).flagged  # without the true return
    improving = check_reward_hacking(corr, learned, true_returns=[31.9, 39.5, 63.0, 76.6])
    assert not improving.flagged and improving.true_return_change > 0
    # the same trends with the true return flat or falling: the agent exploits r̂
    stuck = check_reward_hacking(corr, learned, true_returns=[80.0, 79.0, 78.0, 76.6])
    assert stuck.flagged and stuck.true_return_change < 0
    # an unknown true return anywhere in the window leaves the judgement to the rest
    unknown = [float("nan"), 39.5, 63.0, 76.6]
    assert check_reward_hacking(corr, learned, true_returns=unknown).flagged


def test_monitor_rebuilds_true_returns_on_resume() -> None:
    rows = [
        {"reward/return_correlation": c, "rollout/learned_return": r, "rollout/true_return": t}
        for c, r, t in [(0.952, 64.0, 31.9), (0.893, 95.8, 39.5), (0.814, 162.1, 63.0)]
    ]
    resumed = HackingMonitor.from_rows(rows)
    assert not resumed.update(0.668, 259.3, 76.6).flagged
    assert HackingMonitor.from_rows(rows).update(0.668, 259.3).flagged  # true return unknown


def test_the_warnings_say_what_happened_and_what_to_do() -> None:
    check = HackingCheck(True, correlation_change=-0.31, learned_return_change=12.5)
    oracle = hacking_warning(check, 4096, 4, taught=False)
    assert oracle.startswith("possible reward hacking at step 4096: corr(learned, true) fell")
    assert "by 0.31 over the last 4 updates" in oracle and "rose by 12.50" in oracle
    assert "raise reward_model.pessimism" in oracle
    assert "the env's own reward" in hacking_warning(check, 1, 4, taught=True)

    # a round is worth a warning only with 5+ answers, half of them without a preference
    def answers(*choices: str) -> list[Answer]:
        return [Answer(i, c, "oracle") for i, c in enumerate(choices)]  # type: ignore[arg-type]

    assert tie_warning(answers(*["equal"] * 4)) is None
    assert tie_warning(answers(*["equal"] * 4, *["left"] * 5)) is None
    half = answers(*["equal"] * 3, "cant_tell", "cant_tell", *["right"] * 5)
    assert tie_warning(half) == (
        "5 of 10 new answers are ties or can't-tell: these labels carry no preference. The "
        "next round pairs segments that end an episode with ones that do not. If this "
        "persists, lengthen segments or check that the task's reward varies."
    )
    # 'can't tell' counts as the round's verdict counts it: a round of only that banks
    assert "banks labels until segments differ" in (tie_warning(answers(*["cant_tell"] * 6)) or "")
    # with agent.episode_ends="continue" (or ending_share 0) no episode-end pairs are asked
    assert tie_warning(half, ending_pairs=False) == (
        "5 of 10 new answers are ties or can't-tell: these labels carry no preference. If "
        "this persists, lengthen segments or check that the task's reward varies."
    )
    assert "The next round banks labels until segments differ." in (
        tie_warning(answers(*["equal"] * 6), ending_pairs=False) or ""
    )
