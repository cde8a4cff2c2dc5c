"""Per-environment defaults: RL hyperparameters, segment lengths, what the oracle sees.

RL hyperparameters follow rl-baselines3-zoo's tuned values for each (env, algorithm);
unknown pairs fall back to Stable-Baselines3's defaults. ``"lin_X"`` means a learning
rate (or clip range) decaying linearly from X to 0 over the run. The MuJoCo tasks live
in ``rlhp.rl.mujoco_presets``; ``task_config`` is the config ``rlhp train`` starts from
before flags and ``--set`` override it.
"""

from __future__ import annotations

import dataclasses

from rlhp.config import Algo, TrainConfig
from rlhp.rl.atari import is_pixel_env
from rlhp.rl.atari_presets import SEGMENT_STEPS, pixel_agent_preset, pixel_task_config
from rlhp.rl.mujoco_presets import MUJOCO_AGENTS, MUJOCO_TASKS
from rlhp.rl.preset_types import AgentPreset, TaskPreset

__all__ = ["AgentPreset", "TaskPreset", "agent_preset", "segment_length", "task_config"]

_DEFAULTS: dict[str, AgentPreset] = {
    "ppo": AgentPreset(n_envs=8),
    "a2c": AgentPreset(n_envs=8),
    "sac": AgentPreset(n_envs=1),
    "trpo": AgentPreset(n_envs=2),
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
    **MUJOCO_AGENTS,
}

SEGMENT_LENGTHS: dict[str, int] = {
    "CartPole-v1": 50,
    "Pendulum-v1": 25,
}
"""Steps per segment; the paper uses 1-2 s of simulated time (CartPole 1 s, Pendulum 1.25 s)."""

DEFAULT_SEGMENT_LENGTH = 50
SEGMENT_SECONDS = 1.5
"""Simulated seconds per segment for tasks with a ``TaskPreset`` (paper appendix A)."""
MAX_SEGMENT_STEPS = 60
"""The paper's 1.5 s were "15-60 timesteps by task" (SPEC §7). Hopper and Walker2d step
every 0.008 s, so 1.5 s would be 188 steps: 3× the paper's longest segment and ≈ 3× the
cost of every reward fit. Their segments stop at 60 steps (0.48 s); ``--segment-length``
sets any length."""

TASKS: dict[str, TaskPreset] = dict(MUJOCO_TASKS)
"""Env id → task preset (the paper's MuJoCo tasks)."""


def agent_preset(env_id: str, algo: Algo) -> AgentPreset:
    pixels = pixel_agent_preset(env_id, algo)  # ALE and MinAtar (rlhp.rl.atari_presets)
    if pixels is not None:
        return pixels
    return _PRESETS.get((env_id, algo), _DEFAULTS[algo])


def segment_length(env_id: str) -> int:
    """Steps per segment: 1.5 s of simulated time (at most 60 steps) for preset tasks, else
    the table above."""
    task = TASKS.get(env_id)
    if task is not None:
        return min(task.segment_length(SEGMENT_SECONDS), MAX_SEGMENT_STEPS)
    if is_pixel_env(env_id):
        return SEGMENT_STEPS
    return SEGMENT_LENGTHS.get(env_id, DEFAULT_SEGMENT_LENGTH)


def hidden_terms(config: TrainConfig) -> tuple[str, ...]:
    """The ``info`` reward terms the oracle does not see: the config's, else the task's."""
    if config.oracle.hidden_terms is not None:
        return config.oracle.hidden_terms
    task = TASKS.get(config.env_id)
    return task.hidden_terms if task is not None else ()


def task_config(env_id: str) -> TrainConfig:
    """The config a new run of ``env_id`` starts from: defaults plus the task preset.

    Flags and ``--set`` are applied on top, so every preset value can be overridden.
    """
    config = TrainConfig(env_id)
    if is_pixel_env(env_id):
        return pixel_task_config(config)
    task = TASKS.get(env_id)
    if task is None:
        return config
    return dataclasses.replace(
        config,
        reward_model=dataclasses.replace(
            config.reward_model, hidden_sizes=task.reward_hidden_sizes
        ),
    )
