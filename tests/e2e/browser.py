"""What every browser test needs: Playwright and Debian's Chromium, or a skip that says why."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from rlhp.clips.worker import ClipWorker
from rlhp.store.labels import LabelStore
from rlhp.web import CHROMIUM as CHROMIUM_PATH
from tests.conftest import cartpole_segments

CHROMIUM = Path(CHROMIUM_PATH)


def require_browser() -> ModuleType:
    """``playwright.sync_api``; skips the calling test module when it cannot run."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (make install)"
    )
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium is not installed at /usr/bin/chromium and could not be installed "
            "(make test runs apt-get install -y chromium where apt is available)",
            allow_module_level=True,
        )
    return sync_api


def add_clip_pairs(
    run: Path, store: LabelStore, count: int, seed: int, balance: bool = False
) -> list[int]:
    """``count`` pairs of CartPole clips rendered into ``run`` (random actions: most
    episodes end inside the clip, unless ``balance``); returns the pair ids."""
    segments, truth = cartpole_segments(2 * count, length=40, seed=seed, balance=balance)
    ids = store.add_segments(segments, truth)
    worker = ClipWorker(run, "CartPole-v1", store)
    for sid, segment in zip(ids, segments, strict=True):
        worker.submit(sid, segment)
    assert worker.wait_idle(120)
    worker.close()
    assert worker.failed == 0
    return store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
