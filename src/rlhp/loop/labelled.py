"""The labelled comparisons as training tensors, each pair's arrays written once.

Every update fits all labelled pairs (or the most recent ``reward_model.max_labels``).
Re-stacking them at each update held the label set in memory twice — the decoded
segments and the stacked copy — and three times while the previous update's copy was
still in use: on Atari, 3,000 pairs are 1.2 GiB of distinct frames. ``PairRows``
writes each pair once, as it is first labelled, into blocks that grow; an update's
comparisons are views of a run of rows, so consecutive updates share the same memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rlhp.reward.training import Comparisons
from rlhp.segments import Segment, SegmentBatch, stacked_view
from rlhp.store.labels import LabelledPair, LabelStore

GROWTH = 1.5
"""Blocks grow by this factor when full."""
DEAD_SHARE = 0.25
"""Rows no longer fitted (dropped by the label window) are compacted away when they
exceed this share of the rows still fitted."""


class PairRows:
    """Each pair's pixels (or observations), actions and absorbing flags in one row.

    Attributes:
        pixels: ``(capacity, 2, T + k − 1, H, W)`` the distinct frames of stacked pixel
            segments (``Segment.frames``), or ``(capacity, 2, T, *obs_shape)``
            observations.
        actions: ``(capacity, 2, T, *act_shape)``.
        absorbing: ``(capacity, 2, T)`` bool.
        stack: frames per observation (``k``), or None for plain observations.
        used: rows written so far; rows are never rewritten, so views stay valid.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = max(capacity, 1)
        self.pixels = np.empty(0)
        self.actions = np.empty(0)
        self.absorbing = np.empty(0, dtype=bool)
        self.stack: int | None = None
        self.used = 0
        self._row: dict[int, int] = {}

    def __contains__(self, pair_id: int) -> bool:
        return pair_id in self._row

    def rows(self, pair_ids: Sequence[int]) -> np.ndarray:
        """``(N,)`` the rows of these pairs (each must have been added)."""
        return np.array([self._row[p] for p in pair_ids], dtype=np.int64)

    def add(self, pair_id: int, left: Segment, right: Segment) -> None:
        """Write one pair into the next free row."""
        if self.used == 0 and not self._row:
            self._allocate(left, self.capacity)
        elif self.used == self.pixels.shape[0]:
            self._resize(int(self.used * GROWTH) + 1)
        row = self.used
        if self.stack is not None:
            self.pixels[row, 0], self.pixels[row, 1] = left.frames, right.frames
        else:
            self.pixels[row, 0], self.pixels[row, 1] = left.obs, right.obs
        self.actions[row] = left.actions, right.actions
        self.absorbing[row] = left.absorbing, right.absorbing
        self._row[pair_id] = row
        self.used += 1

    def batch(self, rows: np.ndarray) -> SegmentBatch:
        """The pairs at ``rows``: views when the rows are consecutive, else a copy."""
        if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
            index: slice | np.ndarray = slice(int(rows[0]), int(rows[0]) + len(rows))
        else:
            index = rows
        pixels = self.pixels[index]
        obs = pixels if self.stack is None else stacked_view(pixels, self.stack, axis=2)
        return SegmentBatch(obs, self.actions[index], self.absorbing[index])

    def keep_only(self, pair_ids: Sequence[int]) -> None:
        """Move these pairs, in this order, into fresh blocks; forget every other pair.

        Views of the old blocks stay valid (they keep the old blocks alive)."""
        rows = self.rows(pair_ids)
        self._resize(max(self.capacity, int(len(rows) * GROWTH) + 1), rows)
        self._row = {p: i for i, p in enumerate(pair_ids)}

    def _allocate(self, segment: Segment, capacity: int) -> None:
        """Blocks for ``capacity`` pairs shaped like ``segment`` (untouched pages cost no
        memory until written)."""
        pixels = segment.frames if segment.frames is not None else segment.obs
        self.stack = int(segment.obs.shape[1]) if segment.frames is not None else None
        self.pixels = np.empty((capacity, 2, *pixels.shape), dtype=pixels.dtype)
        actions = segment.actions
        self.actions = np.empty((capacity, 2, *actions.shape), dtype=actions.dtype)
        self.absorbing = np.empty((capacity, 2, *segment.absorbing.shape), dtype=bool)

    def _resize(self, capacity: int, rows: np.ndarray | None = None) -> None:
        """New blocks of ``capacity`` rows holding ``rows`` (default: every used row)."""
        keep = np.arange(self.used) if rows is None else rows
        old = (self.pixels, self.actions, self.absorbing)
        self.pixels, self.actions, self.absorbing = (
            np.empty((capacity, *block.shape[1:]), dtype=block.dtype) for block in old
        )
        for new, block in zip((self.pixels, self.actions, self.absorbing), old, strict=True):
            np.take(block, keep, axis=0, out=new[: len(keep)])  # no temporary copy
        self.capacity = capacity
        self.used = len(keep)


