"""SURF (Park et al. 2022): temporal crops and confidence-thresholded pseudo-labels."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhp.ablations import apply_variants
from rlhp.config import AgentConfig, RewardModelConfig, ScheduleConfig, SurfConfig, TrainConfig
from rlhp.loop.metrics import read_metrics
from rlhp.loop.runs import train
from rlhp.preferences import preference_loss
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.reward.offline import fit_in_rounds
from rlhp.reward.surf import UnlabelledPairs, crop_mask, pseudo_label_loss
from rlhp.reward.training import Comparisons, RewardTrainer
from rlhp.segments import Episode, EpisodePool


def test_crops_are_one_window_per_segment_of_one_length_per_pair() -> None:
    mask = crop_mask((3, 200), 55, 45 / 55, np.random.default_rng(0)).numpy()  # (K, B, 2, T)
    assert mask.shape == (3, 200, 2, 55)
    lengths = mask.sum(axis=-1)  # (K, B, 2)
    assert np.all(lengths[..., 0] == lengths[..., 1])  # both segments cropped to one length
    assert lengths.min() == 45 and lengths.max() == 55  # the paper's 45-55 of 55
    starts = mask.argmax(axis=-1)
    assert len(np.unique(starts)) > 5  # windows at many offsets
    windows = np.diff(mask, axis=-1)  # a contiguous window rises at most once, falls at most once
    assert np.all((windows == 1).sum(axis=-1) <= 1) and np.all((windows == -1).sum(axis=-1) <= 1)
    assert np.all(crop_mask((2, 4), 7, 1.0, np.random.default_rng(0)).numpy() == 1)


def test_pseudo_labels_only_where_a_member_is_confident() -> None:
    # member 0: pair 0 has logit +10 (P̂ = 0.99995 > 0.999), pair 1 logit −0.1 (unsure);
    # member 1: pair 0 logit −8 (P̂(left) = 0.00034, so confident the right is better)
    rewards = torch.zeros(2, 2, 2, 1)
    rewards[0, 0, 0, 0], rewards[0, 1, 1, 0], rewards[1, 0, 1, 0] = 10.0, 0.1, 8.0
    losses, confident = pseudo_label_loss(rewards, rewards, threshold=0.999, epsilon=0.1)
    assert confident.tolist() == [0.5, 0.5]
    left = preference_loss(torch.tensor(10.0), torch.tensor(1.0), 0.1)
    right = preference_loss(torch.tensor(-8.0), torch.tensor(0.0), 0.1)
    assert losses.tolist() == pytest.approx([float(left) / 2, float(right) / 2])
    # the label comes from the uncropped pair, the loss from the crop
    cropped = rewards.clone()
    cropped[0, 0, 0, 0] = -2.0
    losses, _ = pseudo_label_loss(rewards, cropped, threshold=0.999, epsilon=0.0)
    assert float(losses[0]) == pytest.approx(-math.log(torch.sigmoid(torch.tensor(-2.0))) / 2)


def test_unlabelled_pairs_are_cut_from_the_pool() -> None:
    pool = EpisodePool(1000)
    assert UnlabelledPairs.sample(pool, 4, 5, np.random.default_rng(0)) is None
    obs = np.arange(30, dtype=np.float32)[:, None]
    pool.add(Episode(obs, np.zeros((30, 1)), np.ones(30), terminated=False, env_step=30))
    pairs = UnlabelledPairs.sample(pool, 8, 5, np.random.default_rng(0))
    assert pairs is not None and pairs.obs.shape == (8, 2, 5, 1) and len(pairs) == 8
    assert torch.all(pairs.obs[..., 1:, 0] - pairs.obs[..., :-1, 0] == 1)  # consecutive steps


def _data(n: int, rng: np.random.Generator) -> Comparisons:
    obs = rng.normal(size=(n, 2, 6, 1)).astype(np.float32)
    targets = (obs[:, 0].sum(axis=(1, 2)) > obs[:, 1].sum(axis=(1, 2))).astype(np.float32)
    return Comparisons(
        torch.as_tensor(obs),
        torch.zeros(n, 2, 6),
        torch.zeros(n, 2, 6, dtype=torch.bool),
        torch.as_tensor(targets),
    )


def test_a_surf_fit_learns_from_the_unlabelled_pairs() -> None:
    rng = np.random.default_rng(0)
    labelled, unlabelled_data = _data(8, rng), _data(512, rng)
    unlabelled = UnlabelledPairs(
        unlabelled_data.obs, unlabelled_data.actions, unlabelled_data.absorbing
    )
    surf = SurfConfig(enabled=True, threshold=0.6, loss_weight=5.0)

    def fitted(pairs: UnlabelledPairs | None) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        config = RewardModelConfig(ensemble_size=2, hidden_sizes=(8,), surf=surf)
        model = RewardEnsemble(FeatureSpec((1,), 0, False), config)
        RewardTrainer(model, config, np.random.default_rng(1)).fit(labelled, 20, unlabelled=pairs)
        return {k: v.clone() for k, v in model.state_dict().items()}

    with_pairs, without = fitted(unlabelled), fitted(None)
    assert any(not torch.equal(with_pairs[k], without[k]) for k in with_pairs)
    assert all(torch.equal(fitted(unlabelled)[k], with_pairs[k]) for k in with_pairs)  # seeded


def test_an_offline_fit_passes_surf_its_unlabelled_pairs() -> None:
    """``fit_in_rounds`` (``rlhp reward fit``'s rounds, the offline benchmarks) uses them too."""
    rng = np.random.default_rng(0)
    labelled, unlabelled_data = _data(8, rng), _data(512, rng)
    unlabelled = UnlabelledPairs(
        unlabelled_data.obs, unlabelled_data.actions, unlabelled_data.absorbing
    )
    config = RewardModelConfig(
        ensemble_size=2, hidden_sizes=(8,), surf=SurfConfig(enabled=True, threshold=0.6)
    )

    def fitted(pairs: UnlabelledPairs | None) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = RewardEnsemble(FeatureSpec((1,), 0, False), config)
        fit_in_rounds(model, labelled, config, 10, seed=1, unlabelled=pairs)
        return {k: v.clone() for k, v in model.state_dict().items()}

    with_pairs, without = fitted(unlabelled), fitted(None)
    assert any(not torch.equal(with_pairs[k], without[k]) for k in with_pairs)


@pytest.mark.slow
def test_surf_runs_end_to_end(tmp_path: Path) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=2048,
        schedule=ScheduleConfig(labels=16, updates=4),
        reward_model=RewardModelConfig(pretrain_epochs=2, epochs_per_update=1),
        agent=AgentConfig(overrides={"n_steps": 128}),
    )
    config = apply_variants(
        replace(config, queries=replace(config.queries, segment_length=10)), methods=["surf"]
    )
    assert config.reward_model.surf.enabled
    summary = train(config, tmp_path / "run")
    assert summary.labels_answered == 16
    assert any("reward/val_accuracy" in r for r in read_metrics(tmp_path / "run"))
