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
from scipy.stats import spearmanr

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.store.labels import LabelStore
from tests.conftest import load_script
from tests.e2e.browser import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


def test_a_rule_in_the_browser_teaches_a_reward_for_the_cart_on_the_left(tmp_path: Path) -> None:
    example = load_script("examples/teach_cart_left.py")
    # short clips: the untrained policy's episodes (~20 steps) leave some with the pole up
    config = example.page_config(labels=60, timesteps=6000, seed=0, segment_length=15)
    # each update waits for the page's answers: on a loaded machine the 6,000 steps end
    # before the bot has answered (13 of 40 once), and the count would depend on timing.
    # Nothing is asked ahead, so every answer lands while the loop waits for it and each
    # fit sees the same answers however fast the bot is (asked ahead, the answers were
    # fitted whenever they landed, and r̂'s slope below ranged 0.37 to 2.2 run to run).
    # 60 labels: with 40 asked this way the fitted slope had the wrong sign, while offline
    # fits of the same 40 answers gave 0.31-0.93 by seed — too few for a firm slope
    config = dataclasses.replace(
        config,
        queries=dataclasses.replace(config.queries, ask_ahead=0),
        schedule=dataclasses.replace(config.schedule, updates=3, wait_for_people=True),
        reward_model=dataclasses.replace(config.reward_model, pretrain_epochs=30),
    )
    summary, log = example.train_through_the_page(config, tmp_path / "run")
    assert summary.labels_asked == 60
    assert summary.labels_answered == 60  # every update waited for its labels

    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    answers = store.answers()
    assert len(answers) == 60
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

    # the reward fitted on those answers pays more the further left the cart is. Probed on
    # the upright pole at rest, over the cart positions the short clips visit (|x| ≤ 0.25,
    # where the rule rises steadily leftwards): the clip returns themselves mix position
    # with how long the pole stayed up, and on 30 answers their correlation with the
    # position ranged -0.45 to -0.96 from run to run (the answers' timing differs)
    env = gym.make("CartPole-v1")
    spec = FeatureSpec.from_spaces(env.observation_space, env.action_space, False)
    model = RewardEnsemble(spec, RewardModelConfig())
    saved = torch.load(tmp_path / "run" / "checkpoints" / "reward_model.pt", weights_only=True)
    model.load_state_dict(saved["model"])
    model.eval()
    cart_x = np.linspace(-0.25, 0.25, 11)
    upright = np.zeros((len(cart_x), 4), np.float32)
    upright[:, 0] = cart_x
    with torch.no_grad():
        reward = model.rewards(
            torch.as_tensor(upright),
            torch.zeros(len(cart_x), dtype=torch.long),
            torch.zeros(len(cart_x), dtype=torch.bool),
        ).numpy()
    assert spearmanr(reward, cart_x)[0] <= -0.9, reward
    # and not by a hair: r̂ has unit std on the labelled clips; a flat or noise-level r̂
    # fails one or both checks
    assert reward[0] - reward[-1] >= 0.5, reward
