"""The labelled comparisons as training tensors, rebuilt from the store as labels land."""

from __future__ import annotations

import numpy as np

from rlhp.reward.training import Comparisons
from rlhp.segments import Segment, SegmentBatch
from rlhp.store.labels import LabelStore


class LabelledData:
    """Reads trainable pairs from the store; decodes each segment once."""

    def __init__(
        self, store: LabelStore, max_labels: int | None = None, with_returns: bool = False
    ) -> None:
        self.store = store
        self.max_labels = max_labels
        """Only the most recent this many labelled pairs are fitted (None: all)."""
        self.with_returns = with_returns
        """Also read each segment's true return (the regression ablation trains on them)."""
        self._returns: dict[int, float] = {}
        self._segments: dict[int, Segment] = {}
        self._seen: set[int] = set()

    def mark_all_seen(self) -> None:
        """Treat every pair labelled so far as already shown to the model (on resume)."""
        self._seen.update(p.pair_id for p in self.store.labelled_pairs())

    def segment(self, segment_id: int) -> Segment:
        if segment_id not in self._segments:
            self._segments[segment_id] = self.store.segment(segment_id)
        return self._segments[segment_id]

    def true_return(self, segment_id: int) -> float:
        if segment_id not in self._returns:
            self._returns[segment_id] = float(self.store.true_rewards(segment_id).sum())
        return self._returns[segment_id]

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
        ids = np.array([p.pair_id for p in labelled], dtype=np.int64)
        returns = None
        if self.with_returns:
            returns = np.array(
                [[self.true_return(p.left_id), self.true_return(p.right_id)] for p in labelled]
            )
        data = Comparisons.from_batch(SegmentBatch.from_pairs(pairs), targets, ids, returns)
        fresh_index = [i for i, p in enumerate(labelled) if p.pair_id not in self._seen]
        self._seen.update(p.pair_id for p in labelled)
        if not fresh_index:
            return data, None
        return data, data.subset(np.array(fresh_index))
