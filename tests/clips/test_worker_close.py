"""At the end of training the clip worker drops what is queued instead of rendering
clips for pairs nobody will answer (issue 11: the trainer's silent minutes)."""

from __future__ import annotations

from pathlib import Path

from rlhp.clips.worker import ClipWorker
from rlhp.store.labels import LabelStore
from tests.conftest import cartpole_segments


def test_closing_with_drop_queued_skips_the_queued_clips(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(30, length=20)
    ids = store.add_segments(segments, truth)
    store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
    worker = ClipWorker(tmp_path, "CartPole-v1", store)
    for sid, segment in zip(ids, segments, strict=True):
        worker.submit(sid, segment)
    dropped = worker.close(drop_queued=True)
    assert dropped > 0 and worker.rendered + dropped == len(ids)
    assert len(store.segments_without_clip()) == dropped  # a resumed run renders them
    store.close()
