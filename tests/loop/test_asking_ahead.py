"""Asking ahead of need, and fitting answers as they land (issue #3, asynchronous training).

A labeller that answers late, from another thread, stands in for people: the loop must
ask the next update's pairs early and fit answers between scheduled updates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rlhp.config import AgentConfig, OracleConfig, RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.labellers.base import Answer, Labeller, Query
from rlhp.labellers.oracle import SyntheticOracle
from rlhp.loop.metrics import read_metrics
from rlhp.loop.runs import train
from rlhp.loop.schedule import LabelSchedule
from rlhp.store.labels import LabelStore


class LateLabeller(Labeller):
    """The oracle's answers, written into the store by a thread ``delay`` s after asking."""

    name = "late"
    asynchronous = True

    def __init__(self, store: LabelStore, rng: np.random.Generator, delay: float) -> None:
        self.store = store
        self.oracle = SyntheticOracle(store.true_rewards, OracleConfig(), rng)
        self.delay = delay
        self.threads: list[threading.Thread] = []

    def request(self, queries: list[Query]) -> None:
        self.oracle.request(queries)
        answers = self.oracle.collect()
        thread = threading.Thread(target=self._answer_later, args=(answers,))
        thread.start()
        self.threads.append(thread)

    def _answer_later(self, answers: list[Answer]) -> None:
        time.sleep(self.delay)
        self.store.record_answers(answers)

    def collect(self) -> list[Answer]:
        return []

    def wait_for_answers(self, count: int) -> int:
        while self.store.counts().answered < min(count, self.store.counts().pairs):
            time.sleep(0.01)
        return self.store.counts().answered


def test_pairs_are_asked_one_update_ahead_and_fitted_when_they_land(tmp_path: Path) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=4096,
        schedule=ScheduleConfig(labels=40, updates=2),
        reward_model=RewardModelConfig(pretrain_epochs=3, epochs_per_update=1),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )
    config = replace(config, queries=replace(config.queries, segment_length=20, ask_ahead=1))
    labellers: list[LateLabeller] = []

    def factory(
        cfg: TrainConfig, store: LabelStore, _run: Path, rng: np.random.Generator
    ) -> Labeller:
        labellers.append(LateLabeller(store, rng, delay=0.05))
        return labellers[0]

    train(config, tmp_path / "run", labeller_factory=factory)
    for thread in labellers[0].threads:
        thread.join()

    store = LabelStore.open(tmp_path / "run" / "labels.sqlite")
    schedule = LabelSchedule.from_config(config)
    asked_before_rl = sum(1 for *_, step in store.pairs() if step == 0)
    # pre-training asked its own 10 and, ahead of need, what update 1 (step 2048) will want
    assert asked_before_rl == schedule.due(schedule.update_step(1)) > schedule.pretrain
    assert store.counts().pairs == 40
    fitted_at = {
        row["reward/fitted_at_step"]
        for row in read_metrics(tmp_path / "run")
        if "reward/fitted_at_step" in row
    }
    # answers that landed during RL were fitted before the next scheduled update
    assert fitted_at - {0, 2048, 4096}, fitted_at


def test_the_oracle_asks_only_what_is_due() -> None:
    assert TrainConfig("CartPole-v1").ask_ahead == 0
    assert TrainConfig("CartPole-v1", feedback="human").ask_ahead == 1
    schedule = LabelSchedule.from_config(TrainConfig("CartPole-v1", total_timesteps=1000))
    assert schedule.due_ahead(0, 1, 0) == schedule.due(0) == schedule.pretrain
    assert schedule.due_ahead(0, 1, 1) == schedule.due(20)  # update 1 of 50 is at step 20
    assert schedule.due_ahead(990, 50, 3) == schedule.total  # never past the budget
