"""Queries about earlier behaviour: candidates from the archive of evicted episodes
(``queries.history_share``, rlhp.loop.asking)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlhp.labellers.base import Answer, Labeller, Query
from rlhp.loop.asking import ask_pairs
from rlhp.queries import UniformSelector
from rlhp.segments import Episode, EpisodeArchive, EpisodePool
from rlhp.store.labels import LabelStore


def _episode(index: int) -> Episode:
    obs = np.full((50, 2), float(index), dtype=np.float32)
    return Episode(obs, np.zeros(50, dtype=np.int64), np.ones(50), False, 50 * (index + 1), index)


class _Recorder(Labeller):
    name = "recorder"

    def __init__(self) -> None:
        self.queries: list[Query] = []
        self.policy_returns: list[np.ndarray] = []

    def observe_policy(self, segment_returns: np.ndarray) -> None:
        self.policy_returns.append(segment_returns)

    def request(self, queries: list[Query]) -> None:
        self.queries.extend(queries)

    def collect(self) -> list[Answer]:
        return []


def _ask(tmp_path: Path, history_share: float, seed: int) -> tuple[_Recorder, EpisodePool]:
    archive = EpisodeArchive(64, 2**30, np.random.default_rng(seed))
    pool = EpisodePool(200, archive=archive)  # holds the last 4 of 40 episodes
    for i in range(40):
        pool.add(_episode(i))
    store = LabelStore.create(tmp_path / f"labels-{history_share}.sqlite", {"env_id": "x"})
    labeller = _Recorder()
    asked = ask_pairs(
        40, pool=pool, selector=UniformSelector(), store=store, labeller=labeller,
        segment_length=10, oversampling=5, env_step=2_000, round_index=0,
        selector_name="uniform", rng=np.random.default_rng(seed), history_share=history_share,
    )  # fmt: skip
    assert asked == 40
    store.close()
    return labeller, pool


def test_history_share_asks_about_earlier_episodes_beside_recent_ones(tmp_path: Path) -> None:
    recent_only, pool = _ask(tmp_path, 0.0, seed=0)
    recent = {e.index for e in pool.episodes}
    assert recent == {36, 37, 38, 39}
    sides = [(q.left.episode, q.right.episode) for q in recent_only.queries]
    assert all(a in recent and b in recent for a, b in sides)

    mixed, _ = _ask(tmp_path, 0.5, seed=0)
    sides = [(q.left.episode, q.right.episode) for q in mixed.queries]
    earlier = [e for pair in sides for e in pair if e not in recent]
    assert 20 <= len(earlier) <= 60  # about half of the 80 segments asked
    assert sum((a in recent) != (b in recent) for a, b in sides) >= 10  # now beside before
    # B-Pref's reference is the policy's own segments: the recent candidates alone
    assert [len(r) for r in mixed.policy_returns] == [200]
