"""A learned reward in anyone's training code: a plain Gymnasium wrapper.

``LearnedRewardWrapper(env, model)`` replaces the environment's reward with the saved
ensemble's, measured from the absorbing state exactly as rlhp's own agents see it
(r̂(o, a) − r̂_abs, so ending an episode is worth what r̂ says it is: see
``rlhp.rl.reward_wrapper``). The env's own reward stays in ``info["env_reward"]``.
It works wherever a Gymnasium env does, SB3 included::

    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from rlhp import LearnedRewardWrapper, load_reward_model

    model = load_reward_model("runs/cp")                    # or a file of rlhp reward fit
    venv = make_vec_env("CartPole-v1", 8, wrapper_class=LearnedRewardWrapper,
                        wrapper_kwargs={"model": model})
    PPO("MlpPolicy", venv).learn(100_000)
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from rlhp.reward.ensemble import RewardEnsemble


class LearnedRewardWrapper(gym.Wrapper):
    """The env with r̂ − r̂_abs as its reward (``pessimism``: rlhp's lower-bound option)."""

    def __init__(self, env: gym.Env, model: RewardEnsemble, pessimism: float = 0.0) -> None:
        super().__init__(env)
        self.reward_fn = model.snapshot(pessimism)
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs = np.asarray(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        reward = float(self.reward_fn(self._obs[None], np.asarray(action)[None])[0])
        self._obs = np.asarray(obs)
        return obs, reward, terminated, truncated, {**info, "env_reward": env_reward}
