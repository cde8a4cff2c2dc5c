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


def _loop(
    tmp_path: Path,
    min_new_answers: int = 1,
    background: bool = False,
    env_id: str = "Pendulum-v1",
    pessimism: float = 0.0,
) -> PreferenceLoop:
    config = TrainConfig(
        env_id,
        total_timesteps=2_000,
        schedule=ScheduleConfig(labels=60, updates=2),
        reward_model=RewardModelConfig(
            pretrain_epochs=30,
            background_fit=background,
            min_new_answers=min_new_answers,
            pessimism=pessimism,
        ),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )
    config = replace(config, queries=replace(config.queries, segment_length=20))
    run = RunDir.create(tmp_path / "run", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    loop = PreferenceLoop(config, run, store, resume=False, progress=False)
    collect_untrained(loop.stack, 2_000)
    return loop


@pytest.fixture
def updater(tmp_path: Path) -> RewardUpdater:
    loop = _loop(tmp_path)
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
    assert set(updater.published) == {"model", "reward_model", "env_id", "atari", "optimizer", "l2"}

    updater.fit_new_answers(env_step=64, epochs=30, max_steps=None)  # no new answers
    assert updater.install_finished(env_step=64) is None


def test_a_fit_waits_for_min_new_answers_until_the_budget_is_asked(tmp_path: Path) -> None:
    # more than the whole budget after pre-training: only the two exceptions can fit
    loop = _loop(tmp_path, min_new_answers=100)
    updater, schedule = loop.updater, loop.schedule
    assert updater is not None
    updater.ask_due(schedule, env_step=0, next_update=1)
    answered = len(updater.collect())
    assert 1 <= answered < 100  # 6 pre-training labels of 60
    updater.fit_new_answers(env_step=0, epochs=5, max_steps=None)
    assert updater.install_finished(env_step=0) is None  # too few: r̂ stays as it is
    updater.fit_new_answers(env_step=0, epochs=5, max_steps=None, at_once=True)
    installed = updater.install_finished(env_step=0)  # pre-training fits what it has
    assert installed is not None and installed.values["labels/answered"] == answered

    updater.ask_due(schedule, env_step=2_000, next_update=3)  # the rest of the budget
    assert updater.store.counts().pairs == schedule.total
    assert 0 < len(updater.collect()) < 100
    updater.fit_new_answers(env_step=2_000, epochs=5, max_steps=None)
    installed = updater.install_finished(env_step=2_000)  # nothing more will come
    assert installed is not None and installed.values["labels/answered"] == schedule.total


def test_a_reward_checkpoint_without_trainer_state_loads(updater: RewardUpdater) -> None:
    """``rlhp reward fit`` writes weights and L2 but no optimiser state; resuming with such
    a checkpoint raised KeyError: 'optimizer' (issue 9, defect 5)."""
    import torch

    updater.load({"model": updater.model.state_dict(), "l2": torch.full((3,), 0.5)})
    assert torch.equal(updater.trainer.l2, torch.full((3,), 0.5))
    updater.load({"model": updater.model.state_dict()})  # weights alone: fresh optimiser
    assert updater.published is not None


def test_the_cnn_normalises_its_output_on_fewer_pairs(
    updater: RewardUpdater, tmp_path: Path
) -> None:
    pytest.importorskip("minatar", reason="needs the minatar extra: pip install 'rlhp[minatar]'")
    from rlhp.reward.cnn import CnnRewardEnsemble
    from rlhp.reward.ensemble import RewardEnsemble
    from rlhp.rl.presets import task_config

    assert len(updater.normalization_pick(600)) == RewardEnsemble.normalization_pairs == 512
    config = task_config("MinAtar/Breakout-v1").with_overrides(
        ["total_timesteps=2048", "schedule.labels=20", "reward_model.background_fit=false"]
    )
    run = RunDir.create(tmp_path / "minatar", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    loop = PreferenceLoop(config, run, store, resume=False, progress=False)
    assert loop.updater is not None
    assert len(loop.updater.normalization_pick(600)) == CnnRewardEnsemble.normalization_pairs
    assert CnnRewardEnsemble.normalization_pairs == 128
    assert len(loop.updater.normalization_pick(100)) == 100


@pytest.mark.parametrize("background", [False, True])
def test_an_install_says_how_long_the_agent_waited_for_the_fit(
    tmp_path: Path, background: bool
) -> None:
    loop = _loop(tmp_path, background=background)
    updater = loop.updater
    assert updater is not None
    updater.ask_due(LabelSchedule.from_config(updater.config), env_step=0, next_update=1)
    updater.collect()
    updater.fit_new_answers(env_step=0, epochs=30, max_steps=None)
    installed = updater.install_finished(env_step=0)  # joined at once
    assert installed is not None
    waited, took = installed.values["time/fit_wait_seconds"], installed.values["time/fit_seconds"]
    if background:  # the fit ran on the worker thread while this one waited for it
        assert waited > 0 and took <= waited * 1.5 + 0.05
    else:  # fitted inline before the join: nothing left to wait for
        assert waited < 0.05 < took


@pytest.mark.parametrize("background", [False, True])
def test_the_fit_ends_with_the_outputs_normalised_on_the_labelled_steps(
    tmp_path: Path, background: bool
) -> None:
    """The renormalisation runs in the fit (on the worker thread when there is one), on
    the labelled pairs picked when the fit started: at the install each member's outputs
    on those steps have mean 0 and std 1, and the agent's thread has nothing left to do."""
    import threading

    import torch

    loop = _loop(tmp_path, background=background)
    updater = loop.updater
    assert updater is not None
    updater.ask_due(LabelSchedule.from_config(updater.config), env_step=0, next_update=1)
    updater.collect()
    data, _ = updater.labelled.comparisons()
    assert data is not None
    state = updater.sample_rng.bit_generator.state
    pick = updater.normalization_pick(len(data))  # what fit_new_answers will draw
    updater.sample_rng.bit_generator.state = state
    threads: list[str] = []
    normalize = updater.model.fit_output_normalization

    def recording(*args: torch.Tensor) -> None:
        threads.append(threading.current_thread().name)
        normalize(*args)

    updater.model.fit_output_normalization = recording  # type: ignore[method-assign]
    updater.fit_new_answers(env_step=0, epochs=30, max_steps=None)
    assert updater.sample_rng.bit_generator.state != state  # drawn at the start
    after_start = updater.sample_rng.bit_generator.state
    assert updater.install_finished(env_step=0) is not None
    assert len(threads) == 1
    assert threads[0].startswith("rlhp-fit") == background  # not the agent's thread
    with torch.no_grad():
        model = updater.model.eval()
        raw = model.raw_rewards(
            data.obs[pick].flatten(0, 1),
            data.actions[pick].flatten(0, 1),
            data.absorbing[pick].flatten(0, 1),
        ).reshape(model.members, -1)
        normalised = model.normalize(raw)
    assert torch.allclose(normalised.mean(dim=1), torch.zeros(model.members), atol=1e-4)
    assert torch.allclose(normalised.std(dim=1), torch.ones(model.members), atol=1e-4)
    assert after_start != updater.sample_rng.bit_generator.state  # the install's diagnostic


@pytest.mark.parametrize(("env_id", "pessimism"), [("CartPole-v1", 0.0), ("Pendulum-v1", 1.0)])
def test_the_install_correlates_the_ensembles_returns_with_the_true_ones(
    tmp_path: Path, env_id: str, pessimism: float
) -> None:
    """corr(learned, true) at an install comes from the agent's snapshot (one evaluation
    shared with the return-scale carry-over), and is the ensemble's own: the same as from
    ``RewardEnsemble.segment_returns`` on the same segments, absorbing steps (CartPole)
    and pessimism (which changes the agent's reward, not r̂) included."""
    import numpy as np

    from rlhp.loop.updating import DIAGNOSTIC_SEGMENTS
    from rlhp.stats import pearson

    loop = _loop(tmp_path, env_id=env_id, pessimism=pessimism)
    updater = loop.updater
    assert updater is not None
    updater.ask_due(LabelSchedule.from_config(updater.config), env_step=0, next_update=1)
    updater.collect()
    updater.fit_new_answers(env_step=0, epochs=30, max_steps=None)
    before = updater.sample_rng.bit_generator.state  # the install draws the sample next
    installed = updater.install_finished(env_step=0)
    assert installed is not None
    replay = np.random.default_rng()
    replay.bit_generator.state = before
    segments, truth = updater.pool.sample(DIAGNOSTIC_SEGMENTS, updater.segment_length, replay)
    if env_id == "CartPole-v1":
        assert any(s.absorbing.any() for s in segments)
    expected = pearson(updater.model.segment_returns(segments), truth.sum(axis=1))
    assert expected is not None
    assert installed.values["reward/return_correlation"] == pytest.approx(expected, abs=1e-5)
