from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlhp.rl.sim_state import ClipError, get_state, set_state
from rlhp.segments import Episode, cut_segment
from tests.conftest import cartpole_segments


def test_cartpole_state_round_trip() -> None:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    wanted = np.array([0.5, -0.1, 0.05, 0.2])
    set_state(env, wanted)
    np.testing.assert_allclose(get_state(env), wanted, rtol=1e-6)
    obs, *_ = env.step(1)
    # the dynamics continue from the state we set: x moves by tau * x_dot = 0.02 * -0.1
    assert obs[0] == pytest.approx(0.5 - 0.002, abs=1e-6)


def test_pendulum_state_round_trip() -> None:
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    set_state(env, np.array([np.pi, 0.0]))
    obs, *_ = env.step(np.array([0.0], dtype=np.float32))
    assert obs[0] == pytest.approx(-1.0, abs=1e-3)  # cos(pi): hanging down


def test_unsupported_env_is_refused() -> None:
    env = gym.make("FrozenLake-v1")
    env.reset(seed=0)
    with pytest.raises(ClipError, match="classic-control and MuJoCo"):
        get_state(env)


def test_wrapper_records_the_state_of_each_observation() -> None:
    segments, _ = cartpole_segments(8, length=10)
    for s in segments:
        assert s.states is not None and s.states.shape == (10, 4)
        real = ~s.absorbing
        # CartPole's observation *is* its state: recorded state t belongs to obs t
        np.testing.assert_allclose(s.states[real], s.obs[real], atol=1e-6)
        assert not s.states[s.absorbing].any()


def test_cut_segment_pads_states_with_zeros() -> None:
    states = np.arange(12, dtype=np.float64).reshape(3, 4) + 1
    episode = Episode(
        obs=np.zeros((3, 4), np.float32),
        actions=np.zeros(3, np.int64),
        true_rewards=np.ones(3),
        terminated=True,
        env_step=3,
        states=states,
    )
    segment, _ = cut_segment(episode, 1, 4)
    assert segment.states is not None
    np.testing.assert_array_equal(segment.states[:2], states[1:])
    np.testing.assert_array_equal(segment.states[2:], 0)
    np.testing.assert_array_equal(segment.absorbing, [False, False, True, True])


def test_wrapper_without_record_states_keeps_none() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from rlhp.rl.reward_wrapper import RewardSwapWrapper
    from rlhp.segments import EpisodePool

    pool = EpisodePool(1000)
    wrapper = RewardSwapWrapper(make_vec_env("CartPole-v1", n_envs=1, seed=0), pool, None)
    wrapper.reset()
    while len(pool) < 1:
        wrapper.step(np.array([0]))
    assert pool.episodes[0].states is None
