"""The short version of the "teach cart-left through the real page" acceptance run.

``examples/teach_cart_left.py`` trains CartPole with ``--feedback human`` while a
rule-driven labeller in Chromium watches each pair of clips on the page and presses a
key. Here, in a short run: every answer comes through the page, the page-side scoring
agrees with the rule computed from the simulator states the clips were rendered from,
and the reward model fitted on those answers pays more the further left the cart is —
something the env's reward does not contain.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.store import LabelStore
from tests.e2e.browser import require_browser

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "teach_cart_left", ROOT / "examples" / "teach_cart_left.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rule_in_the_browser_teaches_a_reward_for_the_cart_on_the_left(tmp_path: Path) -> None:
    example = _example()
    config = example.page_config(labels=40, timesteps=6000, seed=0)
    config = dataclasses.replace(
        config,
        schedule=dataclasses.replace(config.schedule, updates=3),
        reward_model=dataclasses.replace(config.reward_model, pretrain_epochs=30),
    )
    summary, log = example.train_through_the_page(config, tmp_path / "run")
    assert summary.labels_asked == 40

    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    answers = store.answers()
    assert len(answers) >= 20
    assert {a.labeller for a in answers} == {"rule-bot"}  # all of them through the page
    keys = {"left": "ArrowLeft", "right": "ArrowRight", "equal": "ArrowUp"}
    pressed = {int(e["pair"]): e["key"] for e in log}
    pairs = {pid: (left, right) for pid, left, right, _ in store.pairs()}
    agree = clear = 0
    for answer in answers:
        assert pressed[answer.pair_id] == keys[answer.choice]  # the key press is the answer
        left, right = (store.segment(i) for i in pairs[answer.pair_id])
        assert left.states is not None and right.states is not None
        truth = [example.rule_score(s.states, s.absorbing) for s in (left, right)]
        if abs(truth[0] - truth[1]) >= 0.05 and answer.choice != "equal":
            clear += 1
            agree += (answer.choice == "left") == (truth[0] > truth[1])
    # what the bot reads off the video frames is the rule on the true states
    assert clear >= 10 and agree / clear >= 0.9, (agree, clear)

    env = gym.make("CartPole-v1")
    rc = RewardModelConfig()
    model = RewardEnsemble(
        FeatureSpec.from_spaces(env.observation_space, env.action_space, False), rc
    )
    saved = torch.load(tmp_path / "run" / "checkpoints" / "reward_model.pt", weights_only=True)
    model.load_state_dict(saved["model"])
    model.eval()
    xs = torch.linspace(-1.0, 1.0, 9)
    obs = torch.zeros(9, 4)
    obs[:, 0] = xs
    with torch.no_grad():
        r = model.rewards(
            obs[:, None], torch.zeros(9, 1, dtype=torch.int64), torch.zeros(9, 1, dtype=torch.bool)
        )[:, 0]
    assert np.corrcoef(xs.numpy(), r.numpy())[0, 1] < -0.8  # further left pays more
