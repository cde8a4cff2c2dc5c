"""The RL backend: Stable-Baselines3 agents on the reward-swapping environment stack.

Stack, bottom to top: Gymnasium envs (DummyVecEnv) → ``RewardSwapWrapper`` (records,
swaps rewards) → optional ``VecNormalize`` → the agent. Checkpoints are weights only:
``torch.save`` of state dicts plus NumPy arrays for the normalisation statistics,
loaded with ``weights_only=True``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rlhp.atomic import replacing
from rlhp.config import TrainConfig
from rlhp.devices import resolve_device
from rlhp.errors import ConfigError
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.frozen import FrozenReward
from rlhp.rl.atari import (
    ChannelsFirst,
    SignReward,
    frame_stack_size,
    is_ale,
    is_pixel_env,
    make_pixel_env,
)
from rlhp.rl.presets import agent_preset, check_budget, hidden_terms, import_env_module
from rlhp.rl.replay import load_replay, save_replay
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.rl.rollout_rewards import DeferringVecNormalize
from rlhp.segments import EpisodePool

log = logging.getLogger(__name__)

REPLAY_FILE = "replay.npz"
"""Beside the agent checkpoint: an off-policy agent's replay buffer (``rlhp.rl.replay``)."""

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "sac": SAC}
"""Stable-Baselines3's algorithms; TRPO (sb3-contrib, an optional extra) via ``algorithm_class``."""
_SUPPORTED_ACTIONS: dict[str, tuple[type[spaces.Space], ...]] = {
    "ppo": (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary),
    "a2c": (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary),
    "sac": (spaces.Box,),
    "trpo": (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary),
}


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class for ``algo``; TRPO needs the ``contrib`` extra (sb3-contrib)."""
    if algo == "trpo":
        try:
            from sb3_contrib import TRPO
        except ImportError as exc:
            raise ConfigError(
                "--algo trpo needs sb3-contrib: pip install 'rlhp[contrib]' (or use --algo ppo)"
            ) from exc
        return TRPO
    return ALGORITHMS[algo]


def probe_env(config: TrainConfig) -> tuple[spaces.Space, spaces.Space]:
    """Make the environment once to check its id and spaces; returns (obs, action) spaces."""
    import_env_module(config.env_id)
    try:
        env = (
            make_pixel_env(config.env_id, config.atari)
            if is_pixel_env(config.env_id)
            else gym.make(config.env_id)
        )
    except gym.error.DependencyNotInstalled as exc:
        raise ConfigError(
            f"{config.env_id} needs a missing dependency ({exc}); for MuJoCo tasks: pip install 'rlhp[mujoco]'"
        ) from exc
    except gym.error.Error as exc:
        raise ConfigError(
            f"unknown environment {config.env_id!r} ({exc}); use a registered Gymnasium id such as CartPole-v1"
        ) from exc
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"cannot import the module of {config.env_id!r} ({exc}); run from the directory "
            "that holds it, or put it on PYTHONPATH (module:EnvId-v0)"
        ) from exc
    obs_space, action_space = env.observation_space, env.action_space
    terms = hidden_terms(config)
    if terms:
        env.reset(seed=config.seed)
        info = env.step(action_space.sample())[-1]
        missing = [t for t in terms if t not in info]
        if missing:
            env.close()
            raise ConfigError(
                f"{config.env_id} reports no reward term(s) {missing} in info (it has "
                f"{sorted(k for k in info if k.startswith('reward'))}); fix oracle.hidden_terms"
            )
    env.close()
    algo = config.agent.algo
    algorithm_class(algo)  # a missing optional backend is a usage error, found up front
    if not isinstance(action_space, _SUPPORTED_ACTIONS[algo]):
        raise ConfigError(
            f"{algo} cannot act in {config.env_id}'s action space {action_space}; "
            f"use --algo {'ppo' if algo == 'sac' else 'sac'} or another environment"
        )
    if not isinstance(obs_space, spaces.Box):
        raise ConfigError(
            f"{config.env_id} has observation space {obs_space}; rlhp needs a Box observation space"
        )
    dims, flat = config.reward_model.observation_dims, int(np.prod(obs_space.shape))
    if dims is not None and (len(obs_space.shape) != 1 or dims > flat):
        raise ConfigError(
            f"reward_model.observation_dims={dims} does not fit {config.env_id}'s observations "
            f"of shape {obs_space.shape}: it takes a vector observation's leading entries "
            f"(1 to {flat} here); set it to none for all of them"
        )
    return obs_space, action_space


@dataclass
class AgentStack:
    """The agent and the environment layers it trains on."""

    model: BaseAlgorithm
    wrapper: RewardSwapWrapper
    normalize: VecNormalize | None


def _schedule(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value.removeprefix("lin_"))
        return lambda progress_remaining: progress_remaining * start
    return value


def agent_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The SB3 keyword arguments: the preset overlaid with the user's overrides."""
    preset = agent_preset(config.env_id, config.agent.algo, config.total_timesteps)
    return {**preset.kwargs, **config.agent.overrides}


