"""The paper's ablations (§3.3) as named variants: each changes exactly what it says."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhp.ablations import ABLATIONS, METHODS, apply_variants
from rlhp.cli.main import parser
from rlhp.cli.train import train_config
from rlhp.config import AgentConfig, RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.errors import ConfigError
from rlhp.loop.metrics import read_metrics
from rlhp.loop.runs import _flat, train
from rlhp.queries import UniformSelector, make_selector
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.reward.training import Comparisons, RewardTrainer
from rlhp.store.labels import LabelStore

EXPECTED = {
    "random_queries": {"queries.selector": "uniform"},
    "no_ensemble": {"reward_model.ensemble_size": 1, "queries.selector": "uniform"},
    "no_online_queries": {"schedule.pretrain_fraction": 1.0},
    "no_l2": {"reward_model.l2_initial": 0.0},
    "segment_length_1": {"queries.segment_length": 1},
    "regression": {"reward_model.target": "returns"},
    "surf": {"reward_model.surf.enabled": True},
    "rune": {"reward_model.rune.enabled": True},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_variant_changes_exactly_what_it_says(name: str) -> None:
    base = TrainConfig("Hopper-v5")
    changed = apply_variants(base, *(([name], []) if name in ABLATIONS else ([], [name])))
    before, after = _flat(base.to_dict()), _flat(changed.to_dict())
    diff = {k: after[k] for k in after if after[k] != before[k]}
    assert diff == EXPECTED[name]
    assert set(ABLATIONS) | set(METHODS) == set(EXPECTED)


def test_variants_combine_unless_they_disagree() -> None:
    both = apply_variants(TrainConfig("CartPole-v1"), ["random_queries", "no_ensemble"])
    assert both.queries.selector == "uniform" and both.reward_model.ensemble_size == 1
    with pytest.raises(ConfigError, match="unknown --ablation 'psychic'"):
        apply_variants(TrainConfig("CartPole-v1"), ["psychic"])


def test_the_ablation_is_applied_after_set_so_a_grid_cannot_undo_it() -> None:
    argv = ["train", "CartPole-v1", "--ablation", "no_online_queries"]
    argv += ["--set", "schedule.pretrain_fraction=0.5", "--query", "entropy"]
    config = train_config(parser().parse_args(argv), None)
    assert config.schedule.pretrain_fraction == 1.0 and config.queries.selector == "entropy"


def test_no_ensemble_is_one_uniform_predictor_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = apply_variants(TrainConfig("CartPole-v1"), ["no_ensemble"])
    model = RewardEnsemble(FeatureSpec((4,), 0, False), config.reward_model)
    with caplog.at_level(logging.WARNING):
        selector = make_selector(config.queries.selector, model)
    assert model.members == 1 and isinstance(selector, UniformSelector) and not caplog.text


def _opposed_comparisons(n: int = 64, steps: int = 5) -> tuple[Comparisons, torch.Tensor]:
    """Pairs on a 1-D state whose true reward is the state; every label says the opposite."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 2, steps, 1)).astype(np.float32)
    returns = obs[..., 0].sum(axis=-1)  # (N, 2)
    targets = (returns[:, 0] < returns[:, 1]).astype(np.float32)  # wrong on purpose
    data = Comparisons(
        torch.as_tensor(obs),
        torch.zeros(n, 2, steps),
        torch.zeros(n, 2, steps, dtype=torch.bool),
        torch.as_tensor(targets),
        returns=torch.as_tensor(returns),
    )
    return data, torch.as_tensor(returns)


def _fitted_correlation(target: str) -> float:
    torch.manual_seed(0)
    config = RewardModelConfig(ensemble_size=2, hidden_sizes=(16,), target=target)  # type: ignore[arg-type]
    model = RewardEnsemble(FeatureSpec((1,), 0, False), config)
    data, returns = _opposed_comparisons()
    RewardTrainer(model, config, np.random.default_rng(0)).fit(data, epochs=60)
    with torch.no_grad():
        predicted = model.rewards(data.obs, data.actions, data.absorbing).sum(dim=-1)  # (N, 2)
    return float(np.corrcoef(predicted.flatten().numpy(), returns.flatten().numpy())[0, 1])


def test_regression_trains_on_returns_not_comparisons() -> None:
    # the labels contradict the true returns: the comparison loss follows the labels, the
    # regression ablation the returns
    assert _fitted_correlation("returns") > 0.95
    assert _fitted_correlation("comparisons") < -0.8


def test_regression_without_returns_is_refused() -> None:
    config = RewardModelConfig(target="returns")
    model = RewardEnsemble(FeatureSpec((1,), 0, False), config)
    data, _ = _opposed_comparisons()
    with pytest.raises(ValueError, match="true returns"):
        RewardTrainer(model, config, np.random.default_rng(0)).fit(
            dataclasses.replace(data, returns=None), epochs=1
        )
    with pytest.raises(ConfigError, match="--feedback oracle"):
        TrainConfig("CartPole-v1", feedback="human", reward_model=config)


def test_no_l2_keeps_the_coefficient_at_zero() -> None:
    config = apply_variants(TrainConfig("CartPole-v1"), ["no_l2"]).reward_model
    config = replace(config, hidden_sizes=(8,))
    model = RewardEnsemble(FeatureSpec((1,), 0, False), config)
    trainer = RewardTrainer(model, config, np.random.default_rng(0))
    data, _ = _opposed_comparisons()
    for _ in range(3):
        assert trainer.fit(data, epochs=5).l2 == 0.0
    assert torch.all(trainer.l2 == 0)


def _tiny(*ablations: str) -> TrainConfig:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=2048,
        schedule=ScheduleConfig(labels=16, updates=4),
        reward_model=RewardModelConfig(pretrain_epochs=2, epochs_per_update=1),
        agent=AgentConfig(overrides={"n_steps": 128}),
    )
    config = replace(config, queries=replace(config.queries, segment_length=10))
    return apply_variants(config, ablations)


def test_no_online_queries_asks_nothing_after_rl_starts(tmp_path: Path) -> None:
    config = _tiny("no_online_queries")
    summary = train(config, tmp_path / "run")
    assert summary.labels_asked == summary.labels_answered == 16
    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    assert {step for *_, step in store.pairs()} == {0}  # every pair asked before RL
    fits = [r for r in read_metrics(tmp_path / "run") if "reward/fitted_at_step" in r]
    assert [r["reward/fitted_at_step"] for r in fits] == [0]  # r̂ never refitted during RL
    # the full method, same budget, asks during RL too
    full = train(_tiny(), tmp_path / "full")
    steps = {s for *_, s in LabelStore.open(tmp_path / "full" / "labels.sqlite").pairs()}
    assert full.labels_asked == 16 and max(steps) > 0


def test_regression_and_one_step_segments_run_end_to_end(tmp_path: Path) -> None:
    summary = train(_tiny("regression", "segment_length_1"), tmp_path / "run")
    # one-step CartPole clips all pay 1: every answer ties, so rounds after the first bank
    # labels (rlhp.loop.coverage) — at most the budget of 16 is asked, all of it answered
    assert 0 < summary.labels_answered == summary.labels_asked <= 16
    db = sqlite3.connect(tmp_path / "run" / "labels.sqlite")
    segments = db.execute("select count(*) from segments").fetchone()[0]
    assert segments == 2 * summary.labels_asked
    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    assert {store.segment(i).length for i in store.segment_ids()} == {1}
    losses = [
        r["reward/train_loss"] for r in read_metrics(tmp_path / "run") if "reward/train_loss" in r
    ]
    assert losses and all(np.isfinite(losses))
