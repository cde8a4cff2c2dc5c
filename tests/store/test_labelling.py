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
from rlhp.store.labels import LabelStore
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


def test_the_answer_lock_rule_holds_on_every_backend(new_location: NewLocation) -> None:
    """Bob is offered pair 1, Carol pair 2; Carol's answer to Bob's pair is refused, and
    a fully answered pair takes no more answers (issue 11, defect 2)."""
    store = LabelStore.create(new_location(), {"env_id": "X"})
    p1, p2, p3 = _add_pairs_with_clips(store, 3)
    now = 1_000.0
    assert store.claim_pair("bob", 120.0, now=now).pair_id == p1  # type: ignore[union-attr]
    assert store.claim_pair("carol", 120.0, now=now).pair_id == p2  # type: ignore[union-attr]
    assert store.submit_answer(Answer(p1, "right", "carol"), now=now + 1) == "locked"
    assert store.submit_answer(Answer(p1, "left", "bob"), now=now + 2) == "stored"
    assert store.submit_answer(Answer(p1, "right", "dave"), now=now + 3) == "answered"
    assert store.submit_answer(Answer(p1, "right", "bob"), now=now + 4) == "repeat"
    assert store.submit_answer(Answer(999, "left", "bob"), now=now) == "no_pair"
    # two answers wanted: a second person may answer the unlocked pair
    assert store.submit_answer(Answer(p1, "equal", "dave"), 2, now=now + 5) == "stored"
    # an expired lock protects nobody: a late answer to an unanswered pair is stored
    assert store.submit_answer(Answer(p2, "left", "erin"), now=now + 121) == "stored"
    assert store.submit_answer(Answer(p3, "left", "erin"), now=now) == "stored"
    assert [(a.pair_id, a.choice, a.labeller) for a in store.answers()] == [
        (p1, "left", "bob"),
        (p1, "equal", "dave"),
        (p2, "left", "erin"),
        (p3, "left", "erin"),
    ]
    store.close()


def test_racing_answers_to_one_pair_store_exactly_one(new_location: NewLocation) -> None:
    """16 people answer the same 30 unlocked pairs at once through two stores: with one
    answer wanted per pair, exactly one answer per pair is stored, the rest refused."""
    location = new_location()
    first = LabelStore.create(location, {"env_id": "X"})
    second = LabelStore.open(location)
    pairs = _add_pairs_with_clips(first, 30)
    outcomes: Counter[str] = Counter()
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def answer_all(name: str, store: LabelStore) -> None:
        try:
            start.wait()
            for pair in pairs:
                outcomes[store.submit_answer(Answer(pair, "left", name))] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=answer_all, args=(f"p{i}", (first, second)[i % 2]))
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert outcomes == {"stored": 30, "answered": 15 * 30}
    assert sorted(Counter(a.pair_id for a in first.answers()).items()) == [(p, 1) for p in pairs]
    first.close()
    second.close()


def test_a_name_holds_at_most_three_locks(new_location: NewLocation) -> None:
    store = LabelStore.create(new_location(), {"env_id": "X"})
    pairs = _add_pairs_with_clips(store, 6)
    got = []
    for i in range(5):
        claimed = store.claim_pair("hoarder", 120.0, exclude=got, now=1_000.0 + i)
        assert claimed is not None
        got.append(claimed.pair_id)
    assert got == pairs[:5]
    assert store.locks_held(["hoarder"], now=1_010.0) == 3  # the two oldest were given up
    assert store.claim_pair("other", 120.0, now=1_010.0).pair_id == pairs[0]  # type: ignore[union-attr]
    assert store.locks_held(["hoarder", "other"], now=1_010.0) == 4
    assert store.locks_held(["hoarder", "other"], now=2_000.0) == 0  # all expired
    store.close()


def test_undo_is_a_correction_beside_the_answer(new_location: NewLocation) -> None:
    store = LabelStore.create(new_location(), {"env_id": "X"})
    p1, p2 = _add_pairs_with_clips(store, 2)
    assert store.submit_answer(Answer(p1, "left", "ann", 1_000.0), now=1_000.0) == "stored"
    assert store.submit_answer(Answer(p2, "left", "ann", 1_000.0), now=1_000.0) == "stored"
    assert store.correct_answer(p1, "ann", "right", 30.0, now=1_005.0) == "stored"
    assert store.correct_answer(p1, "bob", "right", 30.0, now=1_005.0) == "no_answer"
    assert store.correct_answer(p2, "ann", "right", 30.0, now=1_031.0) == "too_late"
    # the answer is kept as given; the correction is what trains
    assert [a.choice for a in store.answers()] == ["left", "left"]
    targets = {p.pair_id: p.target for p in store.labelled_pairs()}
    assert targets == {p1: 0.0, p2: 1.0}
    assert store.correct_answer(p1, "ann", "cant_tell", 30.0, now=1_006.0) == "stored"
    assert {p.pair_id for p in store.labelled_pairs()} == {p2}  # can't tell: not trained on
    store.close()


def test_counts_use_the_corrected_choice(new_location: NewLocation) -> None:
    """Ann's 'equal' on p1 corrected to 'left', Bob's 'left' on p2 corrected to can't-tell,
    Cy's can't-tell on p3 corrected to 'equal': the counts are those of the corrections."""
    store = LabelStore.create(new_location(), {"env_id": "X"})
    p1, p2, p3 = _add_pairs_with_clips(store, 3)
    for pair, choice, name in ((p1, "equal", "ann"), (p2, "left", "bob"), (p3, "cant_tell", "cy")):
        assert store.submit_answer(Answer(pair, choice, name, 1_000.0), now=1_000.0) == "stored"  # type: ignore[arg-type]
    before = store.counts()
    assert (before.answered, before.trainable, before.equal, before.cant_tell) == (3, 2, 1, 1)
    assert store.correct_answer(p1, "ann", "left", 30.0, now=1_002.0) == "stored"
    assert store.correct_answer(p2, "bob", "cant_tell", 30.0, now=1_002.0) == "stored"
    assert store.correct_answer(p3, "cy", "equal", 30.0, now=1_002.0) == "stored"
    after = store.counts()
    assert (after.pairs, after.answered, after.answers) == (3, 3, 3)
    assert (after.trainable, after.equal, after.cant_tell) == (2, 1, 1)
    assert (after.received, after.skipped) == (2, 1)
    assert {p.pair_id: p.target for p in store.labelled_pairs()} == {p1: 1.0, p3: 0.5}
    # the counts agree with what trains: p2 (now can't tell) is skipped, p3 is trainable
    assert store.correct_answer(p3, "cy", "cant_tell", 30.0, now=1_003.0) == "stored"
    last = store.counts()
    assert (last.trainable, last.equal, last.cant_tell, last.skipped) == (1, 0, 2, 2)
    store.close()