def build_stack(
    config: TrainConfig, pool: EpisodePool, reward_model: RewardEnsemble | None, env_seed: int
) -> AgentStack:
    """Environments, reward wrapper, normalisation and an untrained agent."""
    preset = agent_preset(config.env_id, config.agent.algo, config.total_timesteps)
    n_envs = config.agent.n_envs or preset.n_envs
    if is_pixel_env(config.env_id):  # ALE / MinAtar, preprocessed (rlhp.rl.atari)
        base = make_vec_env(
            lambda: make_pixel_env(config.env_id, config.atari), n_envs=n_envs, seed=env_seed
        )
    else:
        base = make_vec_env(config.env_id, n_envs=n_envs, seed=env_seed)
    raw_kwargs = agent_kwargs(config)
    check_budget(config.agent.algo, n_envs, raw_kwargs, config.total_timesteps)
    kwargs = {k: _schedule(v) for k, v in raw_kwargs.items()}
    wrapper = RewardSwapWrapper(
        base,
        pool,
        model=reward_model,
        pessimism=config.reward_model.pessimism,
        hidden_terms=hidden_terms(config),
        explore_steps=config.agent.explore_steps,
        explore_k=config.agent.explore_k,
        rune=config.reward_model.rune,
        frame_stack=frame_stack_size(config.env_id, config.atari),
        batch_rollouts=config.reward_model.batch_rollout_rewards,
        continuing=config.agent.episode_ends == "continue",
    )
    venv: VecEnv = wrapper
    if reward_model is None and is_ale(config.env_id) and config.atari.clip_env_reward:
        venv = SignReward(wrapper)  # the env twin's standard Atari setting
    normalize = None
    scale_learned = reward_model is not None and config.reward_model.scale_rewards
    if preset.normalize or scale_learned:
        normalize = DeferringVecNormalize(
            venv, gamma=float(kwargs.get("gamma", 0.99)), norm_obs=preset.normalize
        )
        venv = normalize
    if is_pixel_env(config.env_id):
        venv = ChannelsFirst(venv)  # (C, H, W) however many channels; SB3 would guess
    algo_cls = algorithm_class(config.agent.algo)
    try:
        model = algo_cls(
            preset.policy,
            venv,
            seed=config.seed,
            device=resolve_device(config.device),
            verbose=0,
            **kwargs,
        )
    except TypeError as exc:
        raise ConfigError(f"bad agent override for {config.agent.algo}: {exc}") from exc
    if wrapper.batch_rollouts and not isinstance(model, OnPolicyAlgorithm):
        raise ConfigError(
            f"reward_model.batch_rollout_rewards needs an on-policy agent (ppo, a2c, trpo), "
            f"not {config.agent.algo}: set it to false"
        )
    wrapper.refresh_reward()
    return AgentStack(model, wrapper, normalize)


