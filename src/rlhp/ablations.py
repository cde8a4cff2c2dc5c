"""Named variants of the method: the paper's ablations (§3.3) and later methods.

Each variant is a short list of config assignments (what ``--set`` takes), so what it
changes is written down in one place and visible in the run's ``config.json``.
``rlhp train --ablation NAME`` and ``--method NAME`` apply them after every other flag
and ``--set``, so a grid-wide ``--set`` cannot undo the ablation a cell is about.

Ablations (Christiano et al. 2017, §3.3 and figure 5):

* ``random_queries``: pairs chosen uniformly at random, not by ensemble disagreement.
* ``no_ensemble``: one predictor instead of an ensemble; as in the paper, queries are
  then random (there is no ensemble to disagree).
* ``no_online_queries``: every label is asked about the untrained policy's rollouts
  before RL starts; nothing is asked, and r̂ is not refitted, once RL runs.
* ``no_l2``: no L2 regularisation (its coefficient starts at, and stays, 0). The paper
  kept dropout in this ablation; rlhp's MuJoCo presets use no dropout, so the reward
  model is then unregularised.
* ``segment_length_1``: segments of a single step.
* ``regression``: r̂ fitted by least squares to the oracle's true segment returns instead
  of to the comparisons (the paper's "target").

Methods beyond the paper, with their papers' defaults (``rlhp.config.SurfConfig``,
``RuneConfig``):

* ``surf``: SURF (Park et al. 2022), pseudo-labels on confident unlabelled pairs and
  temporal-crop augmentation (``rlhp.reward.surf``).
* ``rune``: RUNE (Liang et al. 2022), an exploration bonus β_t·std over members that
  decays with the env steps (``rlhp.rl.rune``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rlhp.config import TrainConfig
from rlhp.errors import ConfigError


@dataclass(frozen=True)
class Variant:
    """A named change to a run's configuration."""

    name: str
    summary: str
    """What it changes, in one line (``rlhp train --help`` and the docs)."""
    assignments: tuple[str, ...]
    """``section.field=value`` assignments, as ``--set`` takes them."""

    def apply(self, config: TrainConfig) -> TrainConfig:
        return config.with_overrides(list(self.assignments))

    @property
    def keys(self) -> frozenset[str]:
        """The config keys this variant sets."""
        return frozenset(a.partition("=")[0] for a in self.assignments)


ABLATIONS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "random_queries",
            "pairs chosen uniformly at random instead of by disagreement",
            ("queries.selector=uniform",),
        ),
        Variant(
            "no_ensemble",
            "one reward predictor instead of an ensemble, so random queries (paper §3.3)",
            ("reward_model.ensemble_size=1", "queries.selector=uniform"),
        ),
        Variant(
            "no_online_queries",
            "every label asked before RL starts; none asked and no refit once RL runs",
            ("schedule.pretrain_fraction=1.0",),
        ),
        Variant(
            "no_l2",
            "no L2 regularisation of the reward model (coefficient 0, never adapted up)",
            ("reward_model.l2_initial=0.0",),
        ),
        Variant(
            "segment_length_1",
            "segments of one step instead of the preset's 1-2 s clips",
            ("queries.segment_length=1",),
        ),
        Variant(
            "regression",
            "r̂ fitted to the oracle's true segment returns (least squares), not to comparisons",
            ("reward_model.target=returns",),
        ),
    )
}
"""The paper's ablations (SPEC §8)."""

METHODS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "surf",
            "SURF: pseudo-labels on confident unlabelled pairs + temporal crops (Park et al. 2022)",
            ("reward_model.surf.enabled=true",),
        ),
        Variant(
            "rune",
            "RUNE: exploration bonus from ensemble disagreement, decaying (Liang et al. 2022)",
            ("reward_model.rune.enabled=true",),
        ),
    )
}
"""Feedback-efficiency methods published after the paper."""


def apply_variants(
    config: TrainConfig, ablations: Iterable[str] = (), methods: Iterable[str] = ()
) -> TrainConfig:
    """``config`` with the named ablations and methods applied, in order.

    Raises:
        ConfigError: an unknown name, or two variants that set one key to different values.
    """
    chosen = [_lookup(ABLATIONS, name, "--ablation") for name in ablations]
    chosen += [_lookup(METHODS, name, "--method") for name in methods]
    seen: dict[str, tuple[str, str]] = {}  # key → (value, variant)
    for variant in chosen:
        for assignment in variant.assignments:
            key, _, value = assignment.partition("=")
            if key in seen and seen[key][0] != value:
                raise ConfigError(
                    f"{seen[key][1]} and {variant.name} set {key} differently; choose one"
                )
            seen[key] = (value, variant.name)
        config = variant.apply(config)
    return config


def _lookup(table: dict[str, Variant], name: str, flag: str) -> Variant:
    if name not in table:
        raise ConfigError(f"unknown {flag} {name!r}; choose from {', '.join(sorted(table))}")
    return table[name]
