"""The labelled comparisons as training tensors, rebuilt from the store as labels land."""

from __future__ import annotations

import numpy as np
import torch

from rlhp.reward.training import Comparisons
from rlhp.segments import Segment, SegmentBatch
from rlhp.store import LabelStore


class LabelledData:
    """Reads trainable pairs from the store; decodes each segment once."""

    def __init__(self, store: LabelStore, max_labels: int | None = None) -> None:
        self.store = store
        self.max_labels = max_labels
        """Only the most recent this many labelled pairs are fitted (None: all)."""
        self._segments: dict[int, Segment] = {}
        self._seen: set[int] = set()

    def mark_all_seen(self) -> None:
        """Treat every pair labelled so far as already shown to the model (on resume)."""
        self._seen.update(p.pair_id for p in self.store.labelled_pairs())

    def segment(self, segment_id: int) -> Segment:
        if segment_id not in self._segments:
            self._segments[segment_id] = self.store.segment(segment_id)
        return self._segments[segment_id]

    def comparisons(self) -> tuple[Comparisons | None, Comparisons | None]:
        """All trainable comparisons, and those the model has not seen before."""
        labelled = self.store.labelled_pairs()
        if not labelled:
            return None, None
        if self.max_labels is not None and len(labelled) > self.max_labels:
            labelled = labelled[-self.max_labels :]  # pairs in the order they were asked
            kept = {p.left_id for p in labelled} | {p.right_id for p in labelled}
            self._segments = {i: s for i, s in self._segments.items() if i in kept}
        pairs = [(self.segment(p.left_id), self.segment(p.right_id)) for p in labelled]
        targets = np.array([p.target for p in labelled], dtype=np.float32)
        data = Comparisons.from_batch(SegmentBatch.from_pairs(pairs), targets)
        fresh_index = [i for i, p in enumerate(labelled) if p.pair_id not in self._seen]
        self._seen.update(p.pair_id for p in labelled)
        if not fresh_index:
            return data, None
        idx = torch.as_tensor(fresh_index)
        fresh = Comparisons(
            data.obs[idx], data.actions[idx], data.absorbing[idx], data.targets[idx]
        )
        return data, fresh