class LabelledData:
    """Reads trainable pairs from the store; decodes and stores each pair once."""

    def __init__(
        self,
        store: LabelStore,
        max_labels: int | None = None,
        with_returns: bool = False,
        expected_pairs: int = 64,
    ) -> None:
        self.store = store
        self.max_labels = max_labels
        """Only the most recent this many labelled pairs are fitted (None: all)."""
        self.with_returns = with_returns
        """Also read each segment's true return (the regression ablation trains on them)."""
        self.rows = PairRows(expected_pairs)
        """The labelled pairs' arrays; sized for the label budget up front."""
        self._returns: dict[int, float] = {}
        self._seen: set[int] = set()

    def mark_all_seen(self) -> None:
        """Treat every pair labelled so far as already shown to the model (on resume)."""
        self._seen.update(p.pair_id for p in self.store.labelled_pairs())

    def true_return(self, segment_id: int) -> float:
        if segment_id not in self._returns:
            self._returns[segment_id] = float(self.store.true_rewards(segment_id).sum())
        return self._returns[segment_id]

    def comparisons(self) -> tuple[Comparisons | None, Comparisons | None]:
        """All trainable comparisons, and those the model has not seen before.

        Pairs come in the order their rows were written (the order they were first
        labelled); the held-out sets follow pair ids, not positions."""
        labelled = self.store.labelled_pairs()
        if not labelled:
            return None, None
        if self.max_labels is not None and len(labelled) > self.max_labels:
            labelled = labelled[-self.max_labels :]  # pairs in the order they were asked
        labelled = self._rows_in_order(labelled)
        rows = self.rows.rows([p.pair_id for p in labelled])
        targets = np.array([p.target for p in labelled], dtype=np.float32)
        ids = np.array([p.pair_id for p in labelled], dtype=np.int64)
        returns = None
        if self.with_returns:
            returns = np.array(
                [[self.true_return(p.left_id), self.true_return(p.right_id)] for p in labelled]
            )
        data = Comparisons.from_batch(self.rows.batch(rows), targets, ids, returns)
        fresh_index = [i for i, p in enumerate(labelled) if p.pair_id not in self._seen]
        self._seen.update(p.pair_id for p in labelled)
        if not fresh_index:
            return data, None
        return data, data.subset(np.array(fresh_index))

    def _rows_in_order(self, labelled: list[LabelledPair]) -> list[LabelledPair]:
        """Write the pairs not stored yet; return ``labelled`` sorted by row, compacting
        the rows first when they are no longer one consecutive run or the dropped
        ones take too much room."""
        for pair in labelled:
            if pair.pair_id not in self.rows:
                left, right = self.store.segment(pair.left_id), self.store.segment(pair.right_id)
                self.rows.add(pair.pair_id, left, right)
        rows = self.rows.rows([p.pair_id for p in labelled])
        order = np.argsort(rows, kind="stable")
        labelled, rows = [labelled[i] for i in order], rows[order]
        consecutive = rows[-1] - rows[0] + 1 == len(rows)
        dead = self.rows.used - len(rows)
        if not consecutive or dead > DEAD_SHARE * len(rows):
            self.rows.keep_only([p.pair_id for p in labelled])
        return labelled
