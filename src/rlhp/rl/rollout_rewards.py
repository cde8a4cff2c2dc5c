"""r̂ for a whole on-policy rollout in one call, at its end (``reward_model.batch_rollout_rewards``).

SB3's on-policy algorithms (PPO, A2C, TRPO) read a rollout's rewards only once it is
complete, in ``compute_returns_and_advantage``. So the agent's learned reward need not be
computed one vector step at a time: during a deferred rollout the reward wrapper keeps
each step's observations and actions and passes 0 on, and at the rollout's end
``settle_rollout`` evaluates r̂ on all of them in one batched call, replays VecNormalize's
reward scaling step by step in the same order, adds the result to the rollout buffer
(whose truncation bootstraps, γ·V(final observation), are already in it) and recomputes
the returns and advantages. The agent trains on the same numbers as with per-step r̂ —
the same frozen snapshot (fits are installed at rollout ends, after this), the same
running statistics — up to floating-point rounding, checked by the tests.

Why: on MinAtar's 10×10 frames the reward CNN costs about a third as much per frame in
one call for a rollout's 1,024 frames as in calls of one vector step's 8
(``benchmarks/pixel_reward_speed.py``, measured under load); a whole 500k-step MinAtar
run alone was ≈ 2 % faster. On Atari's 84×84 frames batching gains nothing.
A rollout in which PEBBLE's exploration or information seeking rewards the agent is not
deferred (those rewards are per step); neither are off-policy agents, whose replay
buffer takes each reward as it comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecNormalize

from rlhp.reward.frozen import FrozenReward, pessimistic_reward
from rlhp.rl.rune import rune_bonus

if TYPE_CHECKING:
    from rlhp.rl.agents import AgentStack


class DeferringVecNormalize(VecNormalize):
    """SB3's VecNormalize whose reward scaling can wait for the end of a rollout.

    While ``deferring``, a step updates no return statistics and scales no reward (the
    rewards it passes on are the wrapper's placeholders); ``replay`` then does for the
    whole rollout what ``step_wait`` would have done step by step.
    """

    deferring: bool = False
    _returns_at_start: np.ndarray | None = None

    def begin_deferring(self) -> None:
        self.deferring = True
        self._returns_at_start = self.returns.copy()

    def _update_reward(self, reward: np.ndarray) -> None:
        if not self.deferring:
            super()._update_reward(reward)

    def normalize_reward(self, reward: np.ndarray) -> np.ndarray:
        if self.deferring:
            return reward.astype(np.float32)
        return super().normalize_reward(reward)

    def replay(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """``(T, n_envs)`` rewards of a deferred rollout and its done flags → the scaled
        rewards, with the running return statistics updated as ``step_wait`` would have."""
        assert self._returns_at_start is not None, "replay without begin_deferring"
        self.deferring = False
        self.returns = self._returns_at_start
        scaled = np.empty(rewards.shape, dtype=np.float32)
        for t in range(len(rewards)):
            if self.training:
                self._update_reward(rewards[t])
            scaled[t] = self.normalize_reward(rewards[t])
            self.returns[dones[t]] = 0
        self._returns_at_start = None
        return scaled


def learned_rewards(
    reward_fn: FrozenReward,
    obs: np.ndarray,
    actions: np.ndarray,
    rune: tuple[float, float] | None,
    steps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """r̂ and RUNE's bonus for ``(N, …)`` observations and actions, in one call.

    Args:
        reward_fn: the agent's frozen reward (``FrozenReward`` or the CNN's).
        rune: (β₀, ρ) of RUNE's bonus, or None (the bonus is then 0).
        steps: ``(N,)`` the wrapper's env-step count at each (β_t of the bonus).

    Returns:
        ``(N,)`` r̂ as the agent's reward (pessimism applied), ``(N,)`` the bonus.
    """
    advantages = reward_fn.advantages(obs, actions)  # (K, N)
    rewards = pessimistic_reward(advantages, reward_fn.pessimism)
    if rune is None:
        return rewards, np.zeros_like(rewards)
    return rewards, rune_bonus(advantages, steps, *rune)


def begin_rollout(stack: AgentStack) -> None:
    """At a rollout's start: defer its rewards if the wrapper can (``settle_rollout``)."""
    if stack.wrapper.begin_rollout() and isinstance(stack.normalize, DeferringVecNormalize):
        stack.normalize.begin_deferring()


def settle_rollout(stack: AgentStack) -> None:
    """At a deferred rollout's end, before anything reads its buffer or installs a new r̂:
    its rewards into the rollout buffer, and its returns and advantages recomputed."""
    settled = stack.wrapper.settle()
    if settled is None:
        return
    rewards, dones = settled
    if isinstance(stack.normalize, DeferringVecNormalize):
        rewards = stack.normalize.replay(rewards, dones)
    model = stack.model
    assert isinstance(model, OnPolicyAlgorithm)
    model.rollout_buffer.rewards += rewards
    recompute_advantages(model)


def recompute_advantages(model: OnPolicyAlgorithm) -> None:
    """Returns and advantages of the rollout buffer from its (now complete) rewards, as
    ``collect_rollouts`` computed them: the value of the last observation, the last
    episode starts."""
    with torch.no_grad():
        values = model.policy.predict_values(obs_as_tensor(model._last_obs, model.device))  # type: ignore[arg-type]
    model.rollout_buffer.compute_returns_and_advantage(
        last_values=values,
        dones=model._last_episode_starts,  # type: ignore[arg-type]
    )
