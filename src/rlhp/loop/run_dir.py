"""The run directory: layout, versioned metadata, config and resumable state.

RUN/
  run.json            format version, env id, creation time; "store" if it lives elsewhere
  config.json         the TrainConfig (the CLI schema)
  labels.sqlite       the label store (segments, pairs, answers), unless run.json names
                      another location (``rlhp train --store URL``: a shared database)
  state.json          progress of the loop, rewritten atomically at each checkpoint
  checkpoints/reward_model.pt, checkpoints/agent.pt   weights only
  metrics.jsonl, tensorboard/
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhp.atomic import write_json
from rlhp.config import TrainConfig
from rlhp.errors import ConfigError, RunDirError
from rlhp.store.engine import Location

FORMAT_VERSION = 1
STORE_FILE = "labels.sqlite"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def store_location(self) -> Location:
        """Where this run's label store is: ``RUN/labels.sqlite`` or the recorded location."""
        return store_location(self.path)

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def reward_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "reward_model.pt"

    @property
    def agent_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "agent.pt"

    @property
    def plot_file(self) -> Path:
        return self.path / "plot.png"

    @classmethod
    def create(cls, path: Path, config: TrainConfig, store: str | None = None) -> RunDir:
        """Make a new run directory; refuses one that already holds a run.

        Args:
            store: the label store's location (an absolute path or a SQLAlchemy URL),
                recorded in ``run.json``; None for ``RUN/labels.sqlite``.
        """
        path = Path(path)
        if (path / "run.json").exists() or (path / STORE_FILE).exists():
            raise RunDirError(
                f"{path} already holds a run; resume it with --resume {path} or pick another --out"
            )
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} is a file; pick a directory for --out")
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        run = cls(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "env_id": config.env_id,
            "created_at": time.time(),
        }
        if store is not None:
            meta["store"] = store
        _write_json(path / "run.json", meta)
        run.config_file.write_text(config.to_json())
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory of a format this version reads."""
        path = Path(path)
        meta_file = path / "run.json"
        if not meta_file.is_file():
            raise RunDirError(f"{path} is not an rlhp run directory (no run.json); check the path")
        meta = _read_json(meta_file)
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunDirError(
                f"{path} has run format {version!r}; this rlhp reads up to {FORMAT_VERSION}"
            )
        return cls(path)

    def config(self) -> TrainConfig:
        try:
            return TrainConfig.from_dict(_read_json(self.config_file))
        except ConfigError as exc:
            raise RunDirError(f"{self.config_file} is not a valid rlhp config: {exc}") from exc

    def state(self) -> dict[str, Any]:
        return _read_json(self.state_file) if self.state_file.exists() else {}

    def save_state(self, state: dict[str, Any]) -> None:
        _write_json(self.state_file, state)


def store_location(path: Path) -> Location:
    """The label store of the run in ``path``: the location its ``run.json`` records, else
    ``path/labels.sqlite`` (also for a directory with a store but no ``run.json``)."""
    meta_file = Path(path) / "run.json"
    recorded = _read_json(meta_file).get("store") if meta_file.is_file() else None
    if recorded is None:
        return Path(path) / STORE_FILE
    if not isinstance(recorded, str) or not recorded:
        raise RunDirError(f"{meta_file}: 'store' must be a path or a database URL")
    return recorded


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise RunDirError(f"{path} does not hold a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_json(path, data, sort_keys=True)
