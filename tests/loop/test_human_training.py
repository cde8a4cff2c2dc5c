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
from rlhp.loop.runs import train
from rlhp.store.labels import LabelStore
from rlhp.web.app import LabellingSettings
from rlhp.web.server import LabellingServer


def _person(url: str, stop: threading.Event, answered: list[int]) -> None:
    """Answers every pair it is offered (odd ids: left, even: right) until stopped."""
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/api/name", json={"name": "sim"})
        while not stop.is_set():
            try:
                _answer_one(client, answered)
            except httpx.TransportError:  # the run finished and its server stopped
                return


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
    stop, answered = threading.Event(), []

    def factory(
        cfg: TrainConfig, store: LabelStore, run_dir: Path, _rng: np.random.Generator
    ) -> Labeller:
        server = LabellingServer(LabellingSettings(run_dir), "127.0.0.1", 0).start()
        servers.append(server)
        threading.Thread(target=_person, args=(server.url, stop, answered), daemon=True).start()
        return HumanLabeller(
            run_dir, cfg.env_id, store, where=server.url, poll_seconds=0.1, on_close=server.stop
        )

    caplog.set_level(logging.INFO)
    try:
        summary = train(config, tmp_path / "run", labeller_factory=factory)
    finally:
        stop.set()
    assert any(
        "pre-training waits for people: 0 of 3 labels answered" in r.getMessage()
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
