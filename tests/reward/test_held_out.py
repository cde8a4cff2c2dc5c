"""Each member's validation set is held out for the life of the run (issue 9, defect 1)."""

import math

import numpy as np
import torch
from gymnasium import spaces

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.reward.training import Comparisons, RewardTrainer, held_out_mask


def test_the_split_of_a_pair_does_not_depend_on_the_other_pairs() -> None:
    everything = held_out_mask(np.arange(1, 2001), members=3, seed=7)
    some = held_out_mask(np.array([5, 1999, 40]), members=3, seed=7)
    assert np.array_equal(some, everything[:, [4, 1998, 39]])
    # the same seed gives the same split (a resumed run); another seed another one
    assert np.array_equal(everything, held_out_mask(np.arange(1, 2001), members=3, seed=7))
    assert not np.array_equal(everything, held_out_mask(np.arange(1, 2001), members=3, seed=8))


def test_about_one_in_e_is_held_out_from_each_member_independently() -> None:
    mask = held_out_mask(np.arange(20_000), members=3, seed=0)
    assert np.allclose(mask.mean(axis=1), math.exp(-1), atol=0.015)
    # members' splits are independent: a pair is held out from all three ≈ e⁻³ of the time
    assert abs(mask.all(axis=0).mean() - math.exp(-3)) < 0.01


def _noisy_comparisons(rng: np.random.Generator, ids: np.ndarray) -> Comparisons:
    """Pairs of 1-D observations, true reward x, labels flipped 30 % of the time."""
    n = len(ids)
    obs = torch.as_tensor(rng.normal(size=(n, 2, 5, 1)), dtype=torch.float32)
    better_left = obs[:, 0].sum(dim=(1, 2)) > obs[:, 1].sum(dim=(1, 2))
    flip = torch.as_tensor(rng.random(n) < 0.3)
    targets = (better_left ^ flip).float()
    return Comparisons(
        obs, torch.zeros(n, 2, 5, 1), torch.zeros(n, 2, 5, dtype=torch.bool), targets, ids
    )


def test_a_member_never_trains_on_its_held_out_pairs_across_refits() -> None:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    config = RewardModelConfig(hidden_sizes=(16,))
    model = RewardEnsemble(
        FeatureSpec.from_spaces(spaces.Box(-5, 5, (1,)), spaces.Discrete(2), False), config
    )
    trainer = RewardTrainer(model, config, rng, holdout_seed=3)
    ids = np.arange(100, 130)
    data = _noisy_comparisons(rng, ids)
    for update in range(8):  # the warm-started model refits as labels arrive
        metrics = trainer.fit(data, epochs=4)
        held = held_out_mask(data.ids, 3, seed=3)
        assert trainer.last_bootstrap is not None
        for member in range(3):
            trained_on = set(trainer.last_bootstrap[member].tolist())
            assert trained_on.isdisjoint(data.ids[held[member]].tolist()), update
            assert trained_on <= set(data.ids[~held[member]].tolist())
        assert math.isfinite(metrics.val_loss)
        more = _noisy_comparisons(rng, np.arange(130 + 20 * update, 150 + 20 * update))
        data = Comparisons(
            torch.cat([data.obs, more.obs]),
            torch.cat([data.actions, more.actions]),
            torch.cat([data.absorbing, more.absorbing]),
            torch.cat([data.targets, more.targets]),
            np.concatenate([data.ids, more.ids]),
        )


def test_held_out_loss_is_the_loss_on_unseen_pairs() -> None:
    """On noisy labels the reported held-out loss must not fall below the training loss
    the way a re-drawn out-of-bag set does once the warm-started model has seen it all."""
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    config = RewardModelConfig(hidden_sizes=(64, 64), l2_initial=0.0)
    model = RewardEnsemble(
        FeatureSpec.from_spaces(spaces.Box(-5, 5, (1,)), spaces.Discrete(2), False), config
    )
    trainer = RewardTrainer(model, config, rng, holdout_seed=0)
    data = _noisy_comparisons(rng, np.arange(150))
    for _ in range(12):
        metrics = trainer.fit(data, epochs=20)
        trainer.l2 = torch.zeros(3)  # keep L2 off: the point is what the losses measure
    assert metrics.val_loss > metrics.train_loss


def _trainer(evaluation_pairs: int | None, seed: int) -> RewardTrainer:
    torch.manual_seed(0)
    config = RewardModelConfig(hidden_sizes=(16,), evaluation_pairs=evaluation_pairs)
    model = RewardEnsemble(
        FeatureSpec.from_spaces(spaces.Box(-5, 5, (1,)), spaces.Discrete(2), False), config
    )
    return RewardTrainer(model, config, np.random.default_rng(seed), holdout_seed=3)


def test_a_sampled_evaluation_is_the_evaluation_of_the_pairs_it_drew() -> None:
    data = _noisy_comparisons(np.random.default_rng(0), np.arange(100, 160))
    counts = torch.as_tensor(np.random.default_rng(1).integers(0, 3, (3, 60)), dtype=torch.float32)
    held = torch.as_tensor(held_out_mask(data.ids, 3, seed=3), dtype=torch.float32)
    counts = counts * (1 - held)  # members train only on pairs not held out from them
    # a cap of at least the label count evaluates every pair, and draws nothing
    whole, capped = _trainer(None, seed=5), _trainer(60, seed=5)
    assert whole._evaluate_and_adapt(data, counts, held, 0) == capped._evaluate_and_adapt(
        data, counts, held, 0
    )
    assert capped.rng.random() == np.random.default_rng(5).random()
    # below it: the metrics (and the L2 adapted) of exactly the pairs its generator drew
    sampled = _trainer(20, seed=5)
    pick = np.sort(np.random.default_rng(5).choice(60, 20, replace=False))
    expected = _trainer(None, seed=5)._evaluate_and_adapt(
        data.subset(pick), counts[:, pick], held[:, pick], 0
    )
    assert sampled._evaluate_and_adapt(data, counts, held, 0) == expected
