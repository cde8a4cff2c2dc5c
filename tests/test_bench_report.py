"""Benchmark report math: normalised scores, twins, per-group mean ± std."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlhp.bench.grid import Axis, Cell, Grid
from rlhp.bench.report import (
    evaluation_error,
    markdown_table,
    normalised_score,
    summarise,
    with_scores,
)
from rlhp.bench.runner import late_training_return


def test_normalised_score_known_answers() -> None:
    assert normalised_score(100.0, 100.0, 20.0) == 1.0  # as good as the env reward
    assert normalised_score(20.0, 100.0, 20.0) == 0.0  # as bad as random
    assert normalised_score(60.0, 100.0, 20.0) == 0.5
    assert normalised_score(120.0, 100.0, 20.0) == 1.25  # better than the env-reward run
    assert math.isnan(normalised_score(50.0, 20.0, 20.0))  # env run no better than random


def test_grid_cells_pair_each_seed_with_one_env_twin() -> None:
    cells = Grid(tasks=("A-v0",), labels=(350, 700), seeds=(0, 1), timesteps=10).cells()
    assert [(c.reward, c.labels, c.seed) for c in cells] == [
        ("env", 0, 0),
        ("preferences", 350, 0),
        ("preferences", 700, 0),
        ("env", 0, 1),
        ("preferences", 350, 1),
        ("preferences", 700, 1),
    ]
    assert len({c.name for c in cells}) == 6
    cell = cells[1]
    assert Cell.from_dict(cell.to_dict()) == cell
    assert "--labels" in cell.train_argv(Path("x"))
    assert "--labels" not in cells[0].train_argv(Path("x"))


def _record(reward: str, labels: int, seed: int, ret: float, wall: float) -> dict[str, Any]:
    cell = Cell("A-v0", reward, labels, seed, 10)
    return {
        **cell.to_dict(),
        "cell": cell.name,
        "run_dir": "/nonexistent",
        "true_return": ret,
        "true_return_std": 0.0,
        "train_wall_s": wall,
        "peak_rss_mib": 100.0 + seed,
    }


def test_scores_and_summary_over_seeds() -> None:
    records = [
        _record("env", 0, 0, 100.0, 10.0),
        _record("preferences", 700, 0, 90.0, 11.0),
        _record("env", 0, 1, 60.0, 10.0),
        _record("preferences", 700, 1, 60.0, 13.0),
    ]
    rows = with_scores(records, {"A-v0": 10.0})
    assert [r["normalised_score"] for r in rows] == [None, pytest.approx(80 / 90), None, 1.0]
    assert rows[1]["env_twin_return"] == 100.0 and rows[3]["wall_ratio"] == pytest.approx(1.3)
    env, pref = summarise(rows)
    assert (env.condition, pref.condition) == ("env reward", "700 labels")
    assert (env.return_mean, env.return_std) == (80.0, 20.0)  # population std of 100, 60
    assert pref.score_mean == pytest.approx((80 / 90 + 1) / 2)
    assert pref.wall_ratio_mean == pytest.approx(1.2) and pref.peak_rss_max_mib == 101.0
    assert math.isnan(env.score_mean)
    # against the twins' mean (80): (75 − 10) / (80 − 10), the returns' std 15 over 70
    assert pref.twin_mean_score == pytest.approx(65 / 70)
    assert pref.twin_mean_score_std == pytest.approx(15 / 70)
    assert math.isnan(env.twin_mean_score)
    table = markdown_table([env, pref])
    assert "| A-v0 | ppo | 700 labels | 2 | 75.0 ± 15.0 | 0.94 ± 0.06 | — | 0.93 ± 0.21 |" in table


def test_a_failed_run_is_reported_but_not_averaged() -> None:
    records = [_record("env", 0, 0, 100.0, 10.0), {**_record("preferences", 700, 0, 0, 0)}]
    del records[1]["true_return"]
    records[1]["error"] = "boom"
    rows = with_scores(records, {"A-v0": 0.0})
    assert rows[1]["error"] == "boom" and rows[1]["normalised_score"] is None
    assert [g.condition for g in summarise(rows)] == ["env reward"]


def test_bench_cli_rejects_a_bad_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rlhp.cli import main

    argv = ["bench", "--tasks", "CartPole-v1", "--labels", "0", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "label budgets must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_varied_value_is_checked_against_each_tasks_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rlhp.cli import main

    pytest.importorskip("mujoco", reason="the MuJoCo presets need the rlhp[mujoco] extra")
    argv = ["bench", "--labels", "10", "--out", str(tmp_path), "--timesteps", "64"]
    squares = ["--vary", "reward_model.action_squares=true"]
    # Ant's preset feeds actions to the reward model, so their squares may be varied there
    Axis.parse("reward_model.action_squares=true").check("Ant-v5")
    # ... but not where the preset feeds no actions: refused before any cell runs
    assert main([*argv, "--tasks", "Ant-v5", "Hopper-v5", *squares]) == 2
    assert "needs reward_model.use_actions=true" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_ray_missing_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from rlhp.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import fails as if not installed
    argv = ["bench", "--tasks", "CartPole-v1", "--seeds", "0", "--ray", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "rlhp[ray]" in capsys.readouterr().err


class _FakeRay:
    """Records how ``ray.init`` is called; runs nothing."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.up = False

    def is_initialized(self) -> bool:
        return self.up

    def init(self, **kwargs: object) -> None:
        self.calls.append(kwargs)
        self.up = True

    def shutdown(self) -> None:
        self.up = False

    def remote(self, **_: object) -> Callable[[Callable[..., Any]], Any]:
        return lambda fn: fn

    def get(self, futures: list[Any]) -> list[Any]:
        return futures


