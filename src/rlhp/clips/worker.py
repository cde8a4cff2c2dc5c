"""A background thread that renders and encodes clips, so rollouts never wait.

``ClipWorker.submit`` returns at once; the thread renders each segment from its saved
simulator states, writes ``RUN/clips/segment-NNNNNN.mp4`` and records the run-relative
path with ``LabelStore.set_clip`` — from then on the labelling page can show it.
Budget: CartPole ~0.2–0.5 s per 50-step clip, MuJoCo at 320² ~3–5 s, while a person
spends 3–5 s per pair; the trainer asks pairs ahead of need, so clips are ready first.
A failed clip is logged and skipped (its pair is simply never offered).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from rlhp.clips.encode import encode_mp4
from rlhp.clips.pixels import PIXEL_FPS, pixel_clip
from rlhp.clips.render import make_render_env, render_segment
from rlhp.rl.atari import is_pixel_env
from rlhp.segments import Segment
from rlhp.store import LabelStore

log = logging.getLogger(__name__)

CLIP_DIR = "clips"
"""Clips live in ``RUN/clips``; the store holds paths relative to the run directory."""


def clip_name(segment_id: int) -> str:
    return f"segment-{segment_id:06d}.mp4"


@dataclass(frozen=True)
class ClipSettings:
    """How clips look."""

    size: int = 320
    """Frame size in pixels for environments that accept one (MuJoCo); classic control
    renders at its own fixed size (CartPole 600×400)."""
    fps: float | None = None
    """Frames per second; None takes the environment's ``render_fps``."""


class ClipWorker:
    """Renders clips of store segments in one background thread."""

    def __init__(
        self, run_dir: Path, env_id: str, store: LabelStore, settings: ClipSettings | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.env_id = env_id
        self.store = store
        self.settings = settings or ClipSettings()
        self.pixels = is_pixel_env(env_id)
        """ALE / MinAtar: clips come from the recorded frames, no render env."""
        self.rendered = 0
        self.failed = 0
        self.seconds = 0.0
        """Total time spent rendering and encoding."""
        self._queue: queue.Queue[tuple[int, Segment | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="rlhp-clips", daemon=True)
        self._thread.start()

    def submit(self, segment_id: int, segment: Segment | None = None) -> None:
        """Queue one clip; without ``segment`` it is read from the store. Returns at once."""
        self._queue.put((segment_id, segment))

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every queued clip is done (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Finish the queued clips and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        env: gym.Env | None = None
        fps = self.settings.fps
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                segment_id, segment = item
                started = time.perf_counter()
                if self.pixels:
                    fps = fps or PIXEL_FPS
                elif env is None:
                    env = make_render_env(self.env_id, self.settings.size)
                    fps = fps or float(env.metadata.get("render_fps") or 30)
                assert fps is not None
                self._render_one(env, segment_id, segment, fps)
                self.seconds += time.perf_counter() - started
                self.rendered += 1
            except Exception:
                self.failed += 1
                log.exception("could not render the clip of segment %s", item[0] if item else "?")
            finally:
                self._queue.task_done()
                if item is None and env is not None:
                    env.close()

    def _render_one(
        self, env: gym.Env | None, segment_id: int, segment: Segment | None, fps: float
    ) -> None:
        if segment is None:
            segment = self.store.segment(segment_id)
        frames = pixel_clip(self.env_id, segment) if env is None else render_segment(env, segment)
        name = clip_name(segment_id)
        encode_mp4(frames, self.run_dir / CLIP_DIR / name, fps)
        self.store.set_clip(segment_id, f"{CLIP_DIR}/{name}")
