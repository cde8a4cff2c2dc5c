"""The agent's reward: learned, measured from the absorbing state, never the true one."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from rlhp.config import TrainConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.rl.agents import build_stack, relabel_replay_buffer
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.segments import EpisodePool
from tests.conftest import constant_model


def run_random(wrapper: RewardSwapWrapper, steps: int) -> list[float]:
    wrapper.reset()
    rewards = []
    for _ in range(steps):
        _, r, _, _ = wrapper.step(
            np.array([wrapper.action_space.sample() for _ in range(wrapper.num_envs)])
        )
        rewards.extend(r.tolist())
    return rewards


def test_agent_never_sees_the_true_reward_and_episodes_are_recorded() -> None:
    pool = EpisodePool(10_000)
    wrapper = RewardSwapWrapper(
        make_vec_env("CartPole-v1", n_envs=2, seed=0), pool, constant_model(0.25, 0.0)
    )
    rewards = run_random(wrapper, 300)
    assert np.allclose(rewards, 0.25)  # CartPole's true reward is 1 on every step
    assert len(pool) > 0 and all(e.terminated for e in pool.episodes)
    assert all(np.all(e.true_rewards == 1.0) for e in pool.episodes)
    assert wrapper.stats().true_return == np.mean([e.length for e in pool.episodes][-20:])


def test_when_alive_equals_absorbing_ending_an_episode_changes_nothing() -> None:
    # If r̂ says being alive is worth what the absorbing state is worth, every step pays 0:
    # an agent gains nothing by ending episodes early or late.
    wrapper = RewardSwapWrapper(
        make_vec_env("CartPole-v1", n_envs=2, seed=1),
        EpisodePool(1000),
        constant_model(0.7, 0.7),
    )
    assert np.allclose(run_random(wrapper, 200), 0.0)


def test_alive_better_than_absorbing_makes_longer_episodes_worth_more() -> None:
    model = constant_model(1.0, -1.0)
    model.output_std.fill_(2.0)  # normalised: alive 0.5, absorbing -0.5 -> each step pays 1
    wrapper = RewardSwapWrapper(
        make_vec_env("CartPole-v1", n_envs=1, seed=2), EpisodePool(1000), model
    )
    assert np.allclose(run_random(wrapper, 50), 1.0)


def test_env_mode_passes_the_true_reward() -> None:
    wrapper = RewardSwapWrapper(
        make_vec_env("CartPole-v1", n_envs=2, seed=0), EpisodePool(1000), None
    )
    assert np.allclose(run_random(wrapper, 100), 1.0)


def test_sac_replay_buffer_is_relabelled_with_the_current_reward() -> None:
    config = TrainConfig("Pendulum-v1", total_timesteps=300).with_overrides(
        ['agent.algo="sac"', 'agent.overrides={"learning_starts": 1000}']
    )
    env = gym.make("Pendulum-v1")
    model = RewardEnsemble(
        FeatureSpec.from_spaces(env.observation_space, env.action_space, True), config.reward_model
    )
    stack = build_stack(config, EpisodePool(1000), model, env_seed=0)
    stack.model.learn(200)
    buffer = stack.model.replay_buffer
    assert buffer is not None and buffer.pos == 200
    with torch.no_grad():
        model.head.bias.add_(3.0)  # "retrain": every reward moves up by 3
    live = model.snapshot()
    assert relabel_replay_buffer(stack.model, stack.wrapper.reward_fn) == 200
    # the buffer gets the reward the agent sees, not the live model a fit may be training
    stale = stack.wrapper.reward_fn
    assert stale is not None
    obs_np = buffer.observations[:200, 0]
    act_np = stack.model.policy.unscale_action(buffer.actions[:200, 0])
    assert np.allclose(buffer.rewards[:200, 0], stale(obs_np, act_np), atol=1e-5)
    stack.wrapper.refresh_reward()  # the fit is installed: now the buffer follows it
    assert relabel_replay_buffer(stack.model, stack.wrapper.reward_fn) == 200
    obs = torch.as_tensor(buffer.observations[:200, 0])
    actions = torch.as_tensor(stack.model.policy.unscale_action(buffer.actions[:200, 0]))
    expected = (
        model.rewards(obs, actions, torch.zeros(200, dtype=torch.bool)) - model.agent_offset()
    )
    assert np.allclose(buffer.rewards[:200, 0], expected.detach().numpy(), atol=1e-5)
    assert np.allclose(buffer.rewards[:200, 0], live(obs_np, act_np), atol=1e-5)


def test_return_scale_follows_the_size_of_the_new_reward() -> None:
    from stable_baselines3.common.vec_env import VecNormalize

    from rlhp.rl.reward_scale import carry_return_scale

    norm = VecNormalize(make_vec_env("CartPole-v1", n_envs=1), norm_obs=False)
    norm.ret_rms.mean, norm.ret_rms.var = np.array(3.0), np.array(4.0)
    old, new = constant_model(1.0, 0.0).snapshot(), constant_model(2.0, 0.0).snapshot()
    obs = np.zeros((5, 4), dtype=np.float32)
    new_rewards = new(obs, np.zeros(5))
    assert carry_return_scale(norm, old, new_rewards, obs, np.zeros(5)) == pytest.approx(2.0)
    assert norm.ret_rms.mean == pytest.approx(6.0) and norm.ret_rms.var == pytest.approx(16.0)
    assert (
        carry_return_scale(norm, None, new_rewards, obs, np.zeros(5)) == 1.0
    )  # first reward: nothing to carry


def test_a_resumed_sac_agent_keeps_its_replay_buffer(tmp_path: Path) -> None:
    """Issue 9, defect 6: the buffer was neither saved nor restored."""
    from rlhp.rl.agents import load_agent, save_agent

    config = TrainConfig("Pendulum-v1", total_timesteps=300).with_overrides(
        ['agent.algo="sac"', 'agent.overrides={"learning_starts": 1000}']
    )
    stack = build_stack(config, EpisodePool(1000), None, env_seed=0)
    stack.model.learn(150)
    save_agent(stack, tmp_path / "agent.pt")
    assert (tmp_path / "replay.npz").is_file()
    fresh = build_stack(config, EpisodePool(1000), None, env_seed=1)
    assert fresh.model.replay_buffer is not None and fresh.model.replay_buffer.pos == 0
    load_agent(fresh, tmp_path / "agent.pt")
    old, new = stack.model.replay_buffer, fresh.model.replay_buffer
    assert old is not None and new.pos == old.pos == 150 and new.full == old.full
    for name in ("observations", "actions", "rewards", "dones", "timeouts"):
        assert np.array_equal(getattr(new, name)[:150], getattr(old, name)[:150]), name


@pytest.mark.parametrize("learned", [True, False])
def test_continuing_hides_terminations_from_the_agent_but_not_from_the_pool(
    learned: bool,
) -> None:
    """``agent.episode_ends="continue"`` (the paper's Atari setting): a terminated episode
    goes on for an agent trained on r̂ (its env has reset), a truncated one still ends;
    the pool and the statistics get every real episode. The env twin is unaffected."""
    venv = make_vec_env(lambda: gym.make("CartPole-v1", max_episode_steps=15), n_envs=3, seed=0)
    pool = EpisodePool(100_000)
    model = constant_model(0.25, 0.0) if learned else None
    wrapper = RewardSwapWrapper(venv, pool, model, continuing=True)
    wrapper.reset()
    for _ in range(200):
        _, _, done, infos = wrapper.step(
            np.array([wrapper.action_space.sample() for _ in range(3)])
        )
        truncated = np.array([i.get("TimeLimit.truncated", False) for i in infos])
        ended = np.array(["terminal_observation" in i for i in infos])
        expected = ended & truncated if learned else ended
        assert np.array_equal(done, expected)
    terminated = [e for e in pool.episodes if e.terminated]
    assert terminated and len(terminated) < len(pool.episodes)  # both kinds happened
    assert wrapper.stats().episodes == len(pool.episodes)
