"""Entry points of a run: train a new one, resume a killed one.

Both open the run directory and the label store, hand them to ``PreferenceLoop`` and
close the store whatever happens; neither loses a label on a bad argument. A bad store
location is refused before anything is written.
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
from rlhp.queries import SelectorFactory
from rlhp.rl.agents import probe_env
from rlhp.store.engine import Location, is_url
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)


def train(
    config: TrainConfig,
    out: Path | str,
    progress: bool = False,
    labeller_factory: LabellerFactory | None = None,
    store: Location | None = None,
    selector_factory: SelectorFactory | None = None,
) -> RunSummary:
    """Train a new run into ``out`` (which must not hold a run already).

    Args:
        labeller_factory: overrides the labeller chosen by ``config.feedback`` (the CLI
            uses it to start the labelling server beside the trainer).
        store: where the label store goes: a SQLAlchemy URL (``postgresql://user@host/db``,
            an empty database) or an SQLite file; default ``out/labels.sqlite``. Recorded
            in ``run.json``, so every command finds it through the run directory.
        selector_factory: overrides the query selector chosen by ``config.queries.selector``
            (``rlhp.queries.QuerySelector``; the store records its ``name`` attribute, else
            its class name).
    """
    probe_env(config)
    recorded = None
    if store is not None:
        where = LabelStore.check_new(store)  # a bad location fails before out/ is touched
        if where.has_password:
            log.warning(
                "the password in %s is saved in plain text in run.json; "
                "put it in PGPASSWORD or ~/.pgpass instead",
                where,
            )
        recorded = str(store) if is_url(store) else str(Path(store).absolute())
    run = RunDir.create(Path(out), config, store=recorded)
    labels = LabelStore.create(run.store_location, store_meta(config))
    try:
        loop = PreferenceLoop(
            config, run, labels, False, progress, labeller_factory, selector_factory
        )
        return loop.run_to_end()
    finally:
        labels.close()


def resume(
    run_dir: Path | str,
    config: TrainConfig | None = None,
    progress: bool = False,
    labeller_factory: LabellerFactory | None = None,
    selector_factory: SelectorFactory | None = None,
) -> RunSummary:
    """Continue a killed run where its last checkpoint left it; no label is lost.

    Args:
        run_dir: the run directory.
        config: if given, must equal the run's saved config.
        selector_factory: as for ``train`` (pass the same one again).
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
    store = LabelStore.open(run.store_location, expect=store_meta(saved), writing=True)
    try:
        loop = PreferenceLoop(saved, run, store, True, progress, labeller_factory, selector_factory)
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
