"""The page through a server crash, in Chromium: no answer is ever lost.

``rlhp label`` runs as its own process and is killed (SIGKILL) right after a key press,
twice: once the page stays open and sends its kept answers when the server is back;
once the page is closed too, and a new page sends them from localStorage. Every answer
the person gave ends up in the store, once, and the page says so. On the way: undo
(stored as a correction), the waiting state, and the finished state at the budget.
Screenshots of each state go to ``test-artifacts/`` (the pair one to the README too).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rlhp.store.labels import LabelStore
from rlhp.web import CHROMIUM_ARGS
from tests.e2e.browser import CHROMIUM, add_clip_pairs, require_browser
from tests.e2e.test_browser import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
README_IMAGE = ROOT / "docs" / "images" / "labelling-page.png"
INSTRUCTIONS = "Which clip keeps the pole upright for longer?"

pytestmark = pytest.mark.browser

sync_api = require_browser()


def _add_pairs(run: Path, store: LabelStore, count: int, seed: int) -> list[int]:
    return add_clip_pairs(run, store, count, seed, balance=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(run: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhp", "label", str(run), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("rlhp label did not start")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def _rows(run: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(run / "labels.sqlite")
    rows = db.execute(sql).fetchall()
    db.close()
    return rows


def _answers(run: Path) -> list[tuple]:
    return _rows(run, "SELECT pair_id, choice, labeller FROM answers ORDER BY pair_id")


def _waiting(page: sync_api.Page) -> int:
    return int(page.get_attribute("#sending", "data-waiting") or 0)


def _on_screen(page: sync_api.Page) -> int:
    page.wait_for_function(
        "document.getElementById('stage').dataset.pairId && "
        "[...document.querySelectorAll('#stage video')].every(v => v.readyState >= 2)",
        timeout=15_000,
    )
    return int(page.get_attribute("#stage", "data-pair-id") or 0)


def _press(page: sync_api.Page, key: str) -> int:
    """Answer the pair on screen with ``key``; returns its id."""
    pair = _on_screen(page)
    page.keyboard.press(key)
    return pair


def test_answers_survive_a_killed_server_and_a_closed_page(tmp_path: Path) -> None:
    run = tmp_path / "run"
    store = LabelStore.create(run / "labels.sqlite", {"env_id": "CartPole-v1"})
    store.set_meta_value("instructions", INSTRUCTIONS)  # as rlhp train --instructions saves it
    _add_pairs(run, store, 5, seed=3)
    (run / "config.json").write_text('{"schedule": {"labels": 6}}')
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = _serve(run, port)
    ARTIFACTS.mkdir(exist_ok=True)
    given: dict[int, str] = {}
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            sync_api.expect(page.locator("#instructions")).to_have_text(INSTRUCTIONS)
            page.wait_for_selector("#name-form:not([hidden])")
            page.screenshot(path=ARTIFACTS / "state-1-first-visit.png")
            page.fill("#name-input", "ada")
            page.click("#name-form button")

            # a pair, with the end of each episode on its timeline
            _on_screen(page)
            assert "episode ended at step" in page.inner_text("#stage")
            time.sleep(0.6)
            page.screenshot(path=ARTIFACTS / "state-2-pair.png")
            if not README_IMAGE.exists() or os.environ.get("RLHP_UPDATE_DOCS_IMAGES"):
                README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ARTIFACTS / "state-2-pair.png", README_IMAGE)

            # undo: the answer is kept, the correction stored beside it
            first = _press(page, "ArrowLeft")
            page.wait_for_function("document.getElementById('sending').dataset.waiting === '0'")
            page.wait_for_selector("#undo:not([hidden])")
            page.keyboard.press("Backspace")
            page.wait_for_function(f"document.getElementById('stage').dataset.pairId === '{first}'")
            assert _press(page, "ArrowRight") == first
            given[first] = "right"
            page.wait_for_function("document.getElementById('sending').dataset.waiting === '0'")
            assert _rows(run, "SELECT choice FROM corrections") == [("right",)]

            # the server dies right after a key press (that answer may or may not have
            # reached it); the next pair, already loaded, is answered while it is down:
            # the page keeps that answer, says so, and sends it once the server is back
            page.wait_for_function(
                "document.querySelectorAll('#preload video').length === 2 && "
                "[...document.querySelectorAll('#preload video')].every(v => v.readyState >= 2)",
                timeout=15_000,
            )
            pair = _on_screen(page)
            page.keyboard.press("ArrowUp")
            _kill(server)
            given[pair] = "equal"
            given[_press(page, "ArrowDown")] = "cant_tell"
            page.wait_for_selector("#offline:not([hidden])", timeout=10_000)
            page.wait_for_function(
                "['1', '2'].includes(document.getElementById('sending').dataset.waiting)"
            )
            assert _waiting(page) >= 1
            assert "waiting to be sent" in page.inner_text("#sending")
            page.screenshot(path=ARTIFACTS / "state-4-offline-queued.png")
            server = _serve(run, port)
            page.wait_for_function(
                "document.getElementById('sending').dataset.waiting === '0'", timeout=20_000
            )
            assert "all your answers are stored" in page.inner_text("#sending")
            assert page.is_hidden("#offline")
            assert {p: c for p, c, _ in _answers(run)} | {first: "right"} == given

            # killed again, just before a key press, and this time the page is closed before
            # the server is back:
            # a new page sends the answer kept in localStorage
            pair = _on_screen(page)
            _kill(server)
            page.keyboard.press("ArrowLeft")
            given[pair] = "left"
            page.wait_for_function("document.getElementById('sending').dataset.waiting === '1'")
            page.close()
            server = _serve(run, port)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_function(
                "document.getElementById('sending').dataset.waiting === '0' && "
                "document.getElementById('sending').textContent.includes('stored')",
                timeout=20_000,
            )
            stored = _answers(run)
            assert {p: c for p, c, _ in stored} | {first: "right"} == given
            assert {who for _, _, who in stored} == {"ada"} and len(stored) == len(given)

            # answer what is left: the waiting state, then one more pair and the end
            while len(given) < 5:
                given[_press(page, "ArrowRight")] = "right"
            page.wait_for_selector("#empty:not([hidden])", timeout=10_000)
            assert "No clips yet" in page.inner_text("#empty")
            page.screenshot(path=ARTIFACTS / "state-3-waiting.png")
            (last,) = _add_pairs(run, store, 1, seed=4)
            assert _press(page, "ArrowLeft") == last
            given[last] = "left"
            page.wait_for_selector("#finished:not([hidden])", timeout=10_000)
            assert "thank you" in page.inner_text("#finished")
            assert "6 of 6" in page.inner_text("#finished")
            page.screenshot(path=ARTIFACTS / "state-5-finished.png")
            assert errors == []
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
        store.close()
    stored = _answers(run)
    assert len(stored) == 6 and {p: c for p, c, _ in stored} | {first: "right"} == given
    (target,) = [
        lp.target
        for lp in LabelStore.open(run / "labels.sqlite").labelled_pairs()
        if lp.pair_id == first
    ]
    assert target == 0.0  # the correction (right) trains, not the first answer (left)
