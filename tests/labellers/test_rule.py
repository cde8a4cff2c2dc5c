"""Comparison rules as labellers: their answers are the function's, and the CLI takes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlhp.cli import main
from rlhp.cli.main import parser
from rlhp.cli.train import train_config
from rlhp.errors import ConfigError
from rlhp.labellers.base import Query
from rlhp.labellers.rule import RuleLabeller, load_rule
from rlhp.store.labels import LabelStore
from tests.conftest import cartpole_segments
from tests.labellers.rules import cart_score, prefer_cart_left

RULE = "tests.labellers.rules:prefer_cart_left"


def test_the_labeller_answers_what_the_rule_says_at_once() -> None:
    segments, _ = cartpole_segments(12, length=15)
    queries = [Query(i, 2 * i, 2 * i + 1, segments[2 * i], segments[2 * i + 1]) for i in range(6)]
    labeller = RuleLabeller(prefer_cart_left)
    labeller.request(queries)
    answers = labeller.collect()
    assert [a.pair_id for a in answers] == list(range(6))
    assert [a.choice for a in answers] == [prefer_cart_left(q.left, q.right) for q in queries]
    assert {a.labeller for a in answers} == {"rule"}
    assert labeller.collect() == []  # handed over once
    # and the rule means what it says: the preferred clip's cart is further left
    for q, a in zip(queries, answers, strict=True):
        better, worse = (q.left, q.right) if a.choice == "left" else (q.right, q.left)
        assert cart_score(better) > cart_score(worse)
    assert labeller.needs_states  # the loop records simulator states for it


def test_known_segments_get_known_answers() -> None:
    segments, _ = cartpole_segments(2, length=10)
    left_of_centre, right_of_centre = segments
    states_l = np.array(left_of_centre.states)
    states_l[:, 0] = -1.0
    states_r = np.array(states_l)
    states_r[:, 0] = 1.0
    from dataclasses import replace

    a, b = replace(left_of_centre, states=states_l), replace(right_of_centre, states=states_r)
    labeller = RuleLabeller(prefer_cart_left, name="me")
    labeller.request([Query(1, 1, 2, a, b), Query(2, 2, 1, b, a), Query(3, 1, 1, a, a)])
    assert [(x.choice, x.labeller) for x in labeller.collect()] == [
        ("left", "me"),
        ("right", "me"),
        ("equal", "me"),
    ]


def test_load_rule_names_what_is_wrong() -> None:
    assert load_rule(RULE) is prefer_cart_left
    for spec, message in [
        ("tests.labellers.rules", "neither a teacher preset nor module:function"),
        ("no_such_module_anywhere:f", "cannot import 'no_such_module_anywhere'"),
        ("tests.labellers.rules:missing", "has no function 'missing'"),
        ("tests.labellers.rules:not_a_function", "has no function 'not_a_function'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_rule(spec)


def test_a_rule_that_returns_something_else_is_refused() -> None:
    segments, _ = cartpole_segments(2, length=5)
    labeller = RuleLabeller(load_rule("tests.labellers.rules:broken"))
    with pytest.raises(ValueError, match="returned 'the left one'"):
        labeller.request([Query(1, 1, 2, segments[0], segments[1])])


def test_cli_teacher_takes_a_preset_or_a_rule(capsys: pytest.CaptureFixture[str]) -> None:
    config = train_config(parser().parse_args(["train", "CartPole-v1", "--teacher", RULE]), None)
    assert config.rule == RULE and config.feedback == "oracle"
    config = train_config(parser().parse_args(["train", "CartPole-v1", "--teacher", "stoc"]), None)
    assert config.rule is None and config.oracle.beta == 1.0
    assert main(["train", "CartPole-v1", "--teacher", "tests.labellers.rules:missing"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no function 'missing'" in err[0]


def test_a_run_taught_by_a_rule_stores_the_rules_answers(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", "CartPole-v1", "--teacher", RULE, "--labels", "24", "--timesteps", "2000"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    store = LabelStore.open(out / "labels.sqlite")
    answers = store.answers()
    pairs = {pid: (left, right) for pid, left, right, _ in store.pairs()}
    assert len(answers) == 24 and {a.labeller for a in answers} == {f"rule:{RULE}"}
    for answer in answers:
        left, right = (store.segment(i) for i in pairs[answer.pair_id])
        assert answer.choice == prefer_cart_left(left, right)
    store.close()
    # the rule is part of the run's config: a resume asks the same rule
    from rlhp.loop.run_dir import RunDir

    assert RunDir.open(out).config().rule == RULE


def test_the_factory_picks_the_rule_labeller(tmp_path: Path) -> None:
    import dataclasses

    from rlhp.config import TrainConfig
    from rlhp.labellers.factory import make_labeller
    from rlhp.labellers.oracle import SyntheticOracle

    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    rng = np.random.default_rng(0)
    config = TrainConfig("CartPole-v1")
    assert isinstance(make_labeller(config, store, tmp_path, rng), SyntheticOracle)
    labeller = make_labeller(dataclasses.replace(config, rule=RULE), store, tmp_path, rng)
    assert isinstance(labeller, RuleLabeller) and labeller.rule is prefer_cart_left
    store.close()
