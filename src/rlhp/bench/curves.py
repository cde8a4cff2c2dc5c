"""Benchmark curves: the learning curves of a report and its feedback-efficiency plot.

Drawn from the report's rows and group summaries (``rlhp.bench.report``) alone, so a
report needs no run directory: each row carries its record's thinned learning curve.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

from rlhp.bench.report import GroupSummary, file_stem


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
