"""The run plot: true return and reward-model accuracy against env steps and labels."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rlhp.loop.metrics import read_metrics
from rlhp.loop.run_dir import RunDir


def plot_run(run_dir: Path | str, out: Path | None = None) -> Path:
    """Write a PNG of a run's metrics; returns its path. A run that learned a reward gets
    2×2 panels (true return and the reward model's accuracy, against env steps and
    labels received); a run on the env's reward, or on a frozen saved reward, one panel."""
    run = RunDir.open(Path(run_dir))
    config = run.config()
    rows = read_metrics(run.path)
    if not rows:
        raise FileNotFoundError(f"{run.path} has no metrics yet; train it first")
    steps = [r["env_step"] for r in rows]
    labels = [r.get("labels/received", r.get("labels/trainable")) or 0 for r in rows]
    true_return = [_num(r.get("rollout/true_return")) for r in rows]
    val_acc = [_num(r.get("reward/val_accuracy")) for r in rows]
    fresh_acc = [_num(r.get("reward/fresh_accuracy")) for r in rows]
    corr = [_num(r.get("reward/return_correlation")) for r in rows]
    title = f"{config.env_id} · {config.agent.algo.upper()} · reward: {config.reward}"
    if config.reward_model_file is not None:
        title = f"{config.env_id} · {config.agent.algo.upper()} · reward: a saved model, frozen"
    elif config.reward == "preferences":
        title += f" · {config.schedule.labels} labels, {config.queries.selector} queries"
    learned = max(labels) > 0 or any(_finite(val_acc + fresh_acc + corr))

    if not learned:
        fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
        _return_panel(ax, steps, true_return, "environment steps")
        fig.suptitle(title)
        return _save(fig, out or run.plot_file)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
    fig.suptitle(title)
    for col, (x, xlabel) in enumerate(((steps, "environment steps"), (labels, "labels received"))):
        _return_panel(axes[0][col], x, true_return, xlabel)
        ax = axes[1][col]
        ax.plot(
            *_finite_points(x, val_acc),
            marker=".",
            label="held-out accuracy (a fixed 1/e of the labels per member)",
        )
        ax.plot(
            x,
            fresh_acc,
            marker="x",
            linestyle="none",
            label="accuracy on new labels, before fitting",
        )
        ax.plot(*_finite_points(x, corr), marker=".", label="corr(learned, true) segment return")
        ax.set_ylim(-0.05 if min(_finite(corr), default=0) >= 0 else -1.05, 1.05)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("reward model")
        ax.grid(alpha=0.3)
    # below the panels: inside one, it hides the points it explains
    fig.legend(*axes[1][0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    return _save(fig, out or run.plot_file)


def _return_panel(ax: Axes, x: list, true_return: list[float], xlabel: str) -> None:
    ax.plot(*_finite_points(x, true_return), marker=".", color="tab:blue")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("true episode return (training)")
    ax.grid(alpha=0.3)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v == v]


def _finite_points(x: list, y: list[float]) -> tuple[list, list[float]]:
    """The points where y is known: rows without a fit leave gaps a line should bridge."""
    keep = [i for i, v in enumerate(y) if v == v]
    return [x[i] for i in keep], [y[i] for i in keep]
