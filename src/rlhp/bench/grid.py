"""The benchmark grid: tasks × label budgets × seeds × any other axes × {preferences, env reward}.

A cell is one training run. Besides tasks, budgets and seeds, a grid varies any number of
*axes*: a named option of ``rlhp train`` (``selector``, ``teacher``, ``ablation``,
``method``, ``segment_length``) or any config field (``reward_model.ensemble_size``,
``agent.overrides``…, given to ``--set``). Each combination of axis values is a
*condition*; every condition runs on every task, budget and seed.

The env-reward reference run does not depend on the label budget nor on any axis that
only changes the preference side (the named options and the ``reward_model.``,
``queries.``, ``schedule.`` and ``oracle.`` fields), so each (task, seed) and setting of
the other axes has one env-reward cell beside its preference cells.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhp.config import Algo, RewardSource

NAMED_AXES: dict[str, str] = {
    "selector": "--query",
    "teacher": "--teacher",
    "ablation": "--ablation",
    "method": "--method",
    "segment_length": "--segment-length",
}
"""Axes that are named options of ``rlhp train``, and the flag each one sets."""
NONE_VALUE = "none"
"""The value of the ``ablation`` and ``method`` axes that passes no flag (the full method);
otherwise a value names one variant or several joined by ``+`` (``surf+rune``)."""
PREFERENCE_ONLY = ("reward_model.", "queries.", "schedule.", "oracle.", "agent.episode_ends")
"""Config sections, and single fields, that an env-reward run does not read."""
_NAME_SAFE = str.maketrans(
    {"/": "_", " ": "", ",": "+", "[": "", "]": "", '"': "", "{": "", "}": ""}
)


def changes_env_run(axis: str) -> bool:
    """Whether the env-reward twin must vary along ``axis`` too."""
    return axis not in NAMED_AXES and not axis.startswith(PREFERENCE_ONLY)


def option_argv(axis: str, value: str) -> list[str]:
    """The ``rlhp train`` arguments that set ``axis`` to ``value``."""
    if axis in ("ablation", "method"):  # several at once: surf+rune
        names = [] if value == NONE_VALUE else value.split("+")
        return [arg for name in names for arg in (NAMED_AXES[axis], name)]
    if axis in NAMED_AXES:
        return [NAMED_AXES[axis], value]
    return ["--set", f"{axis}={value}"]


@dataclass(frozen=True)
class Axis:
    """One varied setting of a grid and its values (given as text, as on the command line)."""

    name: str
    """A named option (``NAMED_AXES``) or a config key such as ``reward_model.ensemble_size``."""
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name or not self.values:
            raise ValueError(f"axis {self.name!r} needs a name and at least one value")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"axis {self.name} repeats a value: {list(self.values)}")
        if self.name in ("labels", "seed", "env_id", "reward"):
            raise ValueError(f"vary {self.name} with --labels, --seeds or --tasks, not --vary")

    @classmethod
    def parse(cls, text: str) -> Axis:
        """``name=v1,v2,…`` (a value holding commas, e.g. a JSON list, goes in ``name=[…];[…]``
        with ``;`` between values)."""
        name, sep, values = text.partition("=")
        if not sep or not values:
            raise ValueError(
                f"--vary expects AXIS=V1,V2 (e.g. selector=uniform,entropy), got {text!r}"
            )
        parts = values.split(";") if ";" in values else values.split(",")
        return cls(name.strip(), tuple(v.strip() for v in parts if v.strip()))

    def check(self, env_id: str) -> None:
        """Refuse a value ``rlhp train`` would refuse, before any cell runs.

        Raises:
            ValueError: one line naming the axis, the value and what it accepts.
        """
        from rlhp.ablations import ABLATIONS, METHODS
        from rlhp.config import ORACLE_PRESETS, Selector
        from rlhp.errors import ConfigError

        choices = {
            "selector": list(typing.get_args(Selector)),
            "teacher": sorted(ORACLE_PRESETS),
            "ablation": [NONE_VALUE, *sorted(ABLATIONS)],
            "method": [NONE_VALUE, *sorted(METHODS)],
        }
        for value in self.values:
            parts = value.split("+") if self.name in ("ablation", "method") else [value]
            if self.name in choices:
                if any(part not in choices[self.name] for part in parts):
                    raise ValueError(
                        f"--vary {self.name}: {value!r} is not one of {', '.join(choices[self.name])}"
                    )
            elif self.name == "segment_length":
                if not value.isdigit() or int(value) < 1:
                    raise ValueError(f"--vary segment_length: {value!r} is not an integer >= 1")
            else:
                from rlhp.rl.presets import task_config  # as rlhp train: the preset first

                try:
                    task_config(env_id).with_overrides([f"{self.name}={value}"])
                except ConfigError as exc:
                    raise ValueError(f"--vary {self.name}={value}: {exc}") from exc


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    env_id: str
    """Gymnasium id."""
    reward: RewardSource
    """preferences, or env for the reference twin."""
    labels: int
    """Label budget (0 for env-reward cells)."""
    seed: int
    """Seed of the run."""
    timesteps: int
    """RL environment steps."""
    algo: Algo = "ppo"
    """The RL algorithm (the same for both twins)."""
    overrides: tuple[str, ...] = ()
    """``--set`` assignments applied to every cell."""
    options: tuple[tuple[str, str], ...] = ()
    """(axis, value) of each varied axis this cell sets (an env cell: only those that
    change the env run)."""

    @property
    def name(self) -> str:
        """Directory name: unique per cell, stable across invocations (for resuming).

        An ``ablation``/``method`` of ``none`` is left out: it runs what no option runs, so
        grids that share an output directory share that cell (the full method).
        """
        mode = "env" if self.reward == "env" else f"pref{self.labels}"
        env = self.env_id.replace("/", "_")  # ALE/Pong-v5
        opts = "".join(
            f"-{k}={v}".translate(_NAME_SAFE)
            for k, v in self.options
            if not (k in ("ablation", "method") and v == NONE_VALUE)
        )
        return f"{env}-{self.algo}-{mode}{opts}-t{self.timesteps}-s{self.seed}"

    @property
    def condition(self) -> str:
        """What the report groups seeds by: ``env reward`` or ``N labels``, then the options."""
        head = "env reward" if self.reward == "env" else f"{self.labels} labels"
        return ", ".join([head, *(f"{k}={v}" for k, v in self.options)])

    def twin_options(self) -> tuple[tuple[str, str], ...]:
        """The options that the env-reward twin of this cell shares with it."""
        return tuple((k, v) for k, v in self.options if changes_env_run(k))

    def train_argv(self, run_dir: Path) -> list[str]:
        """``rlhp train`` arguments that make this cell's run in ``run_dir``."""
        argv = [
            "train",
            self.env_id,
            "--reward",
            self.reward,
            "--seed",
            str(self.seed),
            "--timesteps",
            str(self.timesteps),
            "--algo",
            self.algo,
            "--out",
            str(run_dir),
            "--no-progress",
        ]
        if self.reward == "preferences":
            argv += ["--labels", str(self.labels)]
        for item in self.overrides:
            argv += ["--set", item]
        for axis, value in self.options:
            argv += option_argv(axis, value)
        return argv

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "overrides": list(self.overrides),
            "options": [list(o) for o in self.options],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{
                **{k: v for k, v in data.items() if k in fields},
                "overrides": tuple(data.get("overrides", ())),
                "options": tuple((str(k), str(v)) for k, v in data.get("options", ())),
            }
        )


