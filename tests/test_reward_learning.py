"""Known answers for reward learning on a real environment with a known reward."""

import logging

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhp.config import OracleConfig, RewardModelConfig
from rlhp.labellers.base import TARGETS
from rlhp.labellers.oracle import oracle_choices
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.reward.training import Comparisons, RewardTrainer, agreement
from rlhp.segments import Episode, EpisodePool, SegmentBatch
from rlhp.stats import pearson, ranks


def pendulum_episodes(count: int, rng: np.random.Generator) -> list[Episode]:
    env = gym.make("Pendulum-v1")
    env.action_space.seed(int(rng.integers(1 << 30)))
    episodes = []
    for i in range(count):
        obs, _ = env.reset(seed=int(rng.integers(1 << 30)))
        o, a, r = [], [], []
        for _ in range(100):
            action = env.action_space.sample()
            nxt, reward, _, _, _ = env.step(action)
            o.append(obs)
            a.append(action)
            r.append(reward)
            obs = nxt
        episodes.append(Episode(np.array(o), np.array(a), np.array(r), False, 0, i))
    return episodes


def test_learned_reward_ranks_states_like_the_true_reward(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    pool = EpisodePool(100_000)
    for episode in pendulum_episodes(40, rng):
        pool.add(episode)
    segments, truth = pool.sample(600, 20, rng)
    batch = SegmentBatch.from_pairs(list(zip(segments[0::2], segments[1::2], strict=True)))
    pair_truth = np.stack([truth[0::2], truth[1::2]], axis=1)
    choices = oracle_choices(pair_truth, OracleConfig(), rng)
    targets = np.array([TARGETS[c] for c in choices], dtype=np.float32)
    data = Comparisons.from_batch(batch, targets)
    env = gym.make("Pendulum-v1")
    config = RewardModelConfig()
    model = RewardEnsemble(
        FeatureSpec.from_spaces(env.observation_space, env.action_space, False), config
    )
    model.fit_input_normalization(data.obs, data.actions, data.absorbing)
    metrics = RewardTrainer(model, config, rng).fit(data, epochs=60)
    assert metrics.val_accuracy > 0.85

    # fresh states from new episodes: r̂ must order them as the true reward does
    test = pendulum_episodes(5, rng)
    obs = torch.as_tensor(np.concatenate([e.obs for e in test]))
    true = np.concatenate([e.true_rewards for e in test])
    with torch.no_grad():
        learned = model.rewards(
            obs, torch.zeros(len(obs), 1), torch.zeros(len(obs), dtype=torch.bool)
        ).numpy()
    spearman = pearson(ranks(learned), ranks(true))
    assert spearman is not None and spearman >= 0.9
    assert agreement(model, data) > 0.9


def test_ranks_average_ties() -> None:
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_a_long_fit_says_how_far_it_is(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from rlhp.reward import training

    monkeypatch.setattr(training, "PROGRESS_SECONDS", 0.0)  # every step is "long"
    spec = FeatureSpec((3,), 0, False)
    config = RewardModelConfig(batch_size=8)
    model = RewardEnsemble(spec, config)
    n, t = 40, 4
    data = Comparisons(
        torch.randn(n, 2, t, 3),
        torch.zeros(n, 2, t, 0),
        torch.zeros(n, 2, t, dtype=torch.bool),
        torch.as_tensor(rng.integers(0, 2, n).astype(np.float32)),
    )
    with caplog.at_level(logging.INFO, logger="rlhp.reward.training"):
        RewardTrainer(model, config, rng).fit(data, epochs=2)
    said = [r.getMessage() for r in caplog.records if "reward fit:" in r.getMessage()]
    assert said[0].startswith("reward fit: 0 of 10 gradient steps on 40 pairs")
    assert said[-1].startswith("reward fit: 9 of 10")
