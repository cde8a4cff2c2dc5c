"""PEBBLE's state-entropy reward: k-NN distances with hand-computed answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from rlhp.config import RewardModelConfig, TrainConfig
from rlhp.loop.metrics import read_metrics
from rlhp.loop.runs import train
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.rl.exploration import StateEntropyReward, knn_distance
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.segments import EpisodePool


def test_knn_distance_picks_the_kth_neighbour() -> None:
    reference = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    query = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert np.allclose(knn_distance(query, reference, 1), [1.0, 0.0])
    assert np.allclose(knn_distance(query, reference, 2), [2.0, math.sqrt(13)])
    assert np.allclose(knn_distance(query, reference, 3), [5.0, math.sqrt(20)])
    assert np.allclose(knn_distance(query, reference, 9), [5.0, math.sqrt(20)])  # k > N: farthest
    with pytest.raises(ValueError):
        knn_distance(query, np.zeros((0, 2)), 1)


def test_state_entropy_rewards_novel_states() -> None:
    reward = StateEntropyReward(obs_dim=2, k=1, capacity=4)
    assert np.allclose(reward(np.array([[0.0, 0.0]])), 0.0)  # nothing to compare with yet
    assert np.allclose(reward(np.array([[0.0, 0.0], [3.0, 4.0]])), [0.0, math.log(6.0)])
    # the ring buffer forgets: after 4 more far states, the origin is new again
    reward(np.full((4, 2), 100.0))
    assert np.allclose(reward(np.array([[0.0, 0.0]])), math.log(1 + 100 * math.sqrt(2)))


def test_wrapper_explores_then_shows_the_learned_reward() -> None:
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = RewardEnsemble(
        FeatureSpec.from_spaces(venv.observation_space, venv.action_space, False),
        RewardModelConfig(),
    )
    with torch.no_grad():
        for layer in [*model.hidden, model.head]:
            layer.weight.zero_()
            layer.bias.zero_()
        model.head.bias.fill_(0.25)
    wrapper = RewardSwapWrapper(venv, EpisodePool(1000), model, explore_steps=20)
    wrapper.reset()
    shown = [wrapper.step(np.array([0, 1]))[1] for _ in range(15)]
    explored = np.concatenate(shown[:10])  # env steps 0..18: state entropy
    assert not np.allclose(explored, 0.25) and np.all(explored >= 0.0)
    assert np.allclose(np.concatenate(shown[10:]), 0.25)  # from env step 20: r̂


def test_a_sac_run_explores_first_then_relabels_its_buffer_once(tmp_path: Path) -> None:
    # No gradient steps (learning_starts beyond the run): only the bookkeeping is tested.
    config = TrainConfig("Pendulum-v1", total_timesteps=300).with_overrides(
        [
            "agent.algo=sac",
            'agent.overrides={"learning_starts": 100000}',
            "agent.explore_steps=120",
            "schedule.labels=10",
            "schedule.updates=1",
        ]
    )
    train(config, tmp_path / "run")
    ended = [r for r in read_metrics(tmp_path / "run") if r.get("rl/exploration_ended")]
    # exploration counts RL steps only (the 2,000 pre-training steps came first), and at
    # its end every transition so far (120, one env) gets r̂
    assert [(r["env_step"], r["rl/relabelled"]) for r in ended] == [(120, 120)]
