"""Cells that are the same run under another name.

A cell's name comes from the options it sets, so two cells can differ in name and not in
what they run: ``--vary ablation=none`` is the plain full method, ``selector=disagreement``
and ``teacher=oracle`` are the defaults those axes vary from, and a grid that names one
of them runs again what another grid sharing the output directory already ran (the same
configuration and seed give the same run: Hopper-v5's full method at 700 labels, seed 0,
returned 3,290.10 under both names, run at two commits). Before a cell runs, the harness
looks for a finished cell whose ``rlhp train`` configuration equals this one's, as the
command line resolves it today (task preset, flags, ``--set``, ablations and methods);
if there is one, its record serves this cell too, marked ``same_run_as``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlhp.bench.grid import Cell
from rlhp.config import TrainConfig
from rlhp.errors import RlhpError

_IDENTITY = ("env_id", "reward", "labels", "seed", "timesteps", "algo")
"""Record fields that two cells of the same run always share: compared first, cheaply."""


def cell_config(cell: Cell) -> TrainConfig | None:
    """The configuration ``rlhp train`` builds for the cell; None if it cannot be built
    here (a rule module that does not import, a value this version rejects)."""
    from rlhp.cli.main import parser
    from rlhp.cli.train import train_config

    try:
        args = parser().parse_args(cell.train_argv(Path("run")))
        return train_config(args, None)
    except (RlhpError, ValueError, ImportError, SystemExit):
        return None


class SameRuns:
    """Finds, for a cell, a finished record in ``out/records`` of the same run."""

    def __init__(self, records_dir: Path) -> None:
        self.records_dir = records_dir
        self._configs: dict[str, TrainConfig | None] = {}
        self._records: list[dict[str, Any]] | None = None

    def _config(self, cell: Cell) -> TrainConfig | None:
        if cell.name not in self._configs:
            self._configs[cell.name] = cell_config(cell)
        return self._configs[cell.name]

    def _finished(self) -> list[dict[str, Any]]:
        """The records that ran, read once: cells that ran (not ``same_run_as`` another)
        and did not fail."""
        if self._records is None:
            self._records = []
            for path in sorted(self.records_dir.glob("*.json")):
                try:
                    record: dict[str, Any] = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                if "error" not in record and "same_run_as" not in record:
                    self._records.append(record)
        return self._records

    def find(self, cell: Cell) -> dict[str, Any] | None:
        """A finished record of another cell whose run is this cell's, relabelled as this
        cell's (``cell``, ``options``) with ``same_run_as`` naming the cell that ran;
        None if there is none (or the cell's configuration cannot be built)."""
        wanted = cell.to_dict()
        candidates = [
            r
            for r in self._finished()
            if r.get("cell") != cell.name and all(r.get(k) == wanted[k] for k in _IDENTITY)
        ]
        if not candidates or (target := self._config(cell)) is None:
            return None
        for record in candidates:
            if self._config(Cell.from_dict(record)) == target:
                return {
                    **record,
                    "cell": cell.name,
                    "options": wanted["options"],
                    "overrides": wanted["overrides"],
                    "same_run_as": record["cell"],
                }
        return None
