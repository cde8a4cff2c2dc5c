"""Run configuration: frozen, typed, nested dataclasses.

The same classes are the CLI schema (``rlhp train --set section.field=value``) and the
saved ``config.json`` of a run directory. Values that depend on others (segment length
from the environment preset, the decay constant from the step budget) are properties,
never fields patched after parsing. One module per section:

- ``train``: ``TrainConfig``, the run, holding every section below;
- ``reward``: the reward ensemble and its fits (``RewardModelConfig``; SURF, RUNE);
- ``queries``: which pairs are asked (``QueryConfig``) and when (``ScheduleConfig``);
- ``teacher``: the synthetic oracle and B-Pref's named teachers (``ORACLE_PRESETS``);
- ``agent``: the RL agent (``AgentConfig``) and the pixel games (``AtariConfig``);
- ``choices``: the ``Literal`` value sets; ``parsing``: JSON → dataclasses, checked.
"""

from rlhp.config.agent import AgentConfig, AtariConfig
from rlhp.config.choices import (
    Algo,
    Device,
    Feedback,
    RewardSource,
    RewardTarget,
    ScheduleKind,
    Selector,
)
from rlhp.config.queries import QueryConfig, ScheduleConfig
from rlhp.config.reward import RewardModelConfig, RuneConfig, SurfConfig
from rlhp.config.teacher import ORACLE_PRESETS, OracleConfig
from rlhp.config.train import TrainConfig

__all__ = [
    "ORACLE_PRESETS",
    "AgentConfig",
    "Algo",
    "AtariConfig",
    "Device",
    "Feedback",
    "OracleConfig",
    "QueryConfig",
    "RewardModelConfig",
    "RewardSource",
    "RewardTarget",
    "RuneConfig",
    "ScheduleConfig",
    "ScheduleKind",
    "Selector",
    "SurfConfig",
    "TrainConfig",
]
