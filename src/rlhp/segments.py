"""Trajectory segments (clips) and the pool of recent episodes they are cut from.

Early termination (SPEC §7) is handled with an absorbing state: an episode that
*terminated* (not one cut by a time limit) continues, in its segments, with absorbing
steps. Their true reward is 0 ("nothing more happens"), so the oracle sees the
difference between a segment in which the episode ended and one in which it did not,
and the reward model learns one value for the absorbing state. The agent gets that
rewards measured from that value (see ``rl/reward_wrapper.py``), so ending an episode is
worth exactly what the learned reward says the absorbing state is worth: nothing to
exploit.

Pixel observations that stack the last k frames (Atari: four 84×84 frames) are stored
once: an episode or segment keeps its distinct frames ``(L + k − 1, H, W)`` uint8 and
its ``obs`` is a strided view of them (``stacked_view``), so four copies of each frame
never exist; batches of pairs are stacked the same way, and a copy is made only for
the few pairs in one gradient step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def stacked_view(frames: np.ndarray, stack: int, axis: int = 0) -> np.ndarray:
    """Frame stacks as a view: ``(..., L + k − 1, H, W)`` → ``(..., L, k, H, W)``, no copy.

    Observation t is frames ``t … t+k−1`` (oldest first), as Gymnasium's
    ``FrameStackObservation`` builds it. The view shares memory with ``frames``: it must
    not be written to.
    """
    windows = np.lib.stride_tricks.sliding_window_view(
        frames,
        stack,
        axis=axis,
        writeable=True,  # writeable only so torch can alias it
    )
    return np.moveaxis(windows, -1, axis + 1)


def _check_frames(obs: np.ndarray, frames: np.ndarray | None) -> None:
    if frames is None:
        return
    stack = obs.shape[1] if obs.ndim > 1 else 0
    if frames.shape[0] != obs.shape[0] + stack - 1 or frames.shape[1:] != obs.shape[2:]:
        raise ValueError(
            f"frames {frames.shape} do not hold observations {obs.shape} (L + k − 1 frames)"
        )


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
        frames: for stacked pixel observations, the ``(T + k − 1, H, W)`` distinct
            frames that ``obs`` is a view of (``stacked_view``), zeros after the episode
            ended (the observations of absorbing steps are never read); else None.
    """

    obs: np.ndarray
    actions: np.ndarray
    absorbing: np.ndarray
    env_step: int = 0
    episode: int = -1
    start: int = 0
    states: np.ndarray | None = None
    frames: np.ndarray | None = None

    @classmethod
    def from_frames(
        cls, frames: np.ndarray, stack: int, actions: np.ndarray, absorbing: np.ndarray, **kw: int
    ) -> Segment:
        """A segment whose observations are stacks of ``stack`` of ``frames``."""
        return cls(stacked_view(frames, stack), actions, absorbing, frames=frames, **kw)  # type: ignore[arg-type]

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this segment holds (frames counted once)."""
        pixels = self.frames.nbytes if self.frames is not None else self.obs.nbytes
        states = self.states.nbytes if self.states is not None else 0
        return pixels + self.actions.nbytes + self.absorbing.nbytes + states

    def __post_init__(self) -> None:
        _check_frames(self.obs, self.frames)
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


def stack_segments(segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observations ``(N, T, *obs_shape)``, actions ``(N, T, *act_shape)`` and absorbing
    flags ``(N, T)`` of equal-length segments. Stacked pixel observations stay a view of
    their frames, stacked once rather than ``k`` times (``stacked_view``)."""
    if not segments:
        raise ValueError("cannot stack an empty list of segments")
    pixels = [s.frames for s in segments if s.frames is not None]
    if len(pixels) == len(segments):
        obs = stacked_view(np.stack(pixels), segments[0].obs.shape[1], axis=1)
    else:
        obs = np.stack([s.obs for s in segments])
    return obs, np.stack([s.actions for s in segments]), np.stack([s.absorbing for s in segments])


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
        """Stack pairs; segments of stacked frames stay views (``obs`` aliases the frames)."""
        if not pairs:
            raise ValueError("cannot stack an empty list of pairs")
        arrays = stack_segments([segment for pair in pairs for segment in pair])
        # (2N, ...) → (N, 2, ...): splitting the first axis keeps a stacked view a view
        obs, actions, absorbing = (a.reshape(len(pairs), 2, *a.shape[1:]) for a in arrays)
        return cls(obs=obs, actions=actions, absorbing=absorbing)

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
        frames: for stacked pixel observations, the ``(L + k − 1, H, W)`` distinct
            frames that ``obs`` is a view of (``stacked_view``); else None.
    """

    obs: np.ndarray
    actions: np.ndarray
    true_rewards: np.ndarray
    terminated: bool
    env_step: int
    index: int = -1
    states: np.ndarray | None = None
    frames: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_frames(self.obs, self.frames)

    @property
    def length(self) -> int:
        return int(self.true_rewards.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this episode holds (frames counted once)."""
        pixels = self.frames.nbytes if self.frames is not None else self.obs.nbytes
        states = self.states.nbytes if self.states is not None else 0
        return pixels + self.actions.nbytes + self.true_rewards.nbytes + states


