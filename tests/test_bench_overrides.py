"""``--set`` does not name cells: a finished cell of the same name that ran with other
``--set`` values is refused, not reported as this grid's (and not overwritten)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rlhp.bench.grid import Grid
from rlhp.bench.harness import check_overrides, run_bench
from rlhp.bench.runner import record_file_of, write_record
from rlhp.cli import main


def _finished_elsewhere(out: Path, grid: Grid, overrides: list[str]) -> Path:
    """A finished record of the grid's only cell, as if run with ``overrides``."""
    (cell,) = grid.cells()
    record = {**cell.to_dict(), "overrides": overrides, "cell": cell.name, "true_return": 9.0}
    path = record_file_of(cell, out)
    write_record(path, record)
    return path


@pytest.mark.parametrize("run_missing", [True, False])
def test_a_cell_that_ran_with_other_set_values_is_refused(
    tmp_path: Path, run_missing: bool
) -> None:
    grid = Grid(
        tasks=("CartPole-v1",),
        labels=(10,),
        seeds=(0,),
        timesteps=1024,
        overrides=("schedule.updates=3",),
        env_reward=False,
    )
    path = _finished_elsewhere(tmp_path, grid, ["schedule.updates=2"])
    before = path.read_text()
    with pytest.raises(ValueError, match=r"already ran with --set \['schedule.updates=2'\], not"):
        run_bench(grid, tmp_path, run_missing=run_missing)
    assert path.read_text() == before  # nothing collected is touched
    assert not (tmp_path / "runs").exists()  # and nothing ran
    # the same --set values: the record serves
    (cell,) = dataclasses.replace(grid, overrides=("schedule.updates=2",)).cells()
    check_overrides(cell, json.loads(before), tmp_path)


def test_the_cli_names_the_clash_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = Grid(tasks=("CartPole-v1",), labels=(10,), seeds=(0,), timesteps=1024, env_reward=False)
    _finished_elsewhere(tmp_path, grid, ["reward_model.pessimism=1"])
    argv = ["bench", "--tasks", "CartPole-v1", "--labels", "10", "--seeds", "0"]
    argv += ["--timesteps", "1024", "--out", str(tmp_path), "--report-only"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--set ['reward_model.pessimism=1'], not nothing" in err and "--vary" in err
    assert json.loads(next((tmp_path / "records").glob("*.json")).read_text())["true_return"] == 9.0