def test_ray_address_comes_from_the_flag_or_ray_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from rlhp.bench.runner import LOCAL_OBJECT_STORE_BYTES, run_ray

    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    run_ray([], tmp_path, 1)  # local: a small object store
    run_ray([], tmp_path, 1, address="ray://head:10001")  # a cluster named by --ray-address
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    run_ray([], tmp_path, 1)  # a cluster named by RAY_ADDRESS: ray.init reads it
    assert [c.get("address") for c in fake.calls] == [None, "ray://head:10001", None]
    assert [c.get("object_store_memory") for c in fake.calls] == [
        LOCAL_OBJECT_STORE_BYTES,
        None,
        None,
    ]
    assert not fake.up  # the harness shuts down the Ray it started


def test_reward_diagnostics_take_the_last_fit_and_count_flags_and_waits() -> None:
    from rlhp.bench.runner import reward_diagnostics

    rows = [
        {"env_step": 0, "reward/val_accuracy": 0.7, "reward/return_correlation": 0.5},
        {"env_step": 5, "diagnostics/reward_hacking": 1, "time/fit_wait_seconds": 1.5},
        {"env_step": 9, "reward/val_accuracy": 0.9, "reward/return_correlation": 0.8},
        {"env_step": 9, "time/fit_wait_seconds": 0.25},
        {"env_step": 9, "diagnostics/reward_hacking": 1},
        {"env_step": 12, "labels/asked": 3},
    ]
    assert reward_diagnostics(rows) == {
        "final_val_accuracy": 0.9,
        "final_return_correlation": 0.8,
        "reward_hacking_flags": 2,
        "fit_wait_s": 1.75,
    }
    assert reward_diagnostics([])["final_val_accuracy"] is None


def test_a_records_learning_curve_keeps_returns_and_correlations_thinned_evenly() -> None:
    from rlhp.bench.runner import CURVE_POINTS, learning_curve

    rows = [{"env_step": 0}, {"env_step": 1, "rollout/true_return": float("nan")}]
    rows += [{"env_step": 10 * i, "rollout/true_return": float(i)} for i in range(1, 1001)]
    rows += [{"env_step": 5_000, "reward/return_correlation": 0.9, "labels/asked": 3}]
    curve = learning_curve(rows)
    assert (curve["corr_env_step"], curve["corr"]) == ([5_000.0], [0.9])
    steps, returns = curve["env_step"], curve["true_return"]
    assert len(steps) == CURVE_POINTS == len(returns)
    assert (steps[0], steps[-1], returns[0], returns[-1]) == (10.0, 10_000.0, 1.0, 1000.0)
    assert all(r == s / 10 for s, r in zip(steps, returns, strict=True))
    gaps = np.diff(steps)
    assert gaps.min() >= 20 and gaps.max() <= 30  # 1,000 points to 400: every 2nd or 3rd
    short = learning_curve(rows[:5])
    assert short["env_step"] == [10.0, 20.0, 30.0] and short["corr"] == []


