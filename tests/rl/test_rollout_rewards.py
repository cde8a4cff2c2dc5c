"""r̂ a rollout at a time (``reward_model.batch_rollout_rewards``) gives the agent what
r̂ a vector step at a time gives it: the buffer's rewards, returns and advantages, the
VecNormalize statistics and the learned-return statistics, rollout after rollout."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from rlhp.config import RewardModelConfig, RuneConfig
from rlhp.errors import ConfigError
from rlhp.reward.ensemble import make_reward_model
from rlhp.rl.agents import AgentStack, build_stack, probe_env
from rlhp.rl.presets import task_config
from rlhp.rl.rollout_rewards import begin_rollout, settle_rollout
from rlhp.segments import EpisodePool


class _Capture(BaseCallback):
    """What the loop's callback does around a rollout, and a copy of the buffer after."""

    def __init__(self, stack: AgentStack) -> None:
        super().__init__()
        self.stack = stack
        self.buffers: list[tuple[np.ndarray, ...]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        begin_rollout(self.stack)

    def _on_rollout_end(self) -> None:
        settle_rollout(self.stack)
        b = self.model.rollout_buffer
        self.buffers.append((b.rewards.copy(), b.returns.copy(), b.advantages.copy()))


def _run(
    env_id: str, batch: bool, rune: bool = False, episode_ends: str = "absorbing"
) -> tuple[_Capture, AgentStack]:
    config = task_config(env_id)
    reward = dataclasses.replace(
        config.reward_model,
        zero_init_head=False,  # a reward that varies, so every step's r̂ matters
        batch_rollout_rewards=batch,
        rune=RuneConfig(enabled=rune, beta0=0.5, decay=1e-4),
    )
    config = dataclasses.replace(
        config,
        reward_model=reward,
        agent=dataclasses.replace(
            config.agent,
            overrides={"n_steps": 32, "batch_size": 64},
            n_envs=4,
            episode_ends=episode_ends,
        ),
    )
    torch.manual_seed(0)
    model = make_reward_model(*probe_env(config), reward)
    stack = build_stack(config, EpisodePool(1 << 30), model, env_seed=0)
    capture = _Capture(stack)
    stack.model.learn(total_timesteps=3 * 32 * 4, callback=capture)
    return capture, stack


@pytest.mark.parametrize(
    ("env_id", "rune", "episode_ends"),
    [
        ("MinAtar/Breakout-v1", False, "absorbing"),
        ("CartPole-v1", True, "absorbing"),
        ("CartPole-v1", False, "continue"),
    ],
)
def test_a_rollout_at_a_time_gives_the_agent_what_a_step_at_a_time_does(
    env_id: str, rune: bool, episode_ends: str
) -> None:
    (step, step_stack), (batch, batch_stack) = (
        _run(env_id, b, rune, episode_ends) for b in (False, True)
    )
    assert batch_stack.wrapper.batch_rollouts and len(batch.buffers) == 3
    for per_step, per_rollout in zip(step.buffers, batch.buffers, strict=True):
        assert np.abs(per_step[0]).max() > 0  # r̂ reached the buffer
        for a, b in zip(per_step, per_rollout, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert step_stack.normalize is not None and batch_stack.normalize is not None
    np.testing.assert_allclose(
        batch_stack.normalize.ret_rms.var, step_stack.normalize.ret_rms.var, rtol=1e-4
    )
    s, b = step_stack.wrapper.stats(), batch_stack.wrapper.stats()
    assert b.episodes == s.episodes > 0
    assert b.learned_return == pytest.approx(s.learned_return, rel=1e-4, abs=1e-5)
    # continuing: episodes ended (CartPole's random ones in ~20 steps), the agent saw none
    starts = batch_stack.model.rollout_buffer.episode_starts
    assert (episode_ends == "continue") == (not starts[1:].any())


def test_an_off_policy_agent_cannot_defer_its_rewards() -> None:
    config = task_config("Pendulum-v1")
    reward = RewardModelConfig(batch_rollout_rewards=True)
    config = dataclasses.replace(
        config, reward_model=reward, agent=dataclasses.replace(config.agent, algo="sac")
    )
    model = make_reward_model(*probe_env(config), reward)
    with pytest.raises(ConfigError, match="batch_rollout_rewards needs an on-policy agent"):
        build_stack(config, EpisodePool(1000), model, env_seed=0)
