"""One reward update, driven by hand: ask → collect → fit → install (rlhp.loop.updating)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rlhp.config import AgentConfig, RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.loop.run_dir import RunDir
from rlhp.loop.schedule import LabelSchedule
from rlhp.loop.trainer import PreferenceLoop, store_meta
from rlhp.loop.updating import RewardUpdater
from rlhp.rl.agents import collect_untrained
from rlhp.store.labels import LabelStore


@pytest.fixture
def updater(tmp_path: Path) -> RewardUpdater:
    config = TrainConfig(
        "Pendulum-v1",
        total_timesteps=2_000,
        schedule=ScheduleConfig(labels=60, updates=2),
        reward_model=RewardModelConfig(pretrain_epochs=30, background_fit=False),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )
    config = replace(config, queries=replace(config.queries, segment_length=20))
    run = RunDir.create(tmp_path / "run", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    loop = PreferenceLoop(config, run, store, resume=False, progress=False)
    collect_untrained(loop.stack, 2_000)
    assert loop.updater is not None
    return loop.updater


def test_an_update_asks_what_is_due_fits_new_answers_once_and_installs(
    updater: RewardUpdater,
) -> None:
    schedule = LabelSchedule.from_config(updater.config)
    schedule_due = schedule.pretrain  # what is due at step 0, before the first update
    assert 0 < schedule_due == schedule.due_ahead(0, 1, 0) < schedule.total
    updater.ask_due(schedule, env_step=0, next_update=1)
    assert updater.store.counts().pairs == schedule_due
    updater.ask_due(schedule, env_step=0, next_update=1)  # nothing more is due
    assert updater.store.counts().pairs == schedule_due

    answers = updater.collect()  # the oracle answers at once
    assert len(answers) == schedule_due
    assert updater.store.counts().answered == schedule_due
    assert updater.install_finished(env_step=0) is None  # no fit started yet

    updater.fit_new_answers(env_step=0, epochs=30, max_steps=None)
    installed = updater.install_finished(env_step=0)
    assert installed is not None
    values = installed.values
    assert values["labels/answered"] == schedule_due
    assert values["reward/fitted_on"] == updater.store.counts().trainable
    # Pendulum's reward is smooth in the state: 30 oracle labels already rank segments
    assert values["reward/return_correlation"] > 0.5
    assert updater.published is not None
    assert set(updater.published) == {"model", "reward_model", "env_id", "optimizer", "l2"}

    updater.fit_new_answers(env_step=64, epochs=30, max_steps=None)  # no new answers
    assert updater.install_finished(env_step=64) is None


def test_a_reward_checkpoint_without_trainer_state_loads(updater: RewardUpdater) -> None:
    """``rlhp reward fit`` writes weights and L2 but no optimiser state; resuming with such
    a checkpoint raised KeyError: 'optimizer' (issue 9, defect 5)."""
    import torch

    updater.load({"model": updater.model.state_dict(), "l2": torch.full((3,), 0.5)})
    assert torch.equal(updater.trainer.l2, torch.full((3,), 0.5))
    updater.load({"model": updater.model.state_dict()})  # weights alone: fresh optimiser
    assert updater.published is not None