class EpisodePool:
    """The most recent finished episodes: the fewest that hold at least ``max_steps`` steps,
    and never (but for the newest episode) more than ``max_bytes`` bytes.

    With an ``archive`` the evicted episodes are not all lost: a uniform sample of them
    stays (``EpisodeArchive``), for queries that set what the policy does now beside
    what it did earlier (``queries.history_share``).
    """

    def __init__(
        self,
        max_steps: int,
        max_bytes: int | None = None,
        archive: EpisodeArchive | None = None,
    ) -> None:
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self.archive = archive
        self._episodes: deque[Episode] = deque()
        self._steps = 0
        self._bytes = 0
        self.added_steps = 0
        """Steps of all episodes ever added, evicted ones included."""

    def add(self, episode: Episode) -> None:
        self._episodes.append(episode)
        self._steps += episode.length
        self._bytes += episode.nbytes
        self.added_steps += episode.length
        while len(self._episodes) > 1 and (
            self._steps - self._episodes[0].length >= self.max_steps
            or (self.max_bytes is not None and self._bytes > self.max_bytes)
        ):
            evicted = self._episodes.popleft()
            self._steps -= evicted.length
            self._bytes -= evicted.nbytes
            if self.archive is not None:
                self.archive.offer(evicted)

    @property
    def nbytes(self) -> int:
        """Bytes held by the episodes in the pool."""
        return self._bytes

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
        return sample_segments(self.episodes, count, length, rng, "the pool")


class EpisodeArchive:
    """A uniform sample of up to ``capacity`` episodes from all those offered (reservoir
    sampling, Vitter's algorithm R): the pool's history after it evicted them, held in at
    most ``max_bytes``. Its own ``rng`` decides what stays, so keeping episodes draws
    nothing from the generator that picks queries."""

    def __init__(self, capacity: int, max_bytes: int, rng: np.random.Generator) -> None:
        if capacity < 1:
            raise ValueError(f"an archive holds at least one episode, got capacity {capacity}")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.rng = rng
        self.episodes: list[Episode] = []
        self.offered = 0
        self._bytes = 0

    def offer(self, episode: Episode) -> None:
        """Keep ``episode`` with probability capacity / offered so far, replacing one at random."""
        self.offered += 1
        if len(self.episodes) < self.capacity:
            slot = len(self.episodes)
        else:
            slot = int(self.rng.integers(0, self.offered))
            if slot >= self.capacity:
                return
        old = self.episodes[slot].nbytes if slot < len(self.episodes) else 0
        if self._bytes - old + episode.nbytes > self.max_bytes:
            return  # full in bytes: history keeps what it has
        if slot < len(self.episodes):
            self.episodes[slot] = episode
        else:
            self.episodes.append(episode)
        self._bytes += episode.nbytes - old

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self.episodes)

    def sample(
        self, count: int, length: int, rng: np.random.Generator
    ) -> tuple[list[Segment], np.ndarray]:
        """As ``EpisodePool.sample``, from the archived episodes."""
        return sample_segments(self.episodes, count, length, rng, "the archive")


def sample_segments(
    episodes: list[Episode], count: int, length: int, rng: np.random.Generator, where: str
) -> tuple[list[Segment], np.ndarray]:
    """``count`` random segments of ``length`` steps cut from ``episodes``, each valid start
    equally likely, and their true per-step rewards ``(count, length)``."""
    starts_per_episode = np.array([_valid_starts(e, length) for e in episodes], dtype=np.int64)
    total = int(starts_per_episode.sum())
    if total == 0:
        raise ValueError(
            f"no episode in {where} can hold a segment of {length} steps; "
            "collect more steps or shorten the segments"
        )
    picks = rng.integers(0, total, size=count)
    bounds = np.cumsum(starts_per_episode)
    which = np.searchsorted(bounds, picks, side="right")
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
    frames = None
    if episode.frames is not None:  # stacked pixels: copy each distinct frame once
        extra = episode.frames.shape[0] - episode.length  # k − 1
        frames = np.zeros((length + extra, *episode.frames.shape[1:]), dtype=episode.frames.dtype)
        frames[: real + extra] = episode.frames[start : stop + extra]
        obs = stacked_view(frames, extra + 1)
    else:
        obs = np.zeros((length, *episode.obs.shape[1:]), dtype=episode.obs.dtype)
        obs[:real] = episode.obs[start:stop]
    actions = np.zeros((length, *episode.actions.shape[1:]), dtype=episode.actions.dtype)
    truth = np.zeros(length, dtype=np.float64)
    actions[:real] = episode.actions[start:stop]
    truth[:real] = episode.true_rewards[start:stop]
    absorbing = np.arange(length) >= real
    states = None
    if episode.states is not None:
        states = np.zeros((length, *episode.states.shape[1:]), dtype=np.float64)
        states[:real] = episode.states[start:stop]
    segment = Segment(
        obs, actions, absorbing, episode.env_step, episode.index, start, states, frames
    )
    return segment, truth
