"""Which labeller a run uses: the synthetic oracle or people (``config.feedback``).

The loop calls a ``LabellerFactory`` once; ``rlhp train --feedback human`` passes one
that also starts the labelling server in a thread (see ``rlhp.cli``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlhp.config import TrainConfig
from rlhp.labellers.base import Labeller
from rlhp.labellers.oracle import SyntheticOracle
from rlhp.store.labels import LabelStore

LabellerFactory = Callable[[TrainConfig, LabelStore, Path, np.random.Generator], Labeller]
"""(config, store, run directory, the oracle's rng) → the run's labeller."""


def make_labeller(
    config: TrainConfig, store: LabelStore, run_dir: Path, rng: np.random.Generator
) -> Labeller:
    """The oracle, a comparison rule (``config.rule``: directly, or on the page with
    ``feedback="human"``), or people answering through ``rlhp label RUN_DIR``."""
    if config.rule is not None:
        from rlhp.labellers.rule import RuleLabeller, load_rule

        rule = load_rule(config.rule)
        if config.feedback == "human":
            from rlhp.labellers.rule_page import PageRuleLabeller

            return PageRuleLabeller(rule, run_dir, config.env_id, store)
        return RuleLabeller(rule, name=f"rule:{config.rule}")
    if config.feedback == "human":
        from rlhp.labellers.human import HumanLabeller

        return HumanLabeller(run_dir, config.env_id, store, where=f"rlhp label {run_dir}")
    return SyntheticOracle(store.true_rewards, config.oracle, rng)
