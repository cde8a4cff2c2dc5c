import numpy as np
import pytest

from rlhp.config import OracleConfig
from rlhp.labellers.base import Query
from rlhp.labellers.oracle import PolicyReference, SyntheticOracle, oracle_choices
from rlhp.segments import Segment

SWAP = {"left": "right", "right": "left", "equal": "equal", "cant_tell": "cant_tell"}


def test_perfect_oracle_prefers_more_true_reward_and_ties_equal(rng: np.random.Generator) -> None:
    truth = np.array(
        [[[1, 1, 1], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]], [[0, 0, 0], [0, 0, 0]]], dtype=float
    )
    assert oracle_choices(truth, OracleConfig(), rng) == ["left", "right", "equal"]


def test_oracle_is_antisymmetric(rng: np.random.Generator) -> None:
    truth = rng.normal(size=(200, 2, 10)).round(1)
    truth[:20, 1] = truth[:20, 0]  # some exact ties
    forward = oracle_choices(truth, OracleConfig(), rng)
    backward = oracle_choices(truth[:, ::-1], OracleConfig(), rng)
    assert [SWAP[c] for c in forward] == backward


def test_mistake_rate_flips_about_that_share(rng: np.random.Generator) -> None:
    truth = np.zeros((4000, 2, 5))
    truth[:, 0] = 1.0
    choices = oracle_choices(truth, OracleConfig(mistake=0.1), rng)
    assert np.mean([c == "right" for c in choices]) == pytest.approx(0.1, abs=0.02)


def test_stochastic_teacher_follows_bradley_terry(rng: np.random.Generator) -> None:
    truth = np.zeros((4000, 2, 1))
    truth[:, 0, 0] = 1.0  # return difference 1, beta 1 -> P(left) = sigmoid(1)
    choices = oracle_choices(truth, OracleConfig(beta=1.0), rng)
    assert np.mean([c == "left" for c in choices]) == pytest.approx(1 / (1 + np.exp(-1)), abs=0.03)


def test_myopic_teacher_weights_recent_steps(rng: np.random.Generator) -> None:
    # left is better early, right better late; a myopic teacher (gamma 0.5) prefers right
    truth = np.array([[[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]]])
    assert oracle_choices(truth, OracleConfig(), rng) == ["left"]
    assert oracle_choices(truth, OracleConfig(gamma=0.5), rng) == ["right"]


def test_skip_and_equal_thresholds(rng: np.random.Generator) -> None:
    truth = np.array([[[10.0], [9.9]], [[0.1], [0.0]], [[10.0], [0.0]]])
    policy = PolicyReference.from_returns(np.array([5.0, 5.0]))  # average segment return 5
    choices = oracle_choices(truth, OracleConfig(equal=0.1), rng, policy)
    assert choices == ["equal", "equal", "left"]  # |ΔR| < 0.5
    skipped = oracle_choices(truth, OracleConfig(skip=0.1), rng, policy)
    assert skipped == ["left", "cant_tell", "left"]  # better return 0.1 < 0.5


def test_thresholds_follow_the_policy_not_the_other_pairs_asked(rng: np.random.Generator) -> None:
    """Issue 9, defect 3: a pair's answer must not depend on what it is asked beside."""
    pair = np.array([[[1.0], [0.0]]])
    big = np.array([[[100.0], [99.0]]])
    policy = PolicyReference.from_returns(np.array([2.0, 4.0]))  # average 3: δ 0.3
    config = OracleConfig(skip=0.1, equal=0.1)
    alone = oracle_choices(pair, config, rng, policy)
    beside = oracle_choices(np.concatenate([pair, big]), config, rng, policy)
    assert alone == ["left"] and beside[:1] == ["left"]
    # and the threshold follows the policy: a better policy (average 30) makes it a skip
    better = PolicyReference.from_returns(np.array([30.0]))
    assert oracle_choices(pair, config, rng, better) == ["cant_tell"]


def test_skip_teacher_on_negative_rewards_skips_only_the_worst(rng: np.random.Generator) -> None:
    """Pendulum-like returns, all negative: the skip threshold is measured from the policy's
    worst segment, so only pairs of two near-worst segments are skipped (abs() skipped all)."""
    returns = -np.linspace(100.0, 1000.0, 50)  # the policy's segments: −1000 … −100
    policy = PolicyReference.from_returns(returns)  # mean −550, floor −1000: δ_skip 45
    truth = np.array([[[-990.0], [-980.0]], [[-200.0], [-990.0]], [[-400.0], [-300.0]]])
    assert oracle_choices(truth, OracleConfig(skip=0.1), rng, policy) == [
        "cant_tell",
        "left",
        "right",
    ]
    # B-Pref's definition exactly where rewards are never negative: floor 0
    assert PolicyReference.from_returns(np.array([0.5, 3.5])) == PolicyReference(2.0, 0.0)


def test_thresholds_need_a_reference(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="reference"):
        oracle_choices(np.zeros((1, 2, 1)), OracleConfig(skip=0.1), rng)


def test_oracle_labeller_answers_through_the_protocol(rng: np.random.Generator) -> None:
    truths = {1: np.array([1.0, 1.0]), 2: np.array([1.0, 0.0])}
    oracle = SyntheticOracle(truths.__getitem__, OracleConfig(), rng)
    seg = Segment(np.zeros((2, 3)), np.zeros((2,)), np.zeros(2, dtype=bool))
    oracle.request([Query(7, 1, 2, seg, seg), Query(8, 2, 1, seg, seg)])
    answers = oracle.collect()
    assert [(a.pair_id, a.choice) for a in answers] == [(7, "left"), (8, "right")]
    assert oracle.collect() == []
