"""The RL agent (SB3 algorithm, overrides, PEBBLE exploration) and the Atari/MinAtar settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlhp.config.choices import Algo, EpisodeEnds
from rlhp.config.parsing import check


@dataclass(frozen=True)
class AgentConfig:
    """The RL algorithm that is trained on the (learned or true) reward."""

    algo: Algo = "ppo"
    """Stable-Baselines3 algorithm."""
    n_envs: int | None = None
    """Parallel environments; None takes the preset."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the SB3 constructor that replace the preset's."""
    explore_steps: int = 0
    """PEBBLE's unsupervised pre-training: for the first this many RL steps the agent is
    rewarded by state entropy (distance to its k-th nearest recent state) instead of r̂;
    0 disables it. Meant for SAC, whose replay buffer is relabelled with r̂ afterwards."""
    explore_k: int = 5
    """k of the k-nearest-neighbour state-entropy estimate."""
    episode_ends: EpisodeEnds = "absorbing"
    """How a terminated episode reaches an agent trained on r̂. ``absorbing``: the episode
    ends for the agent, whose reward r̂ − r̂_abs makes ending worth what the labels say
    the absorbing state is worth (``rlhp.segments``). ``continue``: the paper's Atari
    setting — the agent never sees a termination; its environment resets and the
    episode goes on, one continuing task, so no constant in r̂ (such as r̂_abs, which
    labels pin down only through ties) can make dying pay or living pay for itself, and
    no episode-end pairs are asked. Truncations still end episodes; the env-reward twin
    is unaffected (``rl/reward_wrapper.py``). The agent then maximises score per step,
    not per game: on MinAtar SpaceInvaders, whose lost game restarts at once, it stopped
    avoiding death (0.17 of its twin per game; docs/benchmarks.md)."""

    def __post_init__(self) -> None:
        check(self.n_envs is None or self.n_envs >= 1, "agent.n_envs must be >= 1")
        check(self.explore_steps >= 0, "agent.explore_steps must be >= 0")
        check(self.explore_k >= 1, "agent.explore_k must be >= 1")


@dataclass(frozen=True)
class AtariConfig:
    """Atari (ALE) preprocessing and what the paper removes (SPEC §7; ``rlhp.rl.atari``)."""

    noop_max: int = 30
    """Up to this many no-op actions at the start of every episode."""
    frame_skip: int = 4
    """Agent steps last this many frames; the observation is the max of the last two."""
    frame_stack: int = 4
    """84×84 grayscale frames stacked in one observation."""
    minatar_frames: int = 1
    """MinAtar: consecutive frames in one observation, their channels concatenated
    (``(k·C, 10, 10)``, oldest first); 1 is MinAtar's own single frame. With 2 the reward
    model sees moves no single frame shows: Freeway's rewarded step already shows the
    chicken back at the bottom, where every start and car hit also puts it."""
    sticky_actions: float = 0.0
    """The ALE's repeat_action_probability (v5's default is 0.25; the paper had none)."""
    mask_score: bool = True
    """Blank the score display (per-game masks, ``rlhp.rl.atari_masks``) in every frame."""
    terminal_on_life_loss: bool = False
    """End the episode at every life lost, as SB3's ``AtariWrapper`` does for env-reward
    agents. Off: the paper removes this signal, and returns are then per life."""
    clip_env_reward: bool = True
    """The env-reward twin learns from sign(reward), the standard Atari setting; the
    oracle and every reported score use the game's own, unclipped score."""

    def __post_init__(self) -> None:
        check(self.noop_max >= 0, "atari.noop_max must be >= 0")
        check(
            self.frame_skip >= 1 and self.frame_stack >= 1,
            "atari.frame_skip and atari.frame_stack must be >= 1",
        )
        check(self.minatar_frames >= 1, "atari.minatar_frames must be >= 1")
        check(0.0 <= self.sticky_actions < 1.0, "atari.sticky_actions must be in [0, 1)")
