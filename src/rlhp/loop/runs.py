"""Entry points of a run: train a new one, resume a killed one.

Both open the run directory and the label store, hand them to ``PreferenceLoop`` and
close the store whatever happens; neither loses a label on a bad argument.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rlhp.config import TrainConfig
from rlhp.errors import RunDirError
from rlhp.labellers.factory import LabellerFactory
from rlhp.loop.run_dir import RunDir
from rlhp.loop.trainer import PreferenceLoop, RunSummary, store_meta
from rlhp.rl.agents import probe_env
from rlhp.store import LabelStore

log = logging.getLogger(__name__)


def train(
    config: TrainConfig,
    out: Path | str,
    progress: bool = False,
    labeller_factory: LabellerFactory | None = None,
) -> RunSummary:
    """Train a new run into ``out`` (which must not hold a run already).

    ``labeller_factory`` overrides the labeller chosen by ``config.feedback`` (the CLI
    uses it to start the labelling server beside the trainer).
    """
    probe_env(config)
    run = RunDir.create(Path(out), config)
    store = LabelStore.create(run.store_file, store_meta(config))
    try:
        loop = PreferenceLoop(config, run, store, False, progress, labeller_factory)
        return loop.run_to_end()
    finally:
        store.close()


def resume(
    run_dir: Path | str,
    config: TrainConfig | None = None,
    progress: bool = False,
    labeller_factory: LabellerFactory | None = None,
) -> RunSummary:
    """Continue a killed run where its last checkpoint left it; no label is lost.

    Args:
        run_dir: the run directory.
        config: if given, must equal the run's saved config.
    """
    run = RunDir.open(Path(run_dir))
    saved = run.config()
    if config is not None and config != saved:
        diff = sorted(
            k for k, v in _flat(config.to_dict()).items() if _flat(saved.to_dict()).get(k) != v
        )
        raise RunDirError(
            f"{run.path} was trained with another config (differs in {', '.join(diff)}); "
            "resume without those options or start a new run with --out"
        )
    store = LabelStore.open(run.store_file, expect=store_meta(saved))
    try:
        loop = PreferenceLoop(saved, run, store, True, progress, labeller_factory)
        if loop.state.get("finished"):
            log.info("%s already finished; nothing to resume", run.path)
        return loop.run_to_end()
    finally:
        store.close()


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "overrides":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
