"""Query selectors (paper §2.2.4, B-Pref): known answers on hand-placed candidates."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhp.config import AgentConfig, RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.loop.runs import train
from rlhp.queries import (
    EnsembleSelector,
    KCenterSelector,
    QuerySelector,
    UniformSelector,
    farthest_first,
    make_selector,
    pair_features,
)
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.segments import SegmentBatch


def _batch(values: list[float], steps: int = 1) -> SegmentBatch:
    """Pairs whose both segments sit at one 1-D point: pair i's feature is ``values[i]``."""
    n = len(values)
    obs = np.broadcast_to(np.asarray(values, np.float32)[:, None, None, None], (n, 2, steps, 1))
    return SegmentBatch(
        obs=np.ascontiguousarray(obs),
        actions=np.zeros((n, 2, steps), np.int64),
        absorbing=np.zeros((n, 2, steps), bool),
    )


def _model(members: int, seed: int = 0) -> RewardEnsemble:
    torch.manual_seed(seed)
    spec = FeatureSpec(obs_shape=(1,), action_dim=0, discrete_actions=False)
    return RewardEnsemble(spec, RewardModelConfig(ensemble_size=members, zero_init_head=False))


def test_farthest_first_on_hand_placed_points() -> None:
    # the origin is already covered; by hand: (5,4) is farthest from it (6.40), then (5,0)
    # (4.00 from either), then (0,3.5) (3.50), then (2,2) (2.50 from (0,3.5)), then (1,0)
    points = torch.tensor([[1.0, 0.0], [5.0, 0.0], [0.0, 3.5], [5.0, 4.0], [2.0, 2.0]])
    centers = torch.zeros(1, 2)
    assert farthest_first(points, 5, centers).tolist() == [3, 1, 2, 4, 0]
    assert farthest_first(points, 2, centers).tolist() == [3, 1]
    # without centers the first pick is the rng's, then farthest-first from it
    rng = np.random.default_rng(0)
    first = int(np.random.default_rng(0).integers(5))
    picks = farthest_first(points, 2, None, rng)
    assert picks[0] == first
    assert picks[1] == int(torch.cdist(points, points[first : first + 1])[:, 0].argmax())


def test_farthest_first_never_repeats_a_point() -> None:
    points = torch.zeros(4, 3)  # all duplicates: every distance is 0
    assert sorted(farthest_first(points, 4, torch.ones(1, 3)).tolist()) == [0, 1, 2, 3]
    assert farthest_first(points, 9).shape == (4,)


def test_kcenter_covers_what_earlier_rounds_did_not() -> None:
    selector = KCenterSelector(model=None)
    batch = _batch([0.0, 1.0, 10.0, 11.0, 5.0])
    rng = np.random.default_rng(3)
    first = selector(batch, 1, rng)
    centers = selector.centers(1)
    assert centers is not None and centers.shape == (1, 2 * 1 * 2) and selector.centers(5) is None
    # the next round's pick is the candidate farthest from the pair asked before
    values = np.array([0.0, 1.0, 10.0, 11.0, 5.0])
    expected = int(np.abs(values - values[first[0]]).argmax())
    assert selector(batch, 1, rng).tolist() == [expected]
    # and the third is the farthest from both
    chosen = {int(first[0]), expected}
    gaps = [min(abs(v - values[c]) for c in chosen) for v in values]
    assert selector(batch, 1, rng).tolist() == [int(np.argmax(gaps))]


def test_pair_features_standardise_and_mark_absorbing_steps() -> None:
    model = _model(1)
    model.input_mean.fill_(2.0)
    model.input_std.fill_(4.0)
    batch = _batch([6.0], steps=2)
    absorbing = batch.absorbing.copy()
    absorbing[0, 1, 1] = True
    features = pair_features(SegmentBatch(batch.obs, batch.actions, absorbing), model)
    # per step (standardised obs, absorbing flag); pair = left's steps, then right's
    assert features.tolist() == [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]]


def test_kcenter_after_a_prefilter_picks_only_among_the_most_uncertain_half() -> None:
    model = _model(3)
    rng = np.random.default_rng(0)
    batch = _batch(list(rng.normal(size=40) * 3), steps=2)
    obs = batch.obs.copy()
    obs[:, 1] = rng.normal(size=(40, 2, 1)) * 3  # the right segments elsewhere: P̂ ≠ ½
    batch = SegmentBatch(obs, batch.actions, batch.absorbing)
    scores = EnsembleSelector(model, "disagreement").scores(batch)
    top_half = set(np.argsort(-scores)[:20].tolist())
    selector = make_selector("kcenter_disagreement", model)
    assert isinstance(selector, KCenterSelector)
    picks = selector(batch, 6, rng)
    assert len(set(picks.tolist())) == 6 and set(picks.tolist()) <= top_half
    entropy = make_selector("kcenter_entropy", model)
    assert isinstance(entropy, KCenterSelector) and entropy.prefilter is not None
    assert entropy.prefilter.kind == "entropy"