def test_late_score_reads_the_last_tenth_of_each_learning_curve() -> None:
    rows = [
        {"env_step": 0},  # no episode finished yet
        {"env_step": 50, "rollout/true_return": 500.0},  # before the last 10 %: ignored
        {"env_step": 90, "rollout/true_return": 80.0},
        {"env_step": 95, "rollout/true_return": float("nan")},
        {"env_step": 100, "rollout/true_return": 100.0},
    ]
    assert late_training_return(rows, timesteps=100) == 90.0
    assert late_training_return(rows[:2], timesteps=100) is None
    records = [
        {**_record("env", 0, 0, 100.0, 10.0), "late_return": 90.0},
        {**_record("preferences", 700, 0, 55.0, 11.0), "late_return": 100.0},
        {**_record("env", 0, 1, 60.0, 10.0)},  # a record written before late returns
        {**_record("preferences", 700, 1, 60.0, 11.0), "late_return": 50.0},
    ]
    rows_out = with_scores(records, {"A-v0": 10.0})
    assert rows_out[1]["late_score"] == pytest.approx(90 / 80)
    assert rows_out[1]["normalised_score"] == pytest.approx(0.5)
    assert rows_out[3]["late_score"] is None  # its twin has no late return
    _, pref = summarise(rows_out)
    assert (pref.late_score_mean, pref.late_score_std) == (pytest.approx(90 / 80), 0.0)
    assert "| 0.75 ± 0.25 | 1.12 ± 0.00 |" in markdown_table([pref])


def test_axes_make_conditions_and_env_twins_vary_only_where_the_env_run_does() -> None:
    from rlhp.bench.grid import Axis

    grid = Grid(
        tasks=("A-v0",),
        labels=(50, 200),
        seeds=(0,),
        timesteps=10,
        axes=(Axis.parse("selector=uniform,kcenter"), Axis.parse("agent.n_envs=1,2")),
    )
    cells = grid.cells()
    env = [c for c in cells if c.reward == "env"]
    # the selector does not change the env-reward run; the number of envs does
    assert [c.options for c in env] == [(("agent.n_envs", "1"),), (("agent.n_envs", "2"),)]
    pref = [c for c in cells if c.reward == "preferences"]
    assert len(pref) == 2 * 2 * 2 and len({c.name for c in cells}) == len(cells) == 10
    cell = next(c for c in pref if c.options == (("selector", "kcenter"), ("agent.n_envs", "2")))
    argv = cell.train_argv(Path("x"))
    assert argv[-4:] == ["--query", "kcenter", "--set", "agent.n_envs=2"]
    assert cell.condition == f"{cell.labels} labels, selector=kcenter, agent.n_envs=2"
    assert Cell.from_dict(cell.to_dict()) == cell
    assert Cell("A-v0", "preferences", 5, 0, 10).name == "A-v0-ppo-pref5-t10-s0"  # old grids resume
    none = Cell("A-v0", "preferences", 5, 0, 10, options=(("ablation", "none"),))
    assert "--ablation" not in none.train_argv(Path("x"))
    # "none" runs the full method: grids sharing an output directory share that cell
    assert none.name == Cell("A-v0", "preferences", 5, 0, 10, options=(("method", "none"),)).name
    assert none.name == "A-v0-ppo-pref5-t10-s0" and none.condition == "5 labels, ablation=none"
    both = Cell("A-v0", "preferences", 5, 0, 10, options=(("method", "surf+rune"),))
    assert both.train_argv(Path("x"))[-4:] == ["--method", "surf", "--method", "rune"]
    assert Axis.parse("reward_model.hidden_sizes=[32, 32];[64]").values == ("[32, 32]", "[64]")
    # how terminations reach an agent on r̂ is an agent field the env-reward twin never reads
    ends = Grid(
        ("A-v0",), (50,), (0,), 10, axes=(Axis.parse("agent.episode_ends=absorbing,continue"),)
    )
    assert [c.options for c in ends.cells() if c.reward == "env"] == [()]


