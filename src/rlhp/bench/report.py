"""Benchmark results: normalised scores, a CSV per run, a summary CSV and markdown table
(the curves are ``rlhp.bench.curves``).

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