@dataclass(frozen=True)
class Grid:
    """What to run."""

    tasks: tuple[str, ...]
    """Gymnasium ids."""
    labels: tuple[int, ...] = (700,)
    """Label budgets of the preference runs."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds; every task × budget runs with each."""
    timesteps: int = 300_000
    """RL steps of every run."""
    algo: Algo = "ppo"
    """RL algorithm of every run."""
    overrides: tuple[str, ...] = ()
    """``--set`` assignments applied to every run."""
    env_reward: bool = True
    """Also run the env-reward twin of each (task, seed): the normalised score needs it."""
    axes: tuple[Axis, ...] = ()
    """Further settings to vary; every combination of their values is a condition."""

    def __post_init__(self) -> None:
        if not self.tasks or not self.seeds or not self.labels:
            raise ValueError("a grid needs at least one task, one seed and one label budget")
        if self.timesteps < 1 or min(self.labels) < 1:
            raise ValueError("timesteps and label budgets must be >= 1")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"an axis is varied twice: {names}")

    def conditions(self) -> list[tuple[tuple[str, str], ...]]:
        """Every combination of the axes' values, the first axis varying slowest."""
        return [
            tuple(zip((a.name for a in self.axes), values, strict=True))
            for values in itertools.product(*(a.values for a in self.axes))
        ]

    def cells(self) -> list[Cell]:
        """Every cell, task by task and seed by seed, each env-reward twin before the
        preference cells it serves; no cell twice."""
        out: dict[str, Cell] = {}
        for env_id in self.tasks:
            for seed in self.seeds:
                for options in self.conditions():
                    common = dict(
                        env_id=env_id,
                        seed=seed,
                        timesteps=self.timesteps,
                        algo=self.algo,
                        overrides=self.overrides,
                    )
                    cells = [
                        Cell(reward="preferences", labels=labels, options=options, **common)  # type: ignore[arg-type]
                        for labels in self.labels
                    ]
                    if self.env_reward:
                        twin = cells[0].twin_options()
                        cells.insert(0, Cell(reward="env", labels=0, options=twin, **common))  # type: ignore[arg-type]
                    for cell in cells:
                        out.setdefault(cell.name, cell)
        return list(out.values())