def test_scores_pair_each_condition_with_its_own_twin() -> None:
    def record(reward: str, options: tuple[tuple[str, str], ...], ret: float) -> dict[str, Any]:
        cell = Cell("A-v0", reward, 0 if reward == "env" else 100, 0, 10, options=options)  # type: ignore[arg-type]
        return {**cell.to_dict(), "cell": cell.name, "run_dir": "/x", "true_return": ret,
                "true_return_std": 0.0, "train_wall_s": 1.0, "peak_rss_mib": 1.0}  # fmt: skip

    n1, n2 = (("agent.n_envs", "1"),), (("agent.n_envs", "2"),)
    records = [
        record("env", n1, 100.0),
        record("env", n2, 50.0),
        record("preferences", (("selector", "uniform"), *n1), 100.0),
        record("preferences", (("selector", "uniform"), *n2), 100.0),
    ]
    rows = with_scores(records, {"A-v0": 0.0})
    assert [r["normalised_score"] for r in rows[2:]] == [1.0, 2.0]
    groups = summarise(rows)
    assert [g.condition for g in groups] == [
        "env reward, agent.n_envs=1",
        "env reward, agent.n_envs=2",
        "100 labels, selector=uniform, agent.n_envs=1",
        "100 labels, selector=uniform, agent.n_envs=2",
    ]


def test_the_summary_says_when_and_from_what_code_its_runs_were_measured() -> None:
    from rlhp.bench.report import provenance_line

    rows = [
        {
            "finished_at": "2026-12-06T03:10:00Z",
            "commit": "b88ac4c" + "0" * 33,
            "load_average": 2.4,
        },
        {
            "finished_at": "2026-12-06T02:05:00Z",
            "commit": "d286ac7" + "0" * 33,
            "load_average": 1.1,
        },
        {"finished_at": None, "commit": None, "load_average": None},  # a record from before
    ]
    assert provenance_line(rows) == (
        "Runs finished 2026-12-06T02:05:00Z – 2026-12-06T03:10:00Z (UTC), from commit(s) "
        "b88ac4c, d286ac7; 1-minute load average as each ended 1.1–2.4; 1 older run(s) "
        "not dated.\n"
    )
    assert provenance_line(rows[2:]) == ""


def test_curves_of_an_env_id_with_a_slash_are_one_file(tmp_path: Path) -> None:
    from rlhp.bench.curves import plot_label_efficiency, plot_learning_curves

    records = []
    for reward, labels in (("env", 0), ("preferences", 100), ("preferences", 200)):
        record = _record(reward, labels, 0, 5.0, 10.0)
        record["env_id"] = "MinAtar/Breakout-v1"
        record["curve"] = {"env_step": [0.0, 10.0], "true_return": [0.5, 5.0]}
        records.append(record)
    rows = with_scores(records, {"MinAtar/Breakout-v1": 0.5})
    paths = plot_learning_curves(rows, tmp_path)
    paths += plot_label_efficiency(summarise(rows), tmp_path)
    assert sorted(p.name for p in paths) == [
        "MinAtar_Breakout-v1-ppo-labels.png",
        "MinAtar_Breakout-v1-ppo.png",
    ]
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)


def test_the_evaluations_own_error_on_each_score_and_on_the_groups_mean() -> None:
    """A run's final return is a mean over its evaluation episodes: se = std / √episodes for
    the preference run and for its twin, combined as the score's ratio propagates them."""
    pref = {**_record("preferences", 700, 0, 50.0, 10.0), "true_return_std": 10.0}
    twin = {**_record("env", 0, 0, 100.0, 10.0), "true_return_std": 20.0}
    pref["evaluation_episodes"] = twin["evaluation_episodes"] = 25
    # score 0.5; se 10/5 = 2 and 20/5 = 4: √(2² + (0.5·4)²) / 100
    assert evaluation_error(pref, twin, 0.0) == pytest.approx(math.sqrt(8) / 100)
    older = {k: v for k, v in pref.items() if k != "evaluation_episodes"}  # before records said
    assert evaluation_error(older, twin, 0.0) == pytest.approx(
        math.hypot(10 / math.sqrt(20), 2) / 100
    )
    assert math.isnan(evaluation_error(pref, {**twin, "true_return": 0.0}, 0.0))  # no span
    pref1 = {**pref, "seed": 1, "cell": "p1"}
    twin1 = {**twin, "seed": 1, "cell": "e1"}
    rows = with_scores([twin, pref, twin1, pref1], {"A-v0": 0.0})
    assert rows[1]["score_eval_se"] == pytest.approx(math.sqrt(8) / 100)
    env, group = summarise(rows)
    assert group.score_eval_se == pytest.approx(math.sqrt(2 * 8 / 100**2) / 2)  # of the mean
    assert math.isnan(env.score_eval_se)
    assert markdown_table([env, group]).splitlines()[-1].endswith("| ± 0.02 |")
