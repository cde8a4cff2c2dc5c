"""A user's own environment, and tasks without a preset (issue 9, defect 8)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from rlhp.config import TrainConfig
from rlhp.rl.presets import derived_preset, rollout_steps, segment_length

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("budget", [1024, 10_000, 100_000, 5_000_000])
def test_derived_on_policy_defaults_fit_sixteen_updates_in_any_budget(budget: int) -> None:
    for algo in ("ppo", "trpo"):
        preset = derived_preset(algo, budget)  # type: ignore[arg-type]
        rollout = rollout_steps(algo, preset.n_envs, preset.kwargs)  # type: ignore[arg-type]
        assert rollout <= max(budget // 16, 64)
        assert rollout <= 2048 * preset.n_envs  # never larger than SB3's own
        assert rollout % int(preset.kwargs["batch_size"]) == 0


def test_segments_fit_the_time_limit_of_a_task_without_a_preset() -> None:
    assert segment_length("Acrobot-v1") == 50  # 500-step limit
    sys.path.insert(0, str(ROOT))
    try:
        assert segment_length("examples.my_env:MyEnv-v0") == 50  # 200-step limit
    finally:
        sys.path.remove(str(ROOT))


def test_a_users_env_trains_from_the_readme_command_within_its_step_budget(
    tmp_path: Path,
) -> None:
    """The README's command, as a user types it: the console script, from the repo root."""
    rlhp = Path(sys.executable).with_name("rlhp")
    out = tmp_path / "my-env"
    cmd = [str(rlhp), "train", "examples.my_env:MyEnv-v0", "--labels", "20"]
    cmd += ["--timesteps", "1024", "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    state = json.loads((out / "state.json").read_text())
    assert state["finished"] and 1024 <= state["env_steps"] <= 1024  # exactly the budget
    assert "queries asked" in done.stdout and "the agent collects" not in done.stderr


def test_a_budget_the_rollouts_cannot_honour_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rlhp.rl.agents import build_stack
    from rlhp.segments import EpisodePool

    config = TrainConfig("Acrobot-v1", total_timesteps=1000, reward="env").with_overrides(
        ['agent.overrides={"n_steps": 2048}']
    )
    with caplog.at_level(logging.WARNING):
        build_stack(config, EpisodePool(1000), None, env_seed=0)
    assert "runs 8192" in caplog.text and "lower n_steps" in caplog.text


def test_an_env_module_that_does_not_import_gets_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rlhp.cli import main

    assert main(["train", "nowhere.to_be:Found-v0", "--out", str(tmp_path / "x")]) == 2
    assert "cannot import the module" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
