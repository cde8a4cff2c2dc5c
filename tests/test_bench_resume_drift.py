"""A cell resumed from a run directory that an older preset started says what differs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from rlhp.bench.grid import Cell
from rlhp.bench.worker import config_drift
from rlhp.cli.main import parser
from rlhp.cli.train import train_config
from rlhp.loop.run_dir import RunDir


def _fresh(cell: Cell, run_dir: Path):  # type: ignore[no-untyped-def]
    return train_config(parser().parse_args(cell.train_argv(run_dir)), None)


def test_a_run_started_as_the_cell_starts_today_has_no_drift(tmp_path: Path) -> None:
    cell = Cell("CartPole-v1", "preferences", 40, 0, 2_000, overrides=("schedule.updates=3",))
    RunDir.create(tmp_path / "run", _fresh(cell, tmp_path / "run"))
    assert config_drift(tmp_path / "run", cell) == []


def test_a_run_started_under_an_older_preset_names_each_changed_field(tmp_path: Path) -> None:
    cell = Cell("CartPole-v1", "preferences", 40, 0, 2_000)
    today = _fresh(cell, tmp_path / "run")
    older = dataclasses.replace(
        today,
        reward_model=dataclasses.replace(today.reward_model, pretrain_chunks=4, ensemble_size=5),
    )
    RunDir.create(tmp_path / "run", older)
    assert config_drift(tmp_path / "run", cell) == [
        f"reward_model.ensemble_size: 5 → {today.reward_model.ensemble_size}",
        f"reward_model.pretrain_chunks: 4 → {today.reward_model.pretrain_chunks}",
    ]


def test_the_worker_says_so_before_it_resumes(tmp_path: Path) -> None:
    """The line lands in the cell's log (the worker's stderr); the run then resumes as saved."""
    cell = Cell("CartPole-v1", "preferences", 20, 0, 512)
    today = _fresh(cell, tmp_path / "run")
    older = dataclasses.replace(today, schedule=dataclasses.replace(today.schedule, updates=2))
    RunDir.create(tmp_path / "run", older)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlhp.bench.worker",
            str(tmp_path / "run"),
            json.dumps(cell.to_dict()),
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert f"{cell.name} resumes with the config it started with" in done.stderr
    assert f"schedule.updates: 2 → {today.schedule.updates}" in done.stderr
