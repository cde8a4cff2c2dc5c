"""RUNE (Liang et al. 2022): the agent's reward plus a decaying ensemble-disagreement bonus."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from rlhp.config import RewardModelConfig, RuneConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.rl.rune import rune_beta, rune_bonus
from rlhp.segments import EpisodePool


def _model(members: int) -> RewardEnsemble:
    torch.manual_seed(0)
    config = RewardModelConfig(ensemble_size=members, zero_init_head=False, hidden_sizes=(8,))
    return RewardEnsemble(FeatureSpec((4,), 0, False), config)


def test_beta_decays_as_the_paper_says() -> None:
    assert rune_beta(0, 0.05, 1e-5) == 0.05
    assert rune_beta(100_000, 0.05, 1e-5) == pytest.approx(0.05 * math.exp(-1), rel=1e-4)
    assert rune_beta(10, 0.05, 0.0) == 0.05


def test_the_bonus_is_beta_times_the_members_std() -> None:
    model = _model(3)
    obs = np.random.default_rng(0).normal(size=(6, 4))
    with torch.no_grad():
        normalised = model.normalize(
            model.raw_rewards(
                torch.as_tensor(obs).float(), torch.zeros(6), torch.zeros(6, dtype=torch.bool)
            )
        )  # (K, n)
        expected = 0.02 * (normalised - model.member_offsets()[:, None]).std(dim=0).numpy()
    bonus = rune_bonus(model.snapshot().advantages(obs, np.zeros(6)), np.zeros(6), 0.02, 1e-5)
    assert bonus == pytest.approx(expected, rel=1e-4) and np.all(bonus > 0)
    single = _model(1).snapshot().advantages(obs, np.zeros(6))
    assert np.all(rune_bonus(single, np.zeros(6), 0.05, 0.0) == 0)


def test_the_wrapper_adds_the_bonus_only_when_rune_is_on() -> None:
    model = _model(3)
    rewards = {}
    for on in (False, True):
        venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        wrapper = RewardSwapWrapper(venv, EpisodePool(1000), model, rune=RuneConfig(enabled=on))
        obs = wrapper.reset()
        actions = np.array([0, 1])
        _, r, _, _ = wrapper.step(actions)
        rewards[on] = (r, obs)
    plain, obs = rewards[False]
    bonus = rune_bonus(model.snapshot().advantages(obs, np.array([0, 1])), np.zeros(2), 0.05, 1e-5)
    assert rewards[True][0] == pytest.approx(plain + bonus, rel=1e-5)
    assert np.all(bonus > 0)


def test_the_bonus_works_on_pixel_rewards() -> None:
    """RUNE on a MinAtar or Atari run raised AttributeError at the first step: the CNN's
    snapshot had no per-member advantages."""
    from gymnasium import spaces

    from rlhp.reward.ensemble import make_reward_model

    torch.manual_seed(0)
    config = RewardModelConfig(zero_init_head=False)
    model = make_reward_model(spaces.Box(0, 255, (4, 10, 10), np.uint8), spaces.Discrete(3), config)
    obs = np.random.default_rng(0).integers(0, 256, (5, 4, 10, 10), dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        normalised = model.normalize(
            model.raw_rewards(
                torch.as_tensor(obs), torch.zeros(5), torch.zeros(5, dtype=torch.bool)
            )
        )
        expected = 0.05 * (normalised - model.member_offsets()[:, None]).std(dim=0).numpy()
    bonus = rune_bonus(model.snapshot().advantages(obs, np.zeros(5)), np.zeros(5), 0.05, 0.0)
    assert bonus == pytest.approx(expected, rel=1e-4) and np.all(bonus > 0)
