"""``rlhp bench`` end to end on a tiny CartPole grid: locally, on local Ray, and resuming.

Each cell is a real process (train 2,000 steps + evaluate), so these tests take ~10 s each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rlhp.bench.grid import Grid
from rlhp.bench.harness import run_bench
from rlhp.bench.report import normalised_score
from rlhp.cli import main

pytestmark = pytest.mark.slow

TINY = Grid(
    tasks=("CartPole-v1",),
    labels=(10,),
    seeds=(0,),
    timesteps=2000,
    overrides=("schedule.updates=2",),
)
ENV_CELL, PREF_CELL = (c.name for c in TINY.cells())


def _check_report(out: Path) -> None:
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert [r["reward"] for r in rows] == ["env", "preferences"]
    env, pref = rows
    randoms = json.loads((out / "random_returns.json").read_text())
    expected = normalised_score(
        float(pref["true_return"]), float(env["true_return"]), randoms["CartPole-v1"]
    )
    assert float(pref["normalised_score"]) == pytest.approx(expected)
    assert float(pref["env_twin_return"]) == float(env["true_return"])
    for row in rows:
        assert row["error"] == ""
        assert float(row["peak_rss_mib"]) > 50  # torch alone is bigger than that
        assert 0 < float(row["train_wall_s"]) < float(row["process_wall_s"])
        assert json.loads((Path(row["run_dir"]) / "state.json").read_text())["finished"]
    assert int(pref["labels_answered"]) == 10
    assert 0.0 <= float(pref["final_val_accuracy"]) <= 1.0 and env["final_val_accuracy"] == ""
    assert pref["reward_hacking_flags"] == "0"  # ≤ 3 reward fits: too few for a 4-update trend
    table = (out / "summary.md").read_text()
    assert "| CartPole-v1 | ppo | env reward | 1 |" in table
    assert "| CartPole-v1 | ppo | 10 labels | 1 |" in table
    assert (out / "curves" / "CartPole-v1-ppo.png").stat().st_size > 1000


def test_tiny_grid_runs_locally_and_resumes_without_rerunning(tmp_path: Path) -> None:
    first = run_bench(TINY, tmp_path, episodes=3, jobs=2)
    assert set(first.ran) == {ENV_CELL, PREF_CELL} and not first.failed and not first.skipped
    _check_report(tmp_path)
    record = tmp_path / "runs" / PREF_CELL / "benchmark.json"
    stamp = record.stat().st_mtime_ns

    second = run_bench(TINY, tmp_path, episodes=3)
    assert second.ran == () and set(second.skipped) == {ENV_CELL, PREF_CELL}
    assert record.stat().st_mtime_ns == stamp
    _check_report(tmp_path)

    # A cell whose record is missing (killed before it was measured) runs again — resumed
    # from its run directory — and only that one; the CLI prints the table.
    (tmp_path / "runs" / ENV_CELL / "benchmark.json").unlink()
    argv = ["bench", "--tasks", "CartPole-v1", "--labels", "10", "--seeds", "0"]
    argv += ["--timesteps", "2000", "--set", "schedule.updates=2", "--episodes", "3"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "runs" / ENV_CELL / "benchmark.json").read_text())
    assert again["resumed"] is True and record.stat().st_mtime_ns == stamp


def test_tiny_grid_runs_on_local_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="the Ray scheduler needs the rlhp[ray] extra")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # hermetic: no usage reporting
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    first = run_bench(TINY, tmp_path, episodes=3, use_ray=True)
    assert set(first.ran) == {ENV_CELL, PREF_CELL} and not first.failed
    _check_report(tmp_path)
    second = run_bench(TINY, tmp_path, episodes=3, use_ray=True)
    assert second.ran == () and set(second.skipped) == {ENV_CELL, PREF_CELL}
