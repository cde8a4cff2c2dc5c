"""``reward_model.max_labels``: only the most recent N labelled pairs are fitted."""

from __future__ import annotations

from pathlib import Path

from rlhp.labellers.base import Answer
from rlhp.loop.labelled import LabelledData
from rlhp.store.labels import LabelStore
from tests.conftest import cartpole_segments


def test_only_the_most_recent_labels_are_fitted(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(10, length=5)
    ids = store.add_segments(segments, truth)
    pairs = store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
    choices = ["left", "left", "right", "right", "equal"]  # targets 1, 1, 0, 0, ½
    store.record_answers([Answer(p, c, "ann") for p, c in zip(pairs, choices, strict=True)])
    everything, _ = LabelledData(store).comparisons()
    window, fresh = LabelledData(store, max_labels=3).comparisons()
    assert everything is not None and len(everything) == 5
    assert window is not None and fresh is not None
    assert window.targets.tolist() == [0.0, 0.0, 0.5]  # the last three pairs asked
    assert window.obs.shape[0] == 3 and len(fresh) == 3
    store.close()
