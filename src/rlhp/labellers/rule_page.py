"""A comparison rule answering on the real labelling page, in Chromium, by key press.

``PageRuleLabeller`` is what ``--feedback human`` runs (clips rendered by the
``ClipWorker``, the labelling server in a thread), with a ``PageBot`` in place of the
person: a headless Chromium (Playwright, Debian's ``/usr/bin/chromium``) opens the page,
and for each pair it shows reads which two clips are on screen (their ``src``: one
segment each), looks up what the run recorded about those segments in the label store,
asks the rule and presses ← → ↑ or ↓. Only the key press reaches the trainer — through
the page and its web API, exactly as a person's answer does.

The bot also measures how long the page sat in its "no clips yet" state while training
ran (``PageBot.waiting_seconds``): the time a person would have spent waiting for clips.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rlhp.clips.worker import ClipSettings
from rlhp.labellers.base import Answer, Choice, Labeller, Query
from rlhp.labellers.human import HumanLabeller
from rlhp.labellers.rule import Rule, ask_rule
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)

KEYS: dict[Choice, str] = {
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "equal": "ArrowUp",
    "cant_tell": "ArrowDown",
}
"""The page's keyboard answers (SPEC §10)."""
_SEGMENT = re.compile(r"segment-(\d+)\.mp4")
LOGIN_NAME = "rule-bot"


@dataclass(frozen=True)
class PagePress:
    """One answer given on the page."""

    pair_id: int
    left_id: int
    right_id: int
    key: str
    waited: float
    """Seconds from the previous key press (or the page opening) until this pair was on
    screen; the page's own swap to a preloaded pair takes milliseconds."""


class PageBot:
    """Drives the labelling page in a headless Chromium thread until ``stop``."""

    def __init__(self, url: str, rule: Rule, store: LabelStore, name: str = LOGIN_NAME) -> None:
        self.url = url
        self.rule = rule
        self.store = store
        self.name = name
        self.presses: list[PagePress] = []
        self.waiting_seconds = 0.0
        """Total time the page showed no pair ("no clips yet") after the bot logged in."""
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rlhp-page-bot", daemon=True)

    def start(self, timeout: float = 60.0) -> PageBot:
        """Start Chromium and log in; raises if the page could not be opened."""
        self._thread.start()
        self._ready.wait(timeout)
        if self.error is not None:
            raise RuntimeError(f"the page bot could not open {self.url}: {self.error}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            from playwright.sync_api import sync_playwright

            from rlhp.web import CHROMIUM, CHROMIUM_ARGS

            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
                )
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 720})
                    page.goto(self.url)
                    page.fill("#name-input", self.name)
                    page.click("#name-form button")
                    page.wait_for_selector("#name-form", state="hidden")
                    self._ready.set()
                    self._label(page)
                finally:
                    browser.close()
        except BaseException as exc:  # reported by start(), or logged when it happens later
            self.error = exc
            if self._ready.is_set():
                log.exception("the page bot stopped")
            self._ready.set()

    def _label(self, page: object) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import Page

        assert isinstance(page, Page)
        last, since = "", time.monotonic()
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                page.wait_for_function(
                    "([last]) => { const s = document.getElementById('stage');"
                    " return !s.hidden && s.dataset.pairId && s.dataset.pairId !== last; }",
                    arg=[last],
                    timeout=500,
                )
            except PlaywrightError:
                if page.is_visible("#empty"):
                    self.waiting_seconds += time.monotonic() - asked
                continue
            shown = time.monotonic()
            pair = page.get_attribute("#stage", "data-pair-id") or ""
            sources = [
                page.get_attribute(f"#{side} video", "src") or "" for side in ("left", "right")
            ]
            found = [_SEGMENT.search(src) for src in sources]
            if not pair or not all(found):
                continue
            left_id, right_id = (int(m.group(1)) for m in found if m is not None)
            choice = ask_rule(self.rule, self.store.segment(left_id), self.store.segment(right_id))
            page.keyboard.press(KEYS[choice])
            self.presses.append(
                PagePress(int(pair), left_id, right_id, KEYS[choice], shown - since)
            )
            last, since = pair, time.monotonic()


class PageRuleLabeller(Labeller):
    """People's labeller (clips, page) with a rule pressing the keys in Chromium."""

    name = "page-rule"
    needs_states = True
    asynchronous = True

    def __init__(
        self,
        rule: Rule,
        run_dir: Path,
        env_id: str,
        store: LabelStore,
        instructions: str = "Which clip shows the behaviour better?",
        clip_settings: ClipSettings | None = None,
    ) -> None:
        from rlhp.web.app import LabellingSettings
        from rlhp.web.server import LabellingServer

        server = LabellingServer(
            LabellingSettings(Path(run_dir), instructions=instructions), "127.0.0.1", 0
        ).start()
        self.url = server.url
        self.people = HumanLabeller(
            run_dir,
            env_id,
            store,
            clip_settings,
            where=server.url,
            poll_seconds=0.2,
            on_close=server.stop,
        )
        try:
            self.bot = PageBot(server.url, rule, store).start()
        except BaseException:
            self.people.close()
            raise
        self.clips = self.people.clips

    def request(self, queries: list[Query]) -> None:
        self.people.request(queries)

    def collect(self) -> list[Answer]:
        return []  # the page stores the answers; the loop reads them from the store

    def wait_for_answers(self, count: int, timeout: float | None = None) -> int:
        return self.people.wait_for_answers(count, timeout)

    def close(self) -> None:
        self.bot.stop()
        self.people.close()
