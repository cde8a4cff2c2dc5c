"""Which segment pairs are asked about (SPEC §5) and when labels are asked (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass

from rlhp.config.choices import ScheduleKind, Selector
from rlhp.config.parsing import check


@dataclass(frozen=True)
class QueryConfig:
    """Which segment pairs are asked about (SPEC §5)."""

    selector: Selector = "disagreement"
    """uniform: random pairs; disagreement: highest variance of P̂ across members;
    entropy: highest entropy of the members' mean P̂; kcenter: farthest-first coverage of
    the pairs' features; kcenter_disagreement / kcenter_entropy: k-center among the most
    uncertain half (B-Pref). With one member, disagreement ranks by entropy (warned)."""
    oversampling: int = 10
    """Candidate pairs sampled per pair asked."""
    segment_length: int | None = None
    """Steps per segment; None takes the environment preset."""
    pool_steps: int = 20_000
    """Segments are cut from episodes among this many most recent environment steps…"""
    pool_bytes: int = 2**30
    """…and at most this many bytes of recorded episodes (Atari frames are stored once,
    7 KiB a step: 1 GiB holds ≈ 150k steps)."""
    history_share: float = 0.0
    """Share of the candidate segments cut from earlier episodes, a uniform sample of
    those the pool evicted (``history_episodes`` of them), the rest from the pool: pairs
    then also set what the policy does now beside what it did before, so a behaviour it
    unlearned can still be preferred (0: recent episodes only, the paper's setting)."""
    history_episodes: int = 256
    """Episodes kept of the run's history when ``history_share`` > 0 (at most a quarter
    of ``pool_bytes``). Like the pool, the archive lives in memory: a resumed run starts
    it afresh."""
    ask_ahead: int | None = None
    """Reward updates ahead whose labels are asked now, so people have pairs to answer
    while training goes on; None: 1 with people, 0 with the oracle (it answers at once)."""
    bank_uninformative: bool = True
    """After a round whose answers prefer nothing (all ties or can't-tell), ask only
    ``probe_pairs`` per round until one is informative; the rest stays due and is asked
    once segments differ (``rlhp.loop.coverage``)."""
    probe_pairs: int = 2
    """Pairs asked per round while banking."""
    ending_share: float = 0.5
    """After a round with at least half ties, this share of the next round's pairs sets a
    segment containing an episode end beside one without (0 disables it; none are asked
    with ``agent.episode_ends="continue"``, where ending an episode is worth nothing)."""
    ending_stop_when_tied: bool = False
    """Stop asking episode-end pairs once they tie more often than the selector's own
    pairs (after ``coverage.ENDING_TRIAL`` answers; ``coverage.ending_pairs_inform``). On
    games with a sparse score they mostly tie (Breakout 76 % against 36 %, 40 % of its
    3,300 labels); on MinAtar Asterix turning them off did not help (docs/benchmarks.md),
    so it is off by default."""
    explore_until_informed: bool = True
    """Until some answer prefers a segment (not only ties), the agent is rewarded by
    state entropy (PEBBLE's) instead of the flat r̂, so it moves and reaches states
    the labels can tell apart (minimum-time tasks). Vector observations only: a k-NN
    over raw pixels is costly and says little."""

    def __post_init__(self) -> None:
        check(self.oversampling >= 1, "queries.oversampling must be >= 1")
        check(self.ask_ahead is None or self.ask_ahead >= 0, "queries.ask_ahead must be >= 0")
        check(
            self.segment_length is None or self.segment_length >= 1,
            "queries.segment_length must be >= 1",
        )
        check(self.pool_steps >= 1, "queries.pool_steps must be >= 1")
        check(self.probe_pairs >= 1, "queries.probe_pairs must be >= 1")
        check(0.0 <= self.ending_share <= 1.0, "queries.ending_share must be in [0, 1]")
        check(self.pool_bytes >= 1, "queries.pool_bytes must be >= 1")
        check(0.0 <= self.history_share < 1.0, "queries.history_share must be in [0, 1)")
        check(self.history_episodes >= 1, "queries.history_episodes must be >= 1")


@dataclass(frozen=True)
class ScheduleConfig:
    """The label budget and when labels are asked for (SPEC §6)."""

    labels: int = 700
    """Total number of comparisons asked for during the run."""
    pretrain_fraction: float = 0.25
    """Share of the budget asked about rollouts of the untrained policy before RL starts."""
    kind: ScheduleKind = "decay"
    """decay: label rate ∝ c/(T+c); constant: a constant rate over the run."""
    decay_c: float | None = None
    """c of the decaying rate in env steps; None means a twentieth of the step budget."""
    updates: int = 50
    """Reward-model updates (query rounds) spread over the run after pre-training."""
    wait_for_people: bool = False
    """With people (``--feedback human``, a rule on the page): every reward update waits
    until the labels due by then are answered, as pre-training always does. The agent
    pauses for its labeller: a run's label count no longer depends on how fast the page
    is answered (rule-driven page runs, tests), and a person who answers slowly still
    gets every pair asked into the reward model. False: RL goes on with whatever labels
    exist (the paper's asynchronous design)."""

    def __post_init__(self) -> None:
        check(self.labels >= 1, "the label budget must be >= 1 (use --labels N with N >= 1)")
        check(0.0 <= self.pretrain_fraction <= 1.0, "schedule.pretrain_fraction must be in [0, 1]")
        check(self.decay_c is None or self.decay_c > 0, "schedule.decay_c must be > 0")
        check(self.updates >= 1, "schedule.updates must be >= 1")