def test_one_member_disagreement_falls_back_to_entropy_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _model(1)
    batch = _batch(list(np.linspace(-3, 3, 12)), steps=2)
    obs = batch.obs.copy()
    obs[:, 1] = 0.5  # every right segment at 0.5: the pairs differ in how sure P̂ is
    batch = SegmentBatch(obs, batch.actions, batch.absorbing)
    # the defect: one member's disagreement is 0 for every pair, so ranking by it is random
    assert np.all(EnsembleSelector(model, "disagreement").scores(batch) == 0)
    with caplog.at_level(logging.WARNING, logger="rlhp.queries"):
        selector = make_selector("disagreement", model)
    assert isinstance(selector, EnsembleSelector) and selector.kind == "entropy"
    assert "ensemble_size" in caplog.text and "entropy" in caplog.text
    assert np.ptp(selector.scores(batch)) > 0  # the single predictor's entropy ranks pairs
    with caplog.at_level(logging.WARNING, logger="rlhp.queries"):
        combo = make_selector("kcenter_disagreement", model)
    assert isinstance(combo, KCenterSelector) and combo.prefilter is not None
    assert combo.prefilter.kind == "entropy"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rlhp.queries"):
        assert isinstance(make_selector("disagreement", _model(3)), EnsembleSelector)
    assert not caplog.text  # an ensemble keeps its disagreement, silently


def test_uniform_picks_distinct_pairs() -> None:
    picks = UniformSelector()(_batch(list(range(10))), 4, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 4


class FirstPairs:
    """A user's own selector: always the first ``count`` candidates."""

    name = "first-pairs"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(
        self, candidates: SegmentBatch, count: int, rng: np.random.Generator
    ) -> np.ndarray:
        self.calls.append((len(candidates), count))
        return np.arange(min(count, len(candidates)))


def test_a_custom_selector_goes_through_the_python_api(tmp_path: Path) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=1024,
        schedule=ScheduleConfig(labels=12, updates=2),
        reward_model=RewardModelConfig(pretrain_epochs=2, epochs_per_update=1),
        agent=AgentConfig(overrides={"n_steps": 128}),
    )
    config = replace(config, queries=replace(config.queries, segment_length=10, oversampling=3))
    made: list[FirstPairs] = []

    def factory(cfg: TrainConfig, model: RewardEnsemble) -> QuerySelector:
        assert cfg == config and model.members == 3
        made.append(FirstPairs())
        return made[-1]

    summary = train(config, tmp_path / "run", selector_factory=factory)
    assert summary.labels_asked == 12 and len(made) == 1
    asked = sum(count for _, count in made[0].calls)
    assert asked == 12 and all(n == 3 * count for n, count in made[0].calls)
    db = sqlite3.connect(tmp_path / "run" / "labels.sqlite")
    assert {s for (s,) in db.execute("select selector from pairs")} == {"first-pairs"}


@pytest.mark.parametrize(
    "name",
    ["uniform", "disagreement", "entropy", "kcenter", "kcenter_disagreement", "kcenter_entropy"],
)
def test_every_selector_picks_pixel_pairs_with_the_cnn_reward(name: str) -> None:
    """k-center read the MLP's input statistics, which the CNN lacks: every k-center
    selector raised AttributeError on pixel runs. It now compares a coarse grid of each
    channel: the pair whose only bright pixels sit in the top-left corner is the outlier."""
    from gymnasium import spaces

    from rlhp.reward.ensemble import make_reward_model

    shape = (4, 10, 10)
    model = make_reward_model(
        spaces.Box(0, 255, shape, np.uint8), spaces.Discrete(3), RewardModelConfig()
    )
    obs = np.zeros((12, 2, 5, *shape), np.uint8)
    obs[:, :, :, :, 8:, 8:] = 255  # every pair lit in the bottom-right corner…
    obs[7, :, :, :, 8:, 8:], obs[7, :, :, :, :2, :2] = 0, 255  # …but pair 7: top-left
    batch = SegmentBatch(obs, np.zeros((12, 2, 5), np.int64), np.zeros((12, 2, 5), bool))
    assert pair_features(batch, model).shape == (12, 2 * 5 * (4 * 4 * 4 + 1))
    picks = make_selector(name, model)(batch, 3, np.random.default_rng(0))
    assert len(set(picks.tolist())) == 3 and all(0 <= p < 12 for p in picks)
    if name == "kcenter":
        assert 7 in picks.tolist()  # the first pick is the rng's; farthest-first then finds 7
