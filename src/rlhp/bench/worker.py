"""The process of one cell: train (or resume) the run, then evaluate it.

``python -m rlhp.bench.worker RUN_DIR CELL_JSON EPISODES`` — the harness starts one per
cell and measures it from outside (wall time, CPU, peak memory). The run logs its
progress (``rlhp --verbose``: pre-training, fits, updates) to the cell's log file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rlhp.bench.grid import Cell

EVALUATION_FILE = "evaluation.json"


def main(argv: list[str]) -> int:
    run_dir, cell, episodes = Path(argv[0]), Cell.from_dict(json.loads(argv[1])), int(argv[2])
    from rlhp.cli import main as cli_main
    from rlhp.evaluation import evaluate

    if (run_dir / "run.json").exists():
        code = cli_main(["--verbose", "train", "--resume", str(run_dir), "--no-progress"])
    else:
        code = cli_main(["--verbose", *cell.train_argv(run_dir)])
    if code != 0:
        return code
    result = evaluate(run_dir, episodes=episodes)
    (run_dir / EVALUATION_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