def _random_streams() -> dict[str, torch.Tensor]:
    """The global torch and NumPy generators' states (SB3 samples actions with the first
    and shuffles minibatches with the second), as tensors a weights-only load accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    assert kind == "MT19937"
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.as_tensor(np.asarray(keys, dtype=np.int64)),
        "numpy_rest": torch.tensor(
            [float(pos), float(has_gauss), float(cached)], dtype=torch.float64
        ),
    }


def _restore_random_streams(saved: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(saved["torch"])
    pos, has_gauss, cached = saved["numpy_rest"].tolist()
    keys = saved["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), cached))


def save_agent(stack: AgentStack, path: Path) -> None:
    """Weights-only checkpoint of the policy (and optimisers), normalisation stats and the
    global random streams the agent draws from."""
    state: dict[str, Any] = {
        "parameters": stack.model.get_parameters(),
        "num_timesteps": stack.model.num_timesteps,
        "random": _random_streams(),
    }
    if stack.normalize is not None:
        norm = stack.normalize
        stats = {"ret": norm.ret_rms, **({"obs": norm.obs_rms} if norm.norm_obs else {})}
        state["normalize"] = {
            f"{name}_{field}": torch.as_tensor(getattr(rms, field), dtype=torch.float64)
            for name, rms in stats.items()
            for field in ("mean", "var", "count")
        }
    with replacing(path) as tmp:
        torch.save(state, tmp)
    save_replay(stack.model, path.with_name(REPLAY_FILE))


def load_agent(stack: AgentStack, path: Path, random_streams: bool = False) -> None:
    """Restore ``save_agent``'s checkpoint (and an off-policy agent's replay buffer).

    Args:
        random_streams: also put the global torch and NumPy generators back where they
            were (resuming training); playing a saved policy keeps its own seeding.
    """
    state = torch.load(path, weights_only=True, map_location="cpu")
    stack.model.set_parameters(state["parameters"], exact_match=True, device=stack.model.device)
    stack.model.num_timesteps = int(state["num_timesteps"])
    if random_streams and "random" in state:  # checkpoints from before 2026-12-07 have none
        _restore_random_streams(state["random"])
    load_replay(stack.model, path.with_name(REPLAY_FILE))
    norm_state = state.get("normalize")
    if stack.normalize is not None and norm_state is not None:
        norm = stack.normalize
        stats: dict[str, RunningMeanStd] = {"ret": norm.ret_rms}
        if norm.norm_obs:
            assert isinstance(norm.obs_rms, RunningMeanStd)
            stats["obs"] = norm.obs_rms
        for name, rms in stats.items():
            rms.mean = norm_state[f"{name}_mean"].numpy()
            rms.var = norm_state[f"{name}_var"].numpy()
            rms.count = float(norm_state[f"{name}_count"])


def relabel_replay_buffer(model: BaseAlgorithm, reward_fn: FrozenReward | None) -> int:
    """Recompute every stored reward of an off-policy agent with the reward it now sees (PEBBLE).

    ``reward_fn`` is the snapshot the agent's environments use (``RewardSwapWrapper``'s),
    never the live ensemble: a background fit may be training that while this runs.
    The buffer holds the raw (unnormalised) observations and scaled actions; actions are
    mapped back to the environment's range before they reach the reward.

    Returns:
        Number of transitions relabelled (0 for on-policy agents or no reward yet).
    """
    if not isinstance(model, OffPolicyAlgorithm) or model.replay_buffer is None:
        return 0
    if reward_fn is None:
        return 0
    buffer = model.replay_buffer
    size = buffer.buffer_size if buffer.full else buffer.pos
    if size == 0:
        return 0
    obs = buffer.observations[:size]  # (S, n_envs, *obs)
    actions = buffer.actions[:size]
    if isinstance(model.action_space, spaces.Box):
        actions = model.policy.unscale_action(actions)
    flat_obs = obs.reshape(size * buffer.n_envs, *obs.shape[2:])
    flat_actions = actions.reshape(size * buffer.n_envs, *actions.shape[2:])
    buffer.rewards[:size] = reward_fn(flat_obs, flat_actions).reshape(size, buffer.n_envs)
    return int(size * buffer.n_envs)


def collect_untrained(stack: AgentStack, min_steps: int) -> int:
    """Roll out the (untrained) policy until the pool has ``min_steps`` new steps.

    Used before RL starts, for the pre-training comparisons. Returns env steps taken.
    """
    venv = stack.model.get_env()
    assert venv is not None
    obs = venv.reset()
    pool = stack.wrapper.pool
    start_pool, start_env = pool.added_steps, stack.wrapper.env_steps
    while pool.added_steps - start_pool < min_steps:
        actions, _ = stack.model.predict(obs, deterministic=False)  # type: ignore[arg-type]
        obs, _, _, _ = venv.step(actions)
        if stack.wrapper.env_steps - start_env > 50 * min_steps:
            raise RuntimeError("pre-training rollouts produced no finished episode")
    return stack.wrapper.env_steps - start_env
