"""The process of one cell: train (or resume) the run, then evaluate it.

``python -m rlhp.bench.worker RUN_DIR CELL_JSON EPISODES`` — the harness starts one per
cell and measures it from outside (wall time, CPU, peak memory). The run logs its
progress (``rlhp --verbose``: pre-training, fits, updates) to the cell's log file.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from rlhp.bench.grid import Cell

log = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"


def main(argv: list[str]) -> int:
    run_dir, cell, episodes = Path(argv[0]), Cell.from_dict(json.loads(argv[1])), int(argv[2])
    from rlhp.cli import main as cli_main
    from rlhp.evaluation import evaluate

    if (run_dir / "run.json").exists():
        drift = config_drift(run_dir, cell)
        if drift:
            log.warning(  # before the CLI configures logging: Python's last-resort stderr
                "rlhp bench: %s resumes with the config it started with; a fresh start today "
                "would differ in %s (delete %s to start it afresh)",
                cell.name,
                "; ".join(drift),
                run_dir,
            )
        code = cli_main(["--verbose", "train", "--resume", str(run_dir), "--no-progress"])
    else:
        code = cli_main(["--verbose", *cell.train_argv(run_dir)])
    if code != 0:
        return code
    result = evaluate(run_dir, episodes=episodes)
    (run_dir / EVALUATION_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    return 0


def config_drift(run_dir: Path, cell: Cell) -> list[str]:
    """``field: saved → today`` for every config field in which the run ``run_dir`` was
    started differently from how ``cell`` would start today (a preset or default changed
    since): a resumed run keeps its saved config, so its record mixes old settings with
    the commit that finished it. ``["(not compared…)"]`` where today's cannot be built."""
    from rlhp.bench.same_run import cell_config
    from rlhp.loop.run_dir import RunDir

    fresh = cell_config(cell)
    if fresh is None:
        return ["(not compared: this version cannot build the cell's config)"]
    saved = RunDir.open(run_dir).config().to_dict()
    return [f"{key}: {old} → {new}" for key, old, new in _differences(saved, fresh.to_dict(), "")]


def _differences(saved: Any, fresh: Any, where: str) -> list[tuple[str, Any, Any]]:
    if isinstance(saved, dict) and isinstance(fresh, dict):
        return [
            diff
            for key in sorted(set(saved) | set(fresh))
            for diff in _differences(saved.get(key), fresh.get(key), f"{where}{key}.")
        ]
    return [] if saved == fresh else [(where.rstrip("."), saved, fresh)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
