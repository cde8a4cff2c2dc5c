"""Rounds that carry no information: bank the budget, ask about episode ends instead.

On a minimum-time task (−1 per step until a goal ends the episode) every clip of a
policy that never reaches the goal has the same return: every answer is a tie, r̂ stays
flat, and the agent feels no pressure to end episodes while the budget drains. Two
task-agnostic remedies, both driven by what the learner can see:

* **Banking.** A round whose answers hold no preference (all 'equal' or 'can't tell')
  says the policy's segments cannot be told apart. The next rounds ask only
  ``queries.probe_pairs`` each until one is informative again; the labels they did not
  ask stay due (the schedule is cumulative), so they are asked as soon as segments
  differ — the budget is spent later, not lost.
* **Episode ends.** After a round in which at least half the answers were ties, a share
  ``queries.ending_share`` of the next round's pairs puts a segment that contains the
  end of a terminated episode beside one that does not. Termination is the one thing
  the learner observes that such clips differ in, and only these labels tell the
  model what ending an episode is worth (the absorbing-state reward, ``rlhp.segments``):
  better than living on a minimum-time task, worse on CartPole. With
  ``queries.ending_stop_when_tied`` they are asked only while they tie less often than
  the other pairs (``ending_pairs_inform``).

* **Exploring until informed.** Until some answer prefers a segment, r̂ is flat and
  the agent's reward is zero everywhere: nothing moves it towards the states that would
  make clips differ (a random Acrobot never swings up in 500 steps). Until then the
  agent is rewarded by PEBBLE's state entropy instead (``queries.explore_until_informed``,
  ``RewardSwapWrapper.seek_information``); the first preference turns r̂ back on.

None of this changes a run whose first round holds a preference (CartPole, Pendulum,
MuJoCo), nor the oracle runs before a round of ties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rlhp.labellers.base import NO_PREFERENCE, Answer
from rlhp.segments import EpisodePool, Segment, cut_segment

TIE_SHARE = 0.5
"""A round with at least this share of ties turns episode-end pairs on for the next."""
ENDING_SELECTOR = "episode_end"
"""What the store records as the selector of an episode-end pair."""
ENDING_TRIAL = 16
"""Episode-end pairs answered before their tie rate may turn them off."""


def round_verdict(answers: Sequence[Answer]) -> tuple[bool, float] | None:
    """``(informative, tie share)`` of one round's answers; None if it had none.

    Informative: at least one answer prefers a segment. Ties: 'equal' and 'can't tell'.
    """
    if not answers:
        return None
    ties = no_preference(answers)
    return ties < len(answers), ties / len(answers)


def no_preference(answers: Sequence[Answer]) -> int:
    """How many answers prefer neither segment ('equal', 'can't tell'): the round's ties,
    as the verdict, the banking and the tie warning count them."""
    return sum(a.choice in NO_PREFERENCE for a in answers)


def ending_pairs_inform(ties_by_selector: Mapping[str, tuple[int, int]]) -> bool:
    """Whether episode-end pairs still tell the learner more than the others do.

    They are asked to break a run of ties; on a game whose score is sparse (Breakout,
    Asterix) a segment that ends the game and one of play without a score are worth the
    same, so those pairs tie more often than the rest: 76 % against 36 % on Breakout,
    where they took 40 % of 3,300 labels, and taught r̂ that dying costs nothing. After
    ``ENDING_TRIAL`` answers they continue only while they tie less often than the
    selector's own pairs (``queries.ending_stop_when_tied``; off by default).

    Args:
        ties_by_selector: ``{selector: (answers, ties)}`` (``LabelStore.ties_by_selector``).
    """
    answered, tied = ties_by_selector.get(ENDING_SELECTOR, (0, 0))
    others = [v for k, v in ties_by_selector.items() if k != ENDING_SELECTOR]
    other_answered = sum(n for n, _ in others)
    if answered < ENDING_TRIAL or other_answered == 0:
        return True
    return tied / answered < sum(t for _, t in others) / other_answered


def ending_segments(
    pool: EpisodePool, count: int, length: int, rng: np.random.Generator
) -> tuple[list[Segment], np.ndarray] | None:
    """``count`` segments that each contain the last step of a terminated episode.

    The episode's last step falls at a uniformly random position of the segment, never
    the last one, so at least one absorbing step follows: that is what the learner sees
    of an episode end. None if the pool holds no terminated episode, or ``length`` < 2.

    Returns:
        The segments and their true rewards ``(count, length)``, as ``EpisodePool.sample``.
    """
    ended = [e for e in pool.episodes if e.terminated]
    if not ended or count <= 0 or length < 2:
        return None  # one step cannot hold an episode's last step and an absorbing one
    segments, truths = [], []
    for index in rng.integers(0, len(ended), size=count):
        episode = ended[int(index)]
        first = max(0, episode.length - length + 1)
        start = int(rng.integers(first, episode.length))
        segment, truth = cut_segment(episode, start, length)
        segments.append(segment)
        truths.append(truth)
    return segments, np.stack(truths)


def ends_inside(segments: Sequence[Segment]) -> np.ndarray:
    """``(N,)`` bool: the segment contains an episode end (it has absorbing steps)."""
    return np.array([bool(s.absorbing.any()) for s in segments])
