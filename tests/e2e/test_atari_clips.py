"""An Atari pair on the labelling page in Chromium: clips made from a real Breakout
game's frames (score blanked, upscaled, 15 Hz) play, and an answer lands in the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from rlhp.clips.worker import ClipWorker
from rlhp.config import AtariConfig
from rlhp.rl.atari import make_pixel_env
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.segments import EpisodePool
from rlhp.store.labels import LabelStore
from rlhp.web import CHROMIUM_ARGS
from rlhp.web.app import LabellingSettings
from rlhp.web.server import LabellingServer
from tests.e2e.browser import CHROMIUM, require_browser

pytestmark = pytest.mark.browser
pytest.importorskip("ale_py", reason="needs the atari extra: pip install 'rlhp[atari]'")
sync_api = require_browser()

ENV_ID = "ALE/Breakout-v5"


def _breakout_pair(run: Path, store: LabelStore) -> int:
    venv = make_vec_env(lambda: make_pixel_env(ENV_ID, AtariConfig()), n_envs=1, seed=0)
    pool = EpisodePool(100_000)
    wrapper = RewardSwapWrapper(venv, pool, None, frame_stack=4)
    wrapper.reset()
    rng = np.random.default_rng(0)
    while not pool.episodes:
        wrapper.step(np.array([rng.integers(0, 4)]))
    venv.close()
    segments, truth = pool.sample(2, 25, rng)
    ids = store.add_segments(segments, truth)
    worker = ClipWorker(run, ENV_ID, store)
    for sid, segment in zip(ids, segments, strict=True):
        worker.submit(sid, segment)
    assert worker.wait_idle(60)
    worker.close()
    assert worker.failed == 0 and worker.rendered == 2
    (pair,) = store.add_pairs([(ids[0], ids[1])], 0, 0, "uniform")
    return pair


def test_an_atari_pair_plays_in_chromium(tmp_path: Path) -> None:
    run = tmp_path / "run"
    store = LabelStore.create(run / "labels.sqlite", {"env_id": ENV_ID})
    pair = _breakout_pair(run, store)
    (run / "config.json").write_text('{"schedule": {"labels": 10}}')
    server = LabellingServer(LabellingSettings(run, retry_seconds=0.5), "127.0.0.1", 0).start()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            page.fill("#name-input", "ada")
            page.click("#name-form button")
            page.wait_for_function(
                "[...document.querySelectorAll('#stage video')].length === 2 && "
                "[...document.querySelectorAll('#stage video')].every(v => v.currentTime > 0.2)",
                timeout=15_000,
            )
            sizes = page.evaluate(
                "[...document.querySelectorAll('#stage video')].map(v => [v.videoWidth, v.videoHeight, v.duration])"
            )
            for width, height, duration in sizes:
                assert (width, height) == (336, 336)  # 84² upscaled 4×
                assert duration == pytest.approx(25 / 15, abs=0.1)  # 25 steps at 15 Hz
            assert page.get_attribute("#stage", "data-pair-id") == str(pair)
            page.keyboard.press("ArrowLeft")
            page.wait_for_selector("#empty:not([hidden])", timeout=10_000)
            assert errors == []
            browser.close()
        assert [(a.pair_id, a.choice) for a in store.answers()] == [(pair, "left")]
    finally:
        server.stop()
        store.close()
