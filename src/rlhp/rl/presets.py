"""Per-environment defaults: RL hyperparameters and segment lengths.

RL hyperparameters follow rl-baselines3-zoo's tuned values for each (env, algorithm);
unknown pairs fall back to Stable-Baselines3's defaults. ``"lin_X"`` means a learning
rate (or clip range) decaying linearly from X to 0 over the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlhp.config import Algo


@dataclass(frozen=True)
class AgentPreset:
    """How to build the agent for one environment."""

    n_envs: int
    """Parallel environments (SyncVectorEnv-style; faster than subprocesses on 2 cores)."""
    normalize: bool = False
    """Wrap in VecNormalize (observations and rewards), as the zoo does."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """SB3 constructor keyword arguments."""


_DEFAULTS: dict[str, AgentPreset] = {
    "ppo": AgentPreset(n_envs=8),
    "a2c": AgentPreset(n_envs=8),
    "sac": AgentPreset(n_envs=1),
}

_PRESETS: dict[tuple[str, str], AgentPreset] = {
    ("CartPole-v1", "ppo"): AgentPreset(
        n_envs=8,
        kwargs=dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate="lin_0.001",
            clip_range="lin_0.2",
        ),
    ),
    ("CartPole-v1", "a2c"): AgentPreset(n_envs=8, kwargs=dict(ent_coef=0.0)),
    ("Pendulum-v1", "ppo"): AgentPreset(
        n_envs=4,
        normalize=True,
        kwargs=dict(
            n_steps=1024,
            gae_lambda=0.95,
            gamma=0.9,
            n_epochs=10,
            ent_coef=0.0,
            learning_rate=1e-3,
            clip_range=0.2,
            use_sde=True,
            sde_sample_freq=4,
        ),
    ),
    ("Pendulum-v1", "a2c"): AgentPreset(
        n_envs=8,
        normalize=True,
        kwargs=dict(
            n_steps=8,
            gae_lambda=0.9,
            vf_coef=0.4,
            gamma=0.9,
            ent_coef=0.0,
            max_grad_norm=0.5,
            learning_rate="lin_7e-4",
            use_sde=True,
            policy_kwargs=dict(log_std_init=-2, ortho_init=False),
        ),
    ),
    ("Pendulum-v1", "sac"): AgentPreset(n_envs=1, kwargs=dict(learning_rate=1e-3)),
}

SEGMENT_LENGTHS: dict[str, int] = {
    "CartPole-v1": 50,
    "Pendulum-v1": 25,
}
"""Steps per segment; the paper uses 1-2 s of simulated time (CartPole 1 s, Pendulum 1.25 s)."""

DEFAULT_SEGMENT_LENGTH = 50


def agent_preset(env_id: str, algo: Algo) -> AgentPreset:
    return _PRESETS.get((env_id, algo), _DEFAULTS[algo])


def segment_length(env_id: str) -> int:
    return SEGMENT_LENGTHS.get(env_id, DEFAULT_SEGMENT_LENGTH)
