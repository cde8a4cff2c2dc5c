"""A short run of ``examples/teach_behaviour.py`` through the real page: the Hopper
backflip rule answering in Chromium by key press, MuJoCo clips rendered for every pair.

In a short run: every answer comes through the page, each key pressed is the rule's
answer about the two clips on screen (computed again here from the recorded states),
and every clip is the 1.5 s segment drawn at 25 frames a second. (Whether the policy then
flips takes a long run: docs/benchmarks.md.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio_ffmpeg
import pytest

from rlhp.behaviours.hopper import prefer_backflip
from rlhp.labellers.rule_page import KEYS
from rlhp.store.labels import LabelStore
from tests.conftest import load_script
from tests.e2e.browser import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()
pytest.importorskip("mujoco")


def test_the_backflip_rule_labels_hopper_clips_on_the_page(tmp_path: Path) -> None:
    example = load_script("examples/teach_behaviour.py")
    config = example.teaching_config("backflip", labels=8, timesteps=2048, seed=0, through="page")
    config = dataclasses.replace(
        config,
        schedule=dataclasses.replace(config.schedule, updates=2),
        reward_model=dataclasses.replace(config.reward_model, pretrain_epochs=5),
    )
    summary, info = example.train_taught(config, tmp_path / "run", "backflip")
    assert summary.labels_asked == 8

    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    answers = store.answers()
    assert len(answers) == 8  # every reward update waited for the page's answers
    assert {a.labeller for a in answers} == {"rule-bot"}  # every one through the page
    assert info["page_answers"] >= len(answers)
    pairs = {pid: (left, right) for pid, left, right, _ in store.pairs()}
    for answer in answers:
        left, right = (store.segment(i) for i in pairs[answer.pair_id])
        assert answer.choice == prefer_backflip(left, right)
    # each clip: 188 Hopper steps (1.5 s), every 5th drawn at 240², 25 fps
    for sid in {i for pid in (a.pair_id for a in answers) for i in pairs[pid]}:
        clip = store.clip_of(sid)
        assert clip is not None
        reader = imageio_ffmpeg.read_frames(str(tmp_path / "run" / clip))
        meta = next(reader)
        assert sum(1 for _ in reader) == 38
        assert tuple(meta["size"]) == (240, 240) and meta["fps"] == 25
    assert info["clips_rendered"] >= 2 * len(answers)
    assert info["page_waiting_seconds"] >= 0.0
    store.close()
    assert set(KEYS) == {"left", "right", "equal", "cant_tell"}
