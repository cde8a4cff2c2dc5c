"""Soft locks under concurrency, on every backend: threads claim and answer pairs through
two store instances (two servers), and a trainer writes while labellers answer."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np
import pytest

from rlhp.labellers.base import Answer
from rlhp.segments import Segment
from rlhp.store import LabelStore
from tests.conftest import NewLocation

SEGMENT = Segment(np.zeros((4, 2), np.float32), np.arange(4), np.zeros(4, bool))


def _add_pairs_with_clips(store: LabelStore, count: int) -> list[int]:
    ids = store.add_segments([SEGMENT] * (2 * count), None)
    pairs = store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
    for sid in ids:
        store.set_clip(sid, f"clips/segment-{sid:06d}.mp4")
    return pairs


@pytest.mark.parametrize("answer", [True, False], ids=["claim-and-answer", "claim-only"])
def test_concurrent_claims_never_share_a_pair(new_location: NewLocation, answer: bool) -> None:
    """16 labellers on two stores at once: each pair is locked by (and answered by) one.

    With answers, this is the race a single ``UPDATE … WHERE id = (SELECT … FOR UPDATE
    SKIP LOCKED)`` loses on PostgreSQL: a pair claimed and answered by someone else just
    after the statement's snapshot looks free again.
    """
    location = new_location()
    first = LabelStore.create(location, {"env_id": "X"})
    second = LabelStore.open(location)
    pairs = _add_pairs_with_clips(first, 200)
    labellers = 16
    claimed: dict[str, list[int]] = {f"person-{i}": [] for i in range(labellers)}
    errors: list[BaseException] = []
    start = threading.Barrier(labellers)

    def label(name: str, store: LabelStore) -> None:
        try:
            start.wait()
            while True:
                pair = store.claim_pair(name, 120.0, exclude=claimed[name], max_locks=500)
                if pair is None:
                    if not answer or store.waiting_pairs()[0] == 0:
                        return
                    time.sleep(0.005)  # free pairs are locked by claims in flight
                    continue
                claimed[name].append(pair.pair_id)
                if answer:
                    assert store.submit_answer(Answer(pair.pair_id, "left", name)) == "stored"
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=label, args=(name, (first, second)[i % 2]))
        for i, name in enumerate(claimed)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    times_claimed = Counter(p for got in claimed.values() for p in got)
    assert sorted(times_claimed) == pairs  # every pair handed out...
    assert set(times_claimed.values()) == {1}  # ...to exactly one labeller
    assert sum(len(got) > 0 for got in claimed.values()) > 1  # the claims did interleave
    if answer:
        counts = first.counts()
        assert (counts.answers, counts.answered) == (len(pairs), len(pairs))
    first.close()
    second.close()


def test_trainer_and_server_share_a_store(new_location: NewLocation) -> None:
    """The trainer adds pairs and reads labels while four people answer through a server."""
    location = new_location()
    trainer = LabelStore.create(location, {"env_id": "X"})
    server = LabelStore.open(location)
    rounds, per_round = 10, 8
    done = threading.Event()
    errors: list[BaseException] = []
    seen_by_trainer: list[int] = []

    def train() -> None:
        try:
            for _ in range(rounds):
                _add_pairs_with_clips(trainer, per_round)
                labelled = trainer.labelled_pairs()
                counts = trainer.counts()
                assert counts.trainable >= len(labelled) and counts.pairs >= counts.answered
                seen_by_trainer.append(len(labelled))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def label(name: str) -> None:
        try:
            while True:
                pair = server.claim_pair(name, 120.0)
                if pair is None:
                    if done.is_set() and server.waiting_pairs() == (0, 0):
                        return
                    time.sleep(0.005)
                    continue
                server.submit_answer(Answer(pair.pair_id, "right", name))
        except BaseException as exc:
            errors.append(exc)

    people = [threading.Thread(target=label, args=(f"person-{i}",)) for i in range(4)]
    for t in [*people, threading.Thread(target=train)]:
        t.start()
    for t in people:
        t.join(120)
    assert not errors, errors
    assert seen_by_trainer == sorted(seen_by_trainer)  # labels only ever accumulate
    assert len(trainer.labelled_pairs()) == rounds * per_round
    assert all(p.target == 0.0 for p in trainer.labelled_pairs())  # "right" → μ(left) = 0
    counts = trainer.counts()
    assert (counts.pairs, counts.answers) == (rounds * per_round, rounds * per_round)
    trainer.close()
    server.close()
