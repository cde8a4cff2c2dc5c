"""Trajectory segments (clips) and the pool of recent episodes they are cut from.

Early termination (SPEC §7) is handled with an absorbing state: an episode that
*terminated* (not one cut by a time limit) continues, in its segments, with absorbing
steps. Their true reward is 0 ("nothing more happens"), so the oracle sees the
difference between a segment in which the episode ended and one in which it did not,
and the reward model learns one value for the absorbing state. The agent gets that
rewards measured from that value (see ``rl/reward_wrapper.py``), so ending an episode is
worth exactly what the learned reward says the absorbing state is worth: nothing to
exploit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """One clip the labeller compares; it carries no reward.

    Attributes:
        obs: ``(T, *obs_shape)`` observations; zeros at absorbing steps.
        actions: ``(T, *act_shape)`` actions taken at those observations.
        absorbing: ``(T,)`` bool, True after the episode terminated.
        env_step: agent environment step at which the segment's episode ended.
        episode: index of the episode within the run (-1 if unknown), for clip rendering.
        start: index of the first step within its episode.
        states: optional ``(T, state_dim)`` float64 simulator states (see
            ``rlhp.rl.sim_state``), zeros at absorbing steps; recorded only when clips
            are to be rendered (human feedback), None otherwise.
    """

    obs: np.ndarray
    actions: np.ndarray
    absorbing: np.ndarray
    env_step: int = 0
    episode: int = -1
    start: int = 0
    states: np.ndarray | None = None

    def __post_init__(self) -> None:
        steps = self.obs.shape[0]
        if self.actions.shape[0] != steps or self.absorbing.shape != (steps,):
            raise ValueError(
                f"segment arrays disagree on length: obs {self.obs.shape}, "
                f"actions {self.actions.shape}, absorbing {self.absorbing.shape}"
            )
        if self.states is not None and (self.states.ndim != 2 or self.states.shape[0] != steps):
            raise ValueError(
                f"segment states must be (T={steps}, state_dim), got {self.states.shape}"
            )
        if self.absorbing.dtype != np.bool_:
            raise ValueError("segment.absorbing must be a bool array")

    @property
    def length(self) -> int:
        return int(self.obs.shape[0])


@dataclass(frozen=True)
class SegmentBatch:
    """Pairs of equal-length segments stacked for batched computation.

    Attributes:
        obs: ``(N, 2, T, *obs_shape)``.
        actions: ``(N, 2, T, *act_shape)``.
        absorbing: ``(N, 2, T)`` bool.
    """

    obs: np.ndarray
    actions: np.ndarray
    absorbing: np.ndarray

    def __post_init__(self) -> None:
        n, two, steps = self.absorbing.shape
        if (
            two != 2
            or self.obs.shape[:3] != (n, 2, steps)
            or self.actions.shape[:3] != (n, 2, steps)
        ):
            raise ValueError(
                f"expected (N, 2, T, ...) arrays, got obs {self.obs.shape}, "
                f"actions {self.actions.shape}, absorbing {self.absorbing.shape}"
            )

    def __len__(self) -> int:
        return int(self.absorbing.shape[0])

    @classmethod
    def from_pairs(cls, pairs: list[tuple[Segment, Segment]]) -> SegmentBatch:
        if not pairs:
            raise ValueError("cannot stack an empty list of pairs")
        return cls(
            obs=np.stack([np.stack([a.obs, b.obs]) for a, b in pairs]),
            actions=np.stack([np.stack([a.actions, b.actions]) for a, b in pairs]),
            absorbing=np.stack([np.stack([a.absorbing, b.absorbing]) for a, b in pairs]),
        )

    def take(self, index: np.ndarray) -> SegmentBatch:
        return SegmentBatch(self.obs[index], self.actions[index], self.absorbing[index])


@dataclass(frozen=True)
class Episode:
    """A finished episode as recorded during rollouts.

    Attributes:
        obs: ``(L, *obs_shape)`` observation at which each action was taken.
        actions: ``(L, *act_shape)``.
        true_rewards: ``(L,)`` the environment's reward (hidden from the agent and model).
        terminated: True if it ended in a terminal state, False if a time limit cut it.
        env_step: agent environment step at which it ended.
        index: running episode number within the run.
        states: optional ``(L, state_dim)`` simulator state at each observation, for
            rendering clips later (recorded only with ``record_states``).
    """

    obs: np.ndarray
    actions: np.ndarray
    true_rewards: np.ndarray
    terminated: bool
    env_step: int
    index: int = -1
    states: np.ndarray | None = None

    @property
    def length(self) -> int:
        return int(self.true_rewards.shape[0])


class EpisodePool:
    """The most recent finished episodes: the fewest that hold at least ``max_steps`` steps."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        self._episodes: deque[Episode] = deque()
        self._steps = 0
        self.added_steps = 0
        """Steps of all episodes ever added, evicted ones included."""

    def add(self, episode: Episode) -> None:
        self._episodes.append(episode)
        self._steps += episode.length
        self.added_steps += episode.length
        while len(self._episodes) > 1 and self._steps - self._episodes[0].length >= self.max_steps:
            self._steps -= self._episodes.popleft().length

    def __len__(self) -> int:
        return len(self._episodes)

    @property
    def steps(self) -> int:
        return self._steps

    @property
    def episodes(self) -> list[Episode]:
        return list(self._episodes)

    def sample(
        self, count: int, length: int, rng: np.random.Generator
    ) -> tuple[list[Segment], np.ndarray]:
        """Cut ``count`` random segments of ``length`` steps.

        A terminated episode may be entered at any step and is padded with absorbing
        steps; a truncated one only where ``length`` steps remain. Each valid start is
        equally likely.

        Returns:
            The segments, and their true per-step rewards ``(count, length)`` (0 at
            absorbing steps) — for the oracle and evaluation only.
        """
        starts_per_episode = np.array(
            [_valid_starts(e, length) for e in self._episodes], dtype=np.int64
        )
        total = int(starts_per_episode.sum())
        if total == 0:
            raise ValueError(
                f"no episode in the pool can hold a segment of {length} steps; "
                "collect more steps or shorten the segments"
            )
        picks = rng.integers(0, total, size=count)
        bounds = np.cumsum(starts_per_episode)
        which = np.searchsorted(bounds, picks, side="right")
        episodes = self.episodes
        segments, truths = [], []
        for pick, e in zip(picks, which, strict=True):
            start = int(pick - (bounds[e] - starts_per_episode[e]))
            segment, truth = cut_segment(episodes[e], start, length)
            segments.append(segment)
            truths.append(truth)
        return segments, np.stack(truths)


