"""``rlhp bench`` end to end on a tiny two-axis CartPole grid (selector × ablation):
locally, on local Ray, and resuming.

Each cell is a real process (train 1,024 steps + evaluate); five cells per grid.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from rlhp.bench.grid import Axis, Grid
from rlhp.bench.harness import run_bench
from rlhp.bench.report import normalised_score
from rlhp.cli import main

pytestmark = pytest.mark.slow

TWO_AXES = Grid(
    tasks=("CartPole-v1",),
    labels=(10,),
    seeds=(0,),
    timesteps=1024,
    overrides=("schedule.updates=2", 'agent.overrides={"n_steps": 128}'),
    axes=(Axis.parse("selector=uniform,kcenter"), Axis.parse("ablation=none,no_online_queries")),
)


def _check_two_axes(out: Path) -> None:
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert len(rows) == 5 and all(r["error"] == "" for r in rows)
    env = [r for r in rows if r["reward"] == "env"]
    assert len(env) == 1  # neither axis changes the env-reward run: one twin serves all four
    randoms = json.loads((out / "random_returns.json").read_text())
    for row in rows:
        assert float(row["peak_rss_mib"]) > 50  # torch alone is bigger than that
        assert 0 < float(row["train_wall_s"]) < float(row["process_wall_s"])
        assert json.loads((Path(row["run_dir"]) / "state.json").read_text())["finished"]
        if row["reward"] == "preferences":
            assert float(row["env_twin_return"]) == float(env[0]["true_return"])
            expected = normalised_score(
                float(row["true_return"]), float(env[0]["true_return"]), randoms["CartPole-v1"]
            )
            assert float(row["normalised_score"]) == pytest.approx(expected)
            assert int(row["labels_answered"]) == 10
            assert 0.0 <= float(row["final_val_accuracy"]) <= 1.0
            assert row["reward_hacking_flags"] == "0"  # ≤ 3 fits: too few for a 4-update trend
    assert env[0]["final_val_accuracy"] == ""
    table = (out / "summary.md").read_text()
    for selector in ("uniform", "kcenter"):
        for ablation in ("none", "no_online_queries"):
            assert f"| 10 labels, selector={selector}, ablation={ablation} | 1 |" in table
    for row in rows:  # each condition ran what it says
        store = sqlite3.connect(Path(row["run_dir"]) / "labels.sqlite")
        if row["reward"] == "env":
            continue
        selectors = {s for (s,) in store.execute("select selector from pairs")}
        steps = {s for (s,) in store.execute("select env_step from pairs")}
        assert selectors == {row["options"].split(";")[0].split("=")[1]}
        assert (steps == {0}) == ("no_online_queries" in row["options"])
    assert (out / "curves" / "CartPole-v1-ppo.png").stat().st_size > 1000
    record = json.loads(next((out / "records").glob("*.json")).read_text())
    assert record["finished_at"].endswith("Z") and record["cpu_count"] == os.cpu_count()
    assert len(record["commit"]) == 40  # the tests run from this checkout


def test_a_two_axis_grid_runs_locally_and_resumes(tmp_path: Path) -> None:
    first = run_bench(TWO_AXES, tmp_path, episodes=2, jobs=2)
    assert len(first.ran) == 5 and not first.failed
    _check_two_axes(tmp_path)
    again = run_bench(TWO_AXES, tmp_path, episodes=2)
    assert again.ran == () and len(again.skipped) == 5
    record_file = tmp_path / "runs" / TWO_AXES.cells()[0].name / "benchmark.json"
    stamp = record_file.stat().st_mtime_ns
    # one cell lost its record: only it runs again, through the CLI's --vary
    victim = next(
        c for c in TWO_AXES.cells() if c.options == (("selector", "kcenter"), ("ablation", "none"))
    )
    (tmp_path / "runs" / victim.name / "benchmark.json").unlink()
    (tmp_path / "records" / f"{victim.name}.json").unlink()
    argv = [
        "bench",
        "--tasks",
        "CartPole-v1",
        "--labels",
        "10",
        "--seeds",
        "0",
        "--timesteps",
        "1024",
    ]
    argv += ["--set", "schedule.updates=2", "--set", 'agent.overrides={"n_steps": 128}']
    argv += ["--vary", "selector=uniform,kcenter", "--vary", "ablation=none,no_online_queries"]
    assert main([*argv, "--episodes", "2", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "runs" / victim.name / "benchmark.json").read_text())
    assert record["resumed"] is True and record_file.stat().st_mtime_ns == stamp
    _check_two_axes(tmp_path)

    # elsewhere (a later session, another machine): only the records and the random
    # returns came along; nothing runs again and the report is the same, curves included
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "records", elsewhere / "records")
    shutil.copy(tmp_path / "random_returns.json", elsewhere)
    moved = run_bench(TWO_AXES, elsewhere, episodes=2)
    assert moved.ran == () and len(moved.skipped) == 5 and not (elsewhere / "runs").exists()
    assert (elsewhere / "summary.md").read_text() == (tmp_path / "summary.md").read_text()
    before = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert list(csv.DictReader((elsewhere / "runs.csv").open())) == before
    assert (elsewhere / "curves" / "CartPole-v1-ppo.png").stat().st_size > 1000

    # a grid that names the defaults: teacher=oracle beside selector=uniform is the run
    # "selector=uniform, ablation=none" already made, so nothing runs and its record serves
    defaults = dataclasses.replace(
        TWO_AXES, axes=(Axis.parse("selector=uniform"), Axis.parse("teacher=oracle"))
    )
    named = run_bench(defaults, elsewhere, episodes=2, report_dir=elsewhere / "defaults")
    cell = defaults.cells()[1]
    assert named.ran == () and named.same == (cell.name,) and cell.name in named.skipped
    alias = json.loads((elsewhere / "records" / f"{cell.name}.json").read_text())
    ran = next(
        c for c in TWO_AXES.cells() if c.options == (("selector", "uniform"), ("ablation", "none"))
    )
    assert alias["same_run_as"] == ran.name and alias["cell"] == cell.name
    assert alias["options"] == [["selector", "uniform"], ["teacher", "oracle"]]
    row = next(r for r in before if r["options"] == "selector=uniform; ablation=none")
    assert alias["true_return"] == float(row["true_return"])
    assert "| 10 labels, selector=uniform, teacher=oracle | 1 |" in named.markdown
    (elsewhere / "records" / f"{cell.name}.json").unlink()  # as it was, for what follows

    # a bigger grid looked at before it has run: its finished cells, the others named
    wider = dataclasses.replace(TWO_AXES, seeds=(0, 1))
    partial = run_bench(
        wider, elsewhere, episodes=2, report_dir=elsewhere / "partial", run_missing=False
    )
    assert partial.ran == () and len(partial.skipped) == 5 and len(partial.missing) == 5
    assert all(name.endswith("-s1") for name in partial.missing)
    assert not (elsewhere / "runs").exists()
    assert list(csv.DictReader((elsewhere / "partial" / "runs.csv").open())) == before
    assert (
        "Partial: 5 of 10 cells finished; not yet run: "
        in (elsewhere / "partial" / "summary.md").read_text()
    )
    # and a grid none of whose cells has finished: one line, exit code 2, nothing run
    empty = tmp_path / "empty"
    assert main([*argv, "--episodes", "2", "--out", str(empty), "--report-only"]) == 2
    assert not (empty / "runs").exists()


def test_a_two_axis_grid_runs_on_local_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="the Ray scheduler needs the rlhp[ray] extra")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    first = run_bench(TWO_AXES, tmp_path, episodes=2, use_ray=True)
    assert len(first.ran) == 5 and not first.failed
    _check_two_axes(tmp_path)
    assert run_bench(TWO_AXES, tmp_path, episodes=2, use_ray=True).ran == ()
