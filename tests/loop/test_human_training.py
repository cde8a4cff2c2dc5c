"""``--feedback human`` end to end, without a browser: a simulated person answers over HTTP.

The trainer serves the page from a thread, renders clips in another, waits in
pre-training until its share is answered, then keeps training on the labels that land.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from rlhp.config import RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.labellers.base import Labeller
from rlhp.labellers.human import HumanLabeller
from rlhp.loop.metrics import read_metrics
from rlhp.loop.runs import train
from rlhp.loop.trainer import RunSummary
from rlhp.store.labels import LabelStore
from rlhp.web.app import LabellingSettings
from rlhp.web.server import LabellingServer


def _person(url: str, stop: threading.Event, answered: list[int], pause: float = 0.0) -> None:
    """Answers every pair it is offered (odd ids: left, even: right) until stopped,
    ``pause`` seconds after each."""
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/api/name", json={"name": "sim"})
        while not stop.is_set():
            try:
                _answer_one(client, answered)
            except httpx.TransportError:  # the run finished and its server stopped
                return
            time.sleep(pause)


def _answer_one(client: httpx.Client, answered: list[int]) -> None:
    pair = client.get("/api/next").json()["pair"]
    if pair is None:
        time.sleep(0.1)
        return
    head = client.get(pair["left"])  # the clip is really there: an MP4
    assert head.status_code == 200 and head.content[4:8] == b"ftyp"
    choice = "left" if pair["id"] % 2 else "right"
    if client.post("/api/answer", json={"pair_id": pair["id"], "choice": choice}).json()["stored"]:
        answered.append(pair["id"])


def _train_with_a_person(
    config: TrainConfig,
    run: Path,
    answered: list[int],
    servers: list[LabellingServer],
    pause: float = 0.0,
) -> RunSummary:
    """Train ``config`` with a simulated person answering on the run's page."""
    stop = threading.Event()

    def factory(
        cfg: TrainConfig, store: LabelStore, run_dir: Path, _rng: np.random.Generator
    ) -> Labeller:
        server = LabellingServer(LabellingSettings(run_dir), "127.0.0.1", 0).start()
        servers.append(server)
        person = threading.Thread(
            target=_person, args=(server.url, stop, answered, pause), daemon=True
        )
        person.start()
        return HumanLabeller(
            run_dir, cfg.env_id, store, where=server.url, poll_seconds=0.1, on_close=server.stop
        )

    try:
        return train(config, run, labeller_factory=factory)
    finally:
        stop.set()


@pytest.mark.slow
def test_train_with_people_waits_for_pretraining_labels_then_trains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=1024,
        feedback="human",
        schedule=ScheduleConfig(labels=12, updates=2),
        reward_model=RewardModelConfig(pretrain_epochs=5, epochs_per_update=2),
    )
    config = replace(config, queries=replace(config.queries, segment_length=20))
    servers: list[LabellingServer] = []
    answered: list[int] = []
    caplog.set_level(logging.INFO)
    summary = _train_with_a_person(config, tmp_path / "run", answered, servers)
    assert any(
        "training waits for people: 0 of 3 labels answered" in r.getMessage()
        for r in caplog.records
    )
    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    counts = store.counts()
    assert counts.pairs == 12 == summary.labels_asked
    assert counts.answers == len(answered) == len(set(answered))
    # pre-training asked its 3 (25 % of 12) and did not go on before they were answered
    first_three = [a for a in store.answers() if a.pair_id <= 3]
    assert len(first_three) == 3
    assert all(a.labeller == "sim" for a in store.answers())
    clips = sorted((tmp_path / "run" / "clips").glob("*.mp4"))
    assert len(clips) >= 6
    assert not servers[0]._thread.is_alive()  # type: ignore[union-attr]


@pytest.mark.slow
def test_wait_for_people_makes_every_update_wait_for_a_slow_person(tmp_path: Path) -> None:
    """1,024 CartPole steps take about a second; the person answers one pair per 0.3 s,
    so without waiting most of the 12 pairs would still be open when the run ends."""
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=1024,
        feedback="human",
        schedule=ScheduleConfig(labels=12, updates=2, wait_for_people=True),
        reward_model=RewardModelConfig(pretrain_epochs=5, epochs_per_update=2),
    )
    config = replace(config, queries=replace(config.queries, segment_length=20))
    answered: list[int] = []
    summary = _train_with_a_person(config, tmp_path / "run", answered, [], pause=0.3)
    assert summary.labels_asked == 12 == summary.labels_answered
    assert sorted(answered) == list(range(1, 13))
    # the last fit saw every answer: its row counts all 12 as trainable
    rows = [r for r in read_metrics(tmp_path / "run") if "labels/trainable" in r]
    assert rows[-1]["labels/trainable"] == 12
