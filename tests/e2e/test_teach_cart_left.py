"""The short version of the "teach cart-left through the real page" acceptance run.

``examples/teach_cart_left.py`` trains CartPole with ``--feedback human`` while a
rule-driven labeller in Chromium watches each pair of clips on the page and presses a
key. Here, in a short run: every answer comes through the page, the page-side scoring
agrees with the rule computed from the simulator states the clips were rendered from,
and the reward model fitted on those answers pays more the further left the cart is —
something the env's reward does not contain. (Whether the policy then keeps the cart
left takes a longer run: docs/human_labelling.md.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.store import LabelStore
from tests.conftest import load_script
from tests.e2e.browser import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


def test_a_rule_in_the_browser_teaches_a_reward_for_the_cart_on_the_left(tmp_path: Path) -> None:
    example = load_script("examples/teach_cart_left.py")
    # short clips: the untrained policy's episodes (~20 steps) leave some with the pole up
    config = example.page_config(labels=40, timesteps=6000, seed=0, segment_length=15)
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

    # the reward fitted on those answers pays more the further left the cart is, on the
    # clips where the pole stayed up throughout (elsewhere survival decides the answer)
    env = gym.make("CartPole-v1")
    spec = FeatureSpec.from_spaces(env.observation_space, env.action_space, False)
    model = RewardEnsemble(spec, RewardModelConfig())
    saved = torch.load(tmp_path / "run" / "checkpoints" / "reward_model.pt", weights_only=True)
    model.load_state_dict(saved["model"])
    model.eval()
    asked = sorted({i for pair in pairs.values() for i in pair})
    upright = [s for s in map(store.segment, asked) if not s.absorbing.any()]
    assert len(upright) >= 10
    cart_x = np.array([s.states[:, 0].mean() for s in upright if s.states is not None])
    assert np.corrcoef(model.segment_returns(upright), cart_x)[0, 1] < -0.5
