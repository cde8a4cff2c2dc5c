"""Benchmark results: normalised scores, a CSV per run, a summary CSV and markdown table,
and learning curves.

Normalised score of a preference run (paper §3.1, B-Pref):
    (R_pref − R_random) / (R_env − R_random)
with R_env the env-reward twin (same task, seed, agent and steps) and R_random the
return of uniformly random actions; 1 means preferences did as well as the true reward.
R is the evaluation of the final policy (``normalised_score``; 20 episodes, actions as
``rlhp evaluate`` chooses them: deterministic, sampled on pixel games) and, as a
second reading, the true return while training over the last 10 % of the steps
(``late_score``, the end of the learning curves the paper plots).

A group's mean normalised score averages per-seed ratios, so each seed's twin's luck
enters it: on Hopper-v5 at 300k steps the twins end at 1,168–3,409 (two of five stuck
near 1,200), and a preference run at 3,300 scores 2.8 against one and 1.0 against
another. The summary also gives the score against the twins' mean,
(mean R_pref − R_random) / (mean R_env − R_random) over the group's seeds, with the
preference returns' std over the same span (``GroupSummary.twin_mean_score``).

How much of a score is the evaluation's luck: each run's final return is a mean over a
few episodes, so its normalised score has a standard error from the evaluation alone,
√(se_pref² + (score · se_env)²) / (R_env − R_random) with se = std / √episodes
(``evaluation_error``); a group reports the standard error of its mean score from that
source (``GroupSummary.score_eval_se``). On Ant-v5 at 300k steps, whose episodes end
whenever the torso flips, 20 episodes leave the 3-seed mean ±0.14 (its seeds' std is
0.11): most of the spread is the evaluation's. On Hopper-v5 the 10-seed means have
±0.02–0.03 against a seed std of 0.74–0.79: there the seeds' training differs.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

from rlhp.bench.grid import Cell, changes_env_run

RUN_COLUMNS = (
    "env_id", "algo", "reward", "labels", "seed", "timesteps", "condition", "options", "true_return", "true_return_std",
    "evaluation_episodes", "visible_return", "env_twin_return", "random_return", "normalised_score",
    "score_eval_se", "late_return", "late_score",
    "train_wall_s", "wall_ratio", "fit_wait_s",
    "process_wall_s", "cpu_s", "peak_rss_mib", "labels_answered", "final_val_accuracy",
    "final_return_correlation", "reward_hacking_flags", "return_pearson", "run_dir", "error",
    "finished_at", "commit", "load_average",
)  # fmt: skip
"""Columns of ``runs.csv``, one row per cell."""


def file_stem(env_id: str) -> str:
    """An env id as one file name: ``ALE/Pong-v5`` → ``ALE_Pong-v5`` (as cells name runs)."""
    return env_id.replace("/", "_")


def normalised_score(pref_return: float, env_return: float, random_return: float) -> float:
    """(R_pref − R_random) / (R_env − R_random); NaN when the env run is no better than random."""
    span = env_return - random_return
    if not math.isfinite(span) or abs(span) < 1e-9:
        return float("nan")
    return (pref_return - random_return) / span


EPISODES_BEFORE_RECORDED = 20
"""Evaluation episodes of a record written before records said (``rlhp bench``'s default
then as now)."""


def evaluation_error(pref: dict[str, Any], twin: dict[str, Any], random_return: float) -> float:
    """Standard error of a preference run's normalised score from its and its twin's
    finite evaluations alone (NaN where a return's std is unknown)."""
    span = float(twin["true_return"]) - random_return
    score = normalised_score(float(pref["true_return"]), float(twin["true_return"]), random_return)
    if not math.isfinite(score):
        return float("nan")
    errors = []
    for record in (pref, twin):
        std = record.get("true_return_std")
        episodes = record.get("evaluation_episodes") or EPISODES_BEFORE_RECORDED
        errors.append(float("nan") if std is None else float(std) / math.sqrt(episodes))
    return math.hypot(errors[0], score * errors[1]) / abs(span)


@dataclass(frozen=True)
class GroupSummary:
    """One line of the summary table: a task × algorithm × condition over its seeds."""

    env_id: str
    algo: str
    condition: str
    """``env reward`` or ``N labels``, then the varied axes' values (``selector=entropy, …``)."""
    seeds: int
    """Finished runs (seeds) in the group."""
    return_mean: float
    return_std: float
    """Population std over seeds (0 with one seed)."""
    score_mean: float
    """Mean normalised score (NaN for env-reward runs)."""
    score_std: float
    late_score_mean: float
    """Mean normalised score of the late training return (NaN for env-reward runs)."""
    late_score_std: float
    twin_mean_score: float
    """(mean R_pref − R_random) / (mean R_env − R_random) over the seeds that have a twin:
    the score against the twins' mean instead of each seed's own twin (NaN for env-reward
    runs)."""
    twin_mean_score_std: float
    """std of R_pref over those seeds, divided by the same span."""
    score_eval_se: float
    """Standard error of ``score_mean`` that the finite evaluations alone put on it:
    √(Σ ``evaluation_error``²) / n over the n runs that have a twin (NaN for env-reward
    runs)."""
    wall_mean_s: float
    """Mean training wall time (process start-up and evaluation excluded)."""
    wall_ratio_mean: float
    """Mean of wall(pref) / wall(env twin) over seeds (NaN for env-reward runs)."""
    peak_rss_max_mib: float
    """Largest peak resident memory of the group's processes."""


def _options(record: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in record.get("options") or ())


def twin_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a preference run shares with its env-reward twin."""
    shared = tuple((k, v) for k, v in _options(record) if changes_env_run(k))
    return record["env_id"], record["algo"], record["timesteps"], record["seed"], shared


def with_scores(
    records: Sequence[dict[str, Any]], random_returns: dict[str, float]
) -> list[dict[str, Any]]:
    """Each record with its twin's return, the random return, the score and wall ratio."""
    twins = {twin_key(r): r for r in records if r["reward"] == "env" and "error" not in r}
    rows = []
    for r in records:
        row = {k: r.get(k) for k in RUN_COLUMNS}
        row["curve"] = r.get("curve")
        row["options"] = "; ".join(f"{k}={v}" for k, v in _options(r))
        row["condition"] = Cell.from_dict(r).condition
        random = random_returns.get(r["env_id"], float("nan"))
        row["random_return"] = random
        twin = twins.get(twin_key(r))
        if r["reward"] == "preferences" and "error" not in r and twin is not None:
            row["env_twin_return"] = twin["true_return"]
            row["normalised_score"] = normalised_score(
                r["true_return"], twin["true_return"], random
            )
            row["score_eval_se"] = evaluation_error(r, twin, random)
            row["wall_ratio"] = r["train_wall_s"] / twin["train_wall_s"]
            if r.get("late_return") is not None and twin.get("late_return") is not None:
                row["late_score"] = normalised_score(r["late_return"], twin["late_return"], random)
        rows.append(row)
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[GroupSummary]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("error"):
            continue
        groups[(row["env_id"], row["algo"], row["condition"])].append(row)

    def stats(values: list[Any]) -> tuple[float, float]:
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not vals:
            return float("nan"), float("nan")
        return statistics.fmean(vals), statistics.pstdev(vals)

    out = []
    for (env_id, algo, condition), members in sorted(groups.items(), key=_group_order):
        ret = stats([m["true_return"] for m in members])
        score = stats([m.get("normalised_score") for m in members])
        late = stats([m.get("late_score") for m in members])
        pooled = _twin_mean_score(members)
        errors = [float(m["score_eval_se"]) for m in members if m.get("score_eval_se") is not None]
        eval_se = math.sqrt(sum(e * e for e in errors)) / len(errors) if errors else float("nan")
        out.append(
            GroupSummary(
                env_id=env_id,
                algo=algo,
                condition=condition,
                seeds=len(members),
                return_mean=ret[0],
                return_std=ret[1],
                score_mean=score[0],
                score_std=score[1],
                late_score_mean=late[0],
                late_score_std=late[1],
                twin_mean_score=pooled[0],
                twin_mean_score_std=pooled[1],
                score_eval_se=eval_se,
                wall_mean_s=stats([m["train_wall_s"] for m in members])[0],
                wall_ratio_mean=stats([m.get("wall_ratio") for m in members])[0],
                peak_rss_max_mib=max(float(m["peak_rss_mib"]) for m in members),
            )
        )
    return out


def _twin_mean_score(members: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """``GroupSummary.twin_mean_score`` and its std, over the members that have a twin."""
    scored = [
        m
        for m in members
        if m.get("env_twin_return") is not None and math.isfinite(float(m["true_return"]))
    ]
    if not scored:
        return float("nan"), float("nan")
    random = float(scored[0]["random_return"])
    prefs = [float(m["true_return"]) for m in scored]
    twin = statistics.fmean(float(m["env_twin_return"]) for m in scored)
    score = normalised_score(statistics.fmean(prefs), twin, random)
    spread = normalised_score(random + statistics.pstdev(prefs), twin, random)
    return score, spread


def _group_order(item: tuple[tuple[str, str, str], Any]) -> tuple[str, str, int, str]:
    env_id, algo, condition = item[0]
    head, _, options = condition.partition(", ")
    return env_id, algo, -1 if head == "env reward" else int(head.split()[0]), options


def write_csv(rows: Sequence[dict[str, Any]], path: Path, columns: Sequence[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def markdown_table(summary: Sequence[GroupSummary]) -> str:
    """The summary as a markdown table (mean ± std over seeds; the last column, the
    standard error the evaluations alone put on the mean normalised score)."""

    def pm(mean: float, std: float, digits: int) -> str:
        return "—" if not math.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"

    lines = [
        "| task | algo | condition | seeds | true return | normalised score | score, last 10 % of training | score vs twins' mean | train wall (s) | wall pref/env | peak RSS (MiB) | score's s.e. from evaluation |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in summary:
        ratio = "—" if not math.isfinite(g.wall_ratio_mean) else f"{g.wall_ratio_mean:.2f}"
        eval_se = "—" if not math.isfinite(g.score_eval_se) else f"± {g.score_eval_se:.2f}"
        lines.append(
            f"| {g.env_id} | {g.algo} | {g.condition} | {g.seeds} | {pm(g.return_mean, g.return_std, 1)} "
            f"| {pm(g.score_mean, g.score_std, 2)} | {pm(g.late_score_mean, g.late_score_std, 2)} "
            f"| {pm(g.twin_mean_score, g.twin_mean_score_std, 2)} | {g.wall_mean_s:.0f} | {ratio} | {g.peak_rss_max_mib:.0f} "
            f"| {eval_se} |"
        )
    return "\n".join(lines) + "\n"


def provenance_line(rows: Sequence[dict[str, Any]]) -> str:
    """When and from which commits the rows were measured, and the machine's load then
    (records older than these fields are counted as such)."""
    times = sorted(str(r["finished_at"]) for r in rows if r.get("finished_at"))
    if not times:
        return ""
    commits = sorted({str(r["commit"])[:7] for r in rows if r.get("commit")})
    loads = [float(r["load_average"]) for r in rows if r.get("load_average") is not None]
    older = len(rows) - len(times)
    return (
        f"Runs finished {times[0]} – {times[-1]} (UTC), from commit(s) "
        f"{', '.join(commits) or 'unknown'}; 1-minute load average as each ended "
        f"{min(loads):.1f}–{max(loads):.1f}"
        + (f"; {older} older run(s) not dated" if older else "")
        + ".\n"
    )


def plot_learning_curves(rows: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One PNG per task: training true return against env steps, a thin line per run and
    a thick one for each condition's mean over its seeds; below, corr(learned, true
    segment return) of the preference runs. Curves come from each row's ``curve`` (the
    record's thinned metrics), so a report needs no run directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_task: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row.get("error"):
            by_task[(row["env_id"], row["algo"])].append(row)
    paths = []
    for (env_id, algo), members in sorted(by_task.items()):
        fig, (ax, ax_corr) = plt.subplots(
            2, 1, figsize=(8, 8), sharex=True, height_ratios=(2, 1), constrained_layout=True
        )
        colours: dict[str, Any] = {}
        curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        for row in sorted(
            members, key=lambda r: (r["reward"] != "env", r["labels"], r["condition"], r["seed"])
        ):
            condition = row["condition"]
            curve = row.get("curve") or {}
            if not curve.get("env_step"):
                continue
            xs, ys = (np.asarray(curve[k], dtype=np.float64) for k in ("env_step", "true_return"))
            curves[condition].append((xs, ys))
            line = ax.plot(xs, ys, color=colours.get(condition), alpha=0.3, linewidth=0.8)[0]
            colours.setdefault(condition, line.get_color())
            if curve.get("corr_env_step"):
                ax_corr.plot(
                    curve["corr_env_step"],
                    curve["corr"],
                    color=line.get_color(),
                    alpha=0.8,
                    marker=".",
                )
        for condition, runs in curves.items():
            grid = np.linspace(0.0, min(xs[-1] for xs, _ in runs), 100)
            mean = np.mean([np.interp(grid, xs, ys) for xs, ys in runs], axis=0)
            ax.plot(
                grid,
                mean,
                color=colours[condition],
                linewidth=2.5,
                label=f"{condition} (mean of {len(runs)})",
            )
        ax_corr.set_ylabel("corr(learned, true)\nsegment return")
        ax_corr.set_xlabel("environment steps")
        ax_corr.set_ylim(-1.05, 1.05)
        ax_corr.grid(alpha=0.3)
        ax.set_title(  # two lines: a long task id (module:Env-v0) fits the width
            f"{env_id} · {algo.upper()}\ntrue return while training (thin: one line per seed)"
        )
        ax.set_ylabel("true episode return")
        ax.grid(alpha=0.3)
        ax.legend()
        path = out_dir / f"{file_stem(env_id)}-{algo}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


EFFICIENCY_PANELS = (
    ("score_mean", "score_std", "final policy (evaluation)"),
    ("late_score_mean", "late_score_std", "last 10 % of training"),
    ("twin_mean_score", "twin_mean_score_std", "final policy, against the twins' mean"),
)
"""The efficiency plot's panels: ``GroupSummary`` mean and std fields, and the title."""


def plot_label_efficiency(summary: Sequence[GroupSummary], out_dir: Path) -> list[Path]:
    """One PNG per task with two or more label budgets: the final policy's normalised
    score (left), the late-training score (middle) and the final policy against the
    twins' mean (right; ``GroupSummary.twin_mean_score``), mean ± std over seeds against
    the budget, one line per setting of the varied axes, in the same colour on every
    panel — the feedback-efficiency curve."""
    by_task: dict[tuple[str, str], dict[str, list[tuple[int, GroupSummary]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for g in summary:
        head, _, options = g.condition.partition(", ")
        if head == "env reward":
            continue
        by_task[(g.env_id, g.algo)][options or "default"].append((int(head.split()[0]), g))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for (env_id, algo), lines in sorted(by_task.items()):
        budgets = sorted({labels for points in lines.values() for labels, _ in points})
        if len(budgets) < 2:
            continue
        fig, axes = plt.subplots(
            1, len(EFFICIENCY_PANELS), figsize=(15, 5), sharey=True, constrained_layout=True
        )
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, (options, points) in enumerate(sorted(lines.items())):
            points.sort(key=lambda p: p[0])
            xs = np.array([p[0] for p in points], dtype=np.float64)
            seeds = "/".join(str(g.seeds) for _, g in points)
            for ax, (mean_attr, std_attr, _) in zip(axes, EFFICIENCY_PANELS, strict=True):
                mean = np.array([getattr(g, mean_attr) for _, g in points])
                std = np.array([getattr(g, std_attr) for _, g in points])
                colour = colours[i % len(colours)]
                ax.plot(xs, mean, "-", marker="o", color=colour, label=f"{options} ({seeds} seeds)")
                ax.fill_between(xs, mean - std, mean + std, color=colour, alpha=0.12)
        for ax, (_, _, title) in zip(axes, EFFICIENCY_PANELS, strict=True):
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_xlim(budgets[0] / 1.15, budgets[-1] * 1.15)  # a panel may have no finite point
            ax.set_xticks(budgets)
            ax.get_xaxis().set_major_formatter(ScalarFormatter())
            ax.get_xaxis().set_minor_formatter(NullFormatter())
            ax.set_xlabel("labels")
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("normalised score (1 = env reward), mean ± std over seeds")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{env_id} · {algo.upper()}: feedback efficiency")
        path = out_dir / f"{file_stem(env_id)}-{algo}-labels.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
