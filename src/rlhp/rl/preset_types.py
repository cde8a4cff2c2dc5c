"""The two kinds of per-environment defaults: how to build the agent, and the task itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AgentPreset:
    """How to build the agent for one environment."""

    n_envs: int
    """Parallel environments (SyncVectorEnv-style; faster than subprocesses on 2 cores)."""
    normalize: bool = False
    """Wrap in VecNormalize (observations and rewards), as the zoo does."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """SB3 constructor keyword arguments."""
    policy: str = "MlpPolicy"
    """SB3 policy name (``CnnPolicy`` for images)."""


@dataclass(frozen=True)
class TaskPreset:
    """What rlhp knows about one task, independent of the RL algorithm."""

    dt: float
    """Seconds of simulated time per environment step (MuJoCo: frame_skip × timestep);
    the tests check it against the environment."""
    max_episode_steps: int
    """The task's time limit; a segment is never longer than one episode."""
    hidden_terms: tuple[str, ...] = ()
    """``info`` reward terms a person watching a clip cannot see (control costs): the
    synthetic oracle's reward leaves them out (paper §3.1)."""
    reward_uses_actions: bool = False
    """Feed actions to the reward model (``reward_model.use_actions``): for tasks whose
    oracle sees a term that depends on the action itself, such as a visible control cost;
    observations alone cannot tell what torque was applied."""
    reward_action_squares: bool = False
    """Feed the actions' squares too (``reward_model.action_squares``): where a visible
    control cost is quadratic in the action and observations are many, so the model
    need not build the square from its hidden units."""
    reward_observation_dims: int | None = None
    """The leading observation entries the reward model reads
    (``reward_model.observation_dims``); None: all. For tasks whose observations end in
    quantities a person cannot see and the reward hardly depends on (Ant's contact forces)."""
    reward_hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layers of each reward-model member (paper appendix A: 2 × 64 for MuJoCo)."""
    segment_steps: int | None = None
    """Steps per segment, replacing the default (1.5 s, at most 60 steps): tasks whose
    behaviour needs the whole 1.5 s in one clip (a backflip) set it."""

    def __post_init__(self) -> None:
        if self.dt <= 0 or self.max_episode_steps < 1 or (self.segment_steps or 1) < 1:
            raise ValueError(
                f"bad task preset: dt={self.dt}, max_episode_steps={self.max_episode_steps}"
            )

    def segment_length(self, seconds: float) -> int:
        """Steps in ``seconds`` of simulated time, at most one episode, at least one step."""
        return max(1, min(round(seconds / self.dt), self.max_episode_steps))
