"""People in a browser as a labeller (issue #3, SPEC §10).

``request`` only queues the two clips of each pair for rendering (``ClipWorker``) and
returns; the pair is already in the store, and the labelling web app offers it once
both clips exist. People's answers are written into the store by the web app — maybe by
another process — so ``collect`` returns nothing: the loop reads every answer from the
store when it refits the reward model. Pre-training waits for people
(``wait_for_answers``); afterwards training goes on with whatever labels exist, unless
``schedule.wait_for_people`` makes every update wait too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym

from rlhp.clips.worker import ClipSettings, ClipWorker
from rlhp.labellers.base import Answer, Labeller, Query
from rlhp.rl.atari import is_pixel_env
from rlhp.rl.sim_state import get_state
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)

WAIT_LOG_SECONDS = 30.0
"""How often a waiting pre-training says again what it waits for."""


class HumanLabeller(Labeller):
    """Queues clips for the pairs asked; people answer through the web app."""

    name = "human"
    needs_states = True
    """Tells the loop to record simulator states during rollouts (clips replay them)."""
    asynchronous = True
    """Answers land in the store at any time: the loop fits them between updates too."""

    def __init__(
        self,
        run_dir: Path,
        env_id: str,
        store: LabelStore,
        clip_settings: ClipSettings | None = None,
        where: str = "rlhp label RUN_DIR",
        poll_seconds: float = 1.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        check_clips_supported(env_id)
        self.needs_states = not is_pixel_env(env_id)  # pixel clips come from the frames
        self.store = store
        self.where = where
        """Where people answer (a URL, or the command that serves the page), for the logs."""
        self.poll_seconds = poll_seconds
        self.clips = ClipWorker(run_dir, env_id, store, clip_settings)
        self._on_close = on_close
        missing = store.segments_without_clip()
        if missing:  # a resumed run: render what a killed run had not finished
            log.info("rendering %d clips left over from before the restart", len(missing))
            for segment_id in missing:
                self.clips.submit(segment_id)

    def request(self, queries: list[Query]) -> None:
        for q in queries:
            self.clips.submit(q.left_id, q.left)
            self.clips.submit(q.right_id, q.right)

    def collect(self) -> list[Answer]:
        return []  # the web app stores answers directly; the loop reads them from the store

    def wait_for_answers(self, count: int, timeout: float | None = None) -> int:
        """Block until ``count`` pairs (at most the pairs asked) have an answer.

        Returns the number answered. Logs what it waits for every ``WAIT_LOG_SECONDS``.
        """
        started, last_log = time.monotonic(), -float("inf")
        while True:
            counts = self.store.counts()
            wanted = min(count, counts.pairs)
            if counts.answered >= wanted:
                return counts.answered
            now = time.monotonic()
            if now - last_log >= WAIT_LOG_SECONDS:
                log.warning(
                    "training waits for people: %d of %d labels answered "
                    "(%d clips still rendering); answer at %s",
                    counts.answered, wanted, self.clips.pending(), self.where,
                )  # fmt: skip
                last_log = now
            if timeout is not None and now - started > timeout:
                return counts.answered
            time.sleep(self.poll_seconds)

    def close(self) -> None:
        # training is over: clips still queued are for pairs nobody will be asked about
        # now (their segments stay in the store; a resumed run renders them)
        dropped = self.clips.close(drop_queued=True)
        if dropped:
            log.info("training finished: %d queued clips not rendered", dropped)
        if self._on_close is not None:
            self._on_close()


def check_clips_supported(env_id: str) -> None:
    """Fail at start-up (ClipError) if clips of ``env_id`` cannot be rendered."""
    if is_pixel_env(env_id):
        return  # clips are made from the recorded frames (rlhp.clips.pixels)
    env = gym.make(env_id)
    try:
        env.reset(seed=0)
        get_state(env)
    finally:
        env.close()
