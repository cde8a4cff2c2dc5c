"""A background thread that renders and encodes clips, so rollouts never wait.

``ClipWorker.submit`` returns at once; the thread renders each segment from its saved
simulator states, writes ``RUN/clips/segment-NNNNNN.mp4`` and records the run-relative
path with ``LabelStore.set_clip`` — from then on the labelling page can show it.
Budget: a person spends 3–5 s per pair, so both clips of a pair must take well under
that. Measured (``benchmarks/clip_speed.py``, docs/benchmarks.md): a 1.5 s Hopper clip
at 240² and 25 frames per second renders and encodes in well under 1 s on one core;
CartPole's 1 s clips in ~0.1 s. The trainer asks pairs ahead of need, so clips are ready
first.
A failed clip is logged and skipped (its pair is simply never offered).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rlhp.clips.encode import encode_mp4
from rlhp.clips.pixels import PIXEL_FPS, pixel_clip
from rlhp.clips.render import MAX_FPS, FrameSource, frame_stride, make_renderer, render_segment
from rlhp.rl.atari import is_pixel_env
from rlhp.segments import Segment
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)

CLIP_DIR = "clips"
"""Clips live in ``RUN/clips``; the store holds paths relative to the run directory."""


def clip_name(segment_id: int) -> str:
    return f"segment-{segment_id:06d}.mp4"


@dataclass(frozen=True)
class ClipSettings:
    """How clips look."""

    size: int = 240
    """Frame size in pixels for environments that accept one (MuJoCo: 240² reads well and
    costs little more than 160², docs/benchmarks.md); classic control renders at its own
    fixed size (CartPole 600×400)."""
    max_fps: float = MAX_FPS
    """At most this many frames per simulated second: every k-th step is shown, and the
    clip plays in real time (Hopper, 125 steps/s: every 5th step at 25 fps)."""


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

    def close(self, drop_queued: bool = False) -> int:
        """Stop the thread: after the queued clips, or (``drop_queued``) after the one
        being rendered, dropping the rest. Returns how many were dropped."""
        dropped = 0
        while drop_queued:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            dropped += 1
        self._queue.put(None)
        self._thread.join()
        return dropped

    def _run(self) -> None:
        frames: FrameSource | None = None
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                segment_id, segment = item
                started = time.perf_counter()
                if frames is None and not self.pixels:
                    frames = make_renderer(self.env_id, self.settings.size)
                self._render_one(frames, segment_id, segment)
                self.seconds += time.perf_counter() - started
                self.rendered += 1
            except Exception:
                self.failed += 1
                log.exception("could not render the clip of segment %s", item[0] if item else "?")
            finally:
                self._queue.task_done()
                if item is None and frames is not None:
                    frames.close()

    def _render_one(
        self, source: FrameSource | None, segment_id: int, segment: Segment | None
    ) -> None:
        if segment is None:
            segment = self.store.segment(segment_id)
        if source is None:  # ALE / MinAtar: the frames the run recorded
            frames, fps = pixel_clip(self.env_id, segment), PIXEL_FPS
        else:
            stride = frame_stride(source.steps_per_second, self.settings.max_fps)
            frames, fps = render_segment(source, segment, stride), source.steps_per_second / stride
        name = clip_name(segment_id)
        encode_mp4(frames, self.run_dir / CLIP_DIR / name, fps)
        self.store.set_clip(segment_id, f"{CLIP_DIR}/{name}")
