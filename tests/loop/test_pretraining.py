"""Pre-training in several fits with a checkpoint after each (``reward_model.
pretrain_chunks``): a run stopped during pre-training goes on after its last finished fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlhp.config import AgentConfig, RewardModelConfig, ScheduleConfig, TrainConfig
from rlhp.errors import ConfigError
from rlhp.loop.run_dir import RunDir
from rlhp.loop.schedule import pretrain_epochs_per_fit
from rlhp.loop.trainer import PreferenceLoop, store_meta
from rlhp.loop.updating import RewardUpdater
from rlhp.store.labels import LabelStore


def test_pretraining_passes_are_split_as_evenly_as_whole_passes_allow() -> None:
    assert pretrain_epochs_per_fit(200, 10) == [20] * 10
    assert pretrain_epochs_per_fit(7, 3) == [3, 2, 2]
    assert pretrain_epochs_per_fit(2, 5) == [1, 1]
    assert pretrain_epochs_per_fit(60, 1) == [60]


def _config(chunks: int) -> TrainConfig:
    return TrainConfig(
        "Pendulum-v1",
        total_timesteps=2_000,
        seed=3,
        schedule=ScheduleConfig(labels=60, updates=2),
        reward_model=RewardModelConfig(
            pretrain_epochs=9, pretrain_chunks=chunks, background_fit=False
        ),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )


def _loop(path: Path, config: TrainConfig, resume: bool) -> PreferenceLoop:
    run = RunDir.open(path) if resume else RunDir.create(path, config)
    store = (
        LabelStore.open(run.store_location, expect=store_meta(config), writing=True)
        if resume
        else LabelStore.create(run.store_location, store_meta(config))
    )
    return PreferenceLoop(config, run, store, resume=resume, progress=False)


def _pretraining_fits(path: Path) -> list[int]:
    """``reward/fitted_on`` of every fit installed at step 0, in order."""
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [r["reward/fitted_on"] for r in rows if r["env_step"] == 0 and "reward/fitted_on" in r]


def test_pretraining_in_three_fits_checkpoints_after_each(tmp_path: Path) -> None:
    loop = _loop(tmp_path / "run", _config(chunks=3), resume=False)
    loop._pretrain()
    assert loop.state["pretrained"] and loop.state["pretrain_fits"] == 3
    fits = _pretraining_fits(tmp_path / "run")
    assert len(fits) == 3 and len(set(fits)) == 1  # three fits on the same labels
    assert loop.run.reward_checkpoint.exists()


def test_a_run_stopped_during_pretraining_goes_on_after_its_last_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path, config = tmp_path / "run", _config(chunks=3)
    fit_again = RewardUpdater.fit_new_answers
    started: list[bool] = []

    def stopped_at_the_third(self: RewardUpdater, *args: object, **kw: object) -> None:
        started.append(bool(kw.get("again")))
        if started.count(True) == 2:  # the third fit of pre-training: the process dies
            raise KeyboardInterrupt
        fit_again(self, *args, **kw)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(RewardUpdater, "fit_new_answers", stopped_at_the_third)
        first = _loop(path, config, resume=False)
        with pytest.raises(KeyboardInterrupt):
            first._pretrain()
    first.store.close()
    assert len(_pretraining_fits(path)) == 2
    saved = json.loads((path / "state.json").read_text())
    assert saved["pretrain_fits"] == 2 and not saved.get("pretrained")
    after_two = torch.load(first.run.reward_checkpoint, weights_only=True)["model"]

    again = _loop(path, config, resume=True)
    assert again.updater is not None
    for name, value in again.updater.model.state_dict().items():  # goes on from fit 2
        torch.testing.assert_close(value, after_two[name])
    with caplog.at_level("INFO", logger="rlhp.loop.trainer"):
        again._pretrain()
    assert "pre-training resumes after fit 2 of 3" in caplog.text
    assert len(_pretraining_fits(path)) == 3  # one more fit, not three
    assert again.state["pretrained"] and again.state["pretrain_fits"] == 3
    assert again.store.counts().answered == again.schedule.pretrain  # no label asked twice


def test_the_progress_bar_says_which_pretraining_fit_and_step_it_is_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Atari's pre-training takes an hour or more on a CPU before the first agent step:
    the bar's description shows each fit and its gradient steps, then clears."""
    config = _config(chunks=2)
    run = RunDir.create(tmp_path / "run", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    loop = PreferenceLoop(config, run, store, resume=False, progress=True)
    assert loop.updater is not None
    loop._pretrain()
    shown = capsys.readouterr().err
    # each fit shows its first step at once, whatever its speed, then one a second
    assert "pre-training r̂ 1/2: step 0/" in shown and "pre-training r̂ 2/2: step 0/" in shown
    assert loop.updater.fitter.trainer.on_progress is None  # unhooked once RL starts
    loop.progress.close()
    store.close()


@pytest.mark.parametrize("threads", [3, None])
def test_pretraining_fits_use_the_pretraining_threads_and_updates_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int | None
) -> None:
    """The agent waits for pre-training's fits, so they take ``pretrain_threads`` (None:
    every usable core); RL's updates keep ``torch_threads``, and the worker thread's count
    is set back after each."""
    from rlhp.devices import usable_cores
    from rlhp.reward.training import RewardTrainer

    fit = RewardTrainer.fit
    seen: list[int] = []

    def counting(self: RewardTrainer, *args: object, **kw: object) -> object:
        seen.append(torch.get_num_threads())
        return fit(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(RewardTrainer, "fit", counting)
    config = _config(chunks=2).with_overrides(
        [f"reward_model.pretrain_threads={threads or 'null'}", "reward_model.background_fit=true"]
    )
    loop = _loop(tmp_path / "run", config, resume=False)
    loop._pretrain()
    expected = threads or usable_cores()
    assert seen == [expected, expected]
    updater = loop.updater
    assert updater is not None and updater.pretrain_threads == expected  # as logged
    updater.answers_fitted = 0  # as if the labels had just arrived: an RL update's fit
    updater.fit_new_answers(500, 1, None)
    assert updater.fitter.join() is not None
    assert seen == [expected, expected, 1]
    worker = updater.fitter._executor
    assert worker is not None  # the fits ran on the worker thread, now back at one
    assert worker.submit(torch.get_num_threads).result() == 1
    updater.fitter.close()


def test_a_thread_count_is_set_back_and_none_is_refused() -> None:
    from rlhp.devices import torch_threads

    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigError, match="pretrain_threads must be >= 1"):
        RewardModelConfig(pretrain_threads=0)
