"""``rlhp bench``: run the grid's unfinished cells, then write the report.

out/runs/CELL/        each cell's run directory (benchmark.json: its measured record)
out/records/CELL.json a copy of each finished cell's record, with its thinned learning
                      curve: all the report reads, so this and random_returns.json are
                      what to commit or copy to continue the grid elsewhere
out/logs/CELL.log     each cell process's output
out/random_returns.json
out/runs.csv, out/summary.csv, out/summary.md (one row per task × condition: label budget
and the varied axes' values), out/curves/TASK-ALGO.png (one curve per condition) and,
with two or more budgets, out/curves/TASK-ALGO-labels.png (score against labels)

With ``run_missing=False`` (``--report-only``) nothing runs: the report covers the cells
already finished and says which are not, so a grid that takes days can be looked at
while it runs, from another copy of its records.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhp.bench.curves import plot_label_efficiency, plot_learning_curves
from rlhp.bench.grid import Cell, Grid
from rlhp.bench.report import (
    RUN_COLUMNS,
    GroupSummary,
    markdown_table,
    provenance_line,
    summarise,
    with_scores,
    write_csv,
)
from rlhp.bench.runner import (
    RECORDS_DIR,
    finished_record,
    random_return,
    record_file_of,
    run_local,
    run_ray,
    write_record,
)
from rlhp.bench.same_run import SameRuns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchResult:
    """What one ``rlhp bench`` invocation did and wrote."""

    ran: tuple[str, ...]
    """Cells run by this invocation."""
    skipped: tuple[str, ...]
    """Cells already finished by an earlier invocation."""
    same: tuple[str, ...]
    """Cells not run because a finished cell under another name is the same run
    (``rlhp.bench.same_run``): its record, marked ``same_run_as``, serves them; they are
    also in ``skipped``."""
    failed: tuple[str, ...]
    """Cells whose process failed (see out/logs/CELL.log); re-run on the next invocation."""
    missing: tuple[str, ...]
    """Cells not finished and not run (``run_missing=False``): left out of the report."""
    summary: tuple[GroupSummary, ...]
    markdown: str
    files: tuple[Path, ...]


def check_overrides(cell: Cell, record: dict[str, Any], out: Path) -> None:
    """Refuse a finished record of ``cell``'s name that ran with other ``--set`` values.

    ``--set`` applies to every cell and is not in their names (``--vary`` is), so the same
    name in the same ``out`` with another ``--set`` is another experiment: reusing its
    record would report it as this one, and re-running would overwrite it.

    Raises:
        ValueError: naming both ``--set`` lists and the two ways out.
    """
    ran = list(record.get("overrides", []))
    if ran != list(cell.overrides):
        raise ValueError(
            f"{cell.name} in {out} already ran with --set {ran or 'nothing'}, not "
            f"{list(cell.overrides) or 'nothing'}: give this grid its own --out, or vary "
            "the setting with --vary KEY=V1,V2 so that it names the cells"
        )


def run_bench(
    grid: Grid,
    out: Path,
    episodes: int = 20,
    jobs: int = 1,
    use_ray: bool = False,
    ray_address: str | None = None,
    report_dir: Path | None = None,
    run_missing: bool = True,
) -> BenchResult:
    """Run the grid's unfinished cells into ``out/runs``, then report on all its cells.

    Args:
        report_dir: where the report files go (default ``out``): grids that share ``out``
            share their finished cells (e.g. the env-reward twins) but keep their reports
            apart.
        run_missing: False: run nothing, report on the finished cells only.

    Raises:
        ValueError: ``run_missing`` is False and no cell of the grid has finished; or a
            cell of this name finished in ``out`` with other ``--set`` values (they do
            not name cells, so its record would pass for this grid's).
    """
    out.mkdir(parents=True, exist_ok=True)
    report = report_dir or out
    report.mkdir(parents=True, exist_ok=True)
    cells = grid.cells()
    records: dict[str, dict[str, Any]] = {}
    pending, same = [], []
    same_runs = SameRuns(out / RECORDS_DIR)
    for cell in cells:
        record = finished_record(cell, out)
        if record is not None:
            check_overrides(cell, record, out)
        if record is None and (record := same_runs.find(cell)) is not None:
            log.info("%s: the same run as %s, not run again", cell.name, record["same_run_as"])
            same.append(cell.name)
            if run_missing:  # kept, so that later invocations and reports find it
                write_record(record_file_of(cell, out), record)
        if record is None:
            pending.append(cell)
        else:  # run by another grid sharing ``out``, perhaps under other option names
            records[cell.name] = {**record, "options": cell.to_dict()["options"]}
    skipped = tuple(records)
    missing = () if run_missing else tuple(c.name for c in pending)
    if missing:
        if not records:
            raise ValueError(f"no cell of this grid has finished in {out}: nothing to report")
        cells = [c for c in cells if c.name in records]
        pending = []
    log.info("%d cells: %d finished before, %d to run", len(cells), len(skipped), len(pending))
    if pending:
        if use_ray:
            fresh = run_ray(pending, out, episodes, ray_address)
        else:
            fresh = run_local(pending, out, episodes, jobs)
        for record in fresh:
            records[record["cell"]] = record
    failed = tuple(name for name, r in records.items() if "error" in r)
    for name in failed:
        log.warning("cell %s failed: %s", name, records[name]["error"])
    randoms = _random_returns(out, sorted({c.env_id for c in cells}), episodes)
    rows = with_scores([records[c.name] for c in cells], randoms)
    summary = summarise(rows)
    markdown = markdown_table(summary)
    provenance = provenance_line(rows)
    if provenance:
        markdown += "\n" + provenance
    if missing:
        markdown += (
            f"\nPartial: {len(records)} of {len(records) + len(missing)} cells finished; "
            f"not yet run: {', '.join(missing)}.\n"
        )
    files = [
        write_csv(rows, report / "runs.csv", RUN_COLUMNS),
        write_csv(
            [dataclasses.asdict(g) for g in summary],
            report / "summary.csv",
            [f.name for f in dataclasses.fields(GroupSummary)],
        ),
    ]
    (report / "summary.md").write_text(markdown)
    files.append(report / "summary.md")
    files += plot_learning_curves(rows, report / "curves")
    files += plot_label_efficiency(summary, report / "curves")
    return BenchResult(
        ran=tuple(c.name for c in pending),
        skipped=skipped,
        same=tuple(same),
        failed=failed,
        missing=missing,
        summary=tuple(summary),
        markdown=markdown,
        files=tuple(files),
    )


def _random_returns(out: Path, env_ids: list[str], episodes: int) -> dict[str, float]:
    """Random-policy returns, computed once per task and kept in out/random_returns.json."""
    path = out / "random_returns.json"
    cache: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
    for env_id in env_ids:
        if env_id not in cache:
            cache[env_id] = random_return(env_id, episodes)
    path.write_text(json.dumps(cache, indent=2, sort_keys=True))
    return cache