def _valid_starts(episode: Episode, length: int) -> int:
    if episode.terminated:
        return episode.length
    return max(0, episode.length - length + 1)


def cut_segment(episode: Episode, start: int, length: int) -> tuple[Segment, np.ndarray]:
    """Steps ``start … start+length-1`` of ``episode``, padded with absorbing steps."""
    stop = min(start + length, episode.length)
    real = stop - start
    if real <= 0 or (real < length and not episode.terminated):
        raise ValueError(
            f"cannot cut {length} steps at {start} from an episode of {episode.length}"
        )
    obs = np.zeros((length, *episode.obs.shape[1:]), dtype=episode.obs.dtype)
    actions = np.zeros((length, *episode.actions.shape[1:]), dtype=episode.actions.dtype)
    truth = np.zeros(length, dtype=np.float64)
    obs[:real] = episode.obs[start:stop]
    actions[:real] = episode.actions[start:stop]
    truth[:real] = episode.true_rewards[start:stop]
    absorbing = np.arange(length) >= real
    states = None
    if episode.states is not None:
        states = np.zeros((length, *episode.states.shape[1:]), dtype=np.float64)
        states[:real] = episode.states[start:stop]
    segment = Segment(obs, actions, absorbing, episode.env_step, episode.index, start, states)
    return segment, truth
