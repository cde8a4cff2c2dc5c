"""What every browser test needs: Playwright and Debian's Chromium, or a skip that says why."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from rlhp.web import CHROMIUM as CHROMIUM_PATH

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
