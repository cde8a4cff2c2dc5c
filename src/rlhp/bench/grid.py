"""The benchmark grid: tasks × label budgets × seeds × {preferences, env reward}.

A cell is one training run. The env-reward reference run does not depend on the label
budget, so each (task, seed) has one env-reward cell beside its preference cells.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhp.config import Algo, RewardSource


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

    @property
    def name(self) -> str:
        """Directory name: unique per cell, stable across invocations (for resuming)."""
        mode = "env" if self.reward == "env" else f"pref{self.labels}"
        env = self.env_id.replace("/", "_")  # ALE/Pong-v5
        return f"{env}-{self.algo}-{mode}-t{self.timesteps}-s{self.seed}"

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
        return argv

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "overrides": list(self.overrides)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        return cls(**{**data, "overrides": tuple(data.get("overrides", ()))})


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

    def __post_init__(self) -> None:
        if not self.tasks or not self.seeds or not self.labels:
            raise ValueError("a grid needs at least one task, one seed and one label budget")
        if self.timesteps < 1 or min(self.labels) < 1:
            raise ValueError("timesteps and label budgets must be >= 1")

    def cells(self) -> list[Cell]:
        """Every cell, task by task and seed by seed, the env-reward twin first."""
        out = []
        for env_id in self.tasks:
            for seed in self.seeds:
                common = dict(
                    env_id=env_id,
                    seed=seed,
                    timesteps=self.timesteps,
                    algo=self.algo,
                    overrides=self.overrides,
                )
                if self.env_reward:
                    out.append(Cell(reward="env", labels=0, **common))  # type: ignore[arg-type]
                for labels in self.labels:
                    out.append(Cell(reward="preferences", labels=labels, **common))  # type: ignore[arg-type]
        return out
