"""When labels are asked for (SPEC §6): a pre-training share, then c/(T+c) or constant.

``due(T)`` is the cumulative number of pairs that should have been asked by env step
T. The decaying rate ∝ c/(T+c) integrates to F(T) = c·ln(1 + T/c); the constant rate to
F(T) = T. The online budget is spread in proportion to F(T)/F(T_total), so the whole
budget is asked by the end of the run whatever c is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rlhp.config import ScheduleKind, TrainConfig


@dataclass(frozen=True)
class LabelSchedule:
    """Cumulative label targets over a run.

    Attributes:
        total: the label budget.
        pretrain: labels asked before RL starts.
        total_timesteps: the run's env-step budget.
        kind: ``decay`` or ``constant``.
        c: the decay constant in env steps.
        updates: reward-model updates after pre-training, evenly spaced in env steps.
    """

    total: int
    pretrain: int
    total_timesteps: int
    kind: ScheduleKind
    c: float
    updates: int

    def __post_init__(self) -> None:
        if not 0 <= self.pretrain <= self.total:
            raise ValueError(f"pretrain labels {self.pretrain} outside [0, {self.total}]")

    @classmethod
    def from_config(cls, config: TrainConfig) -> LabelSchedule:
        total = config.schedule.labels if config.learns_reward else 0
        return cls(
            total=total,
            pretrain=config.pretrain_labels,
            total_timesteps=config.total_timesteps,
            kind=config.schedule.kind,
            c=config.decay_c,
            updates=config.schedule.updates,
        )

    def _integral(self, steps: float) -> float:
        if self.kind == "constant":
            return steps
        return self.c * math.log1p(steps / self.c)

    def due(self, timesteps: int) -> int:
        """Pairs that should have been asked by env step ``timesteps``."""
        fraction = min(
            1.0, self._integral(max(0, timesteps)) / self._integral(self.total_timesteps)
        )
        return self.pretrain + math.floor((self.total - self.pretrain) * fraction + 1e-9)

    def due_ahead(self, timesteps: int, next_update: int, ahead: int) -> int:
        """Pairs to have asked at ``timesteps`` when asking ``ahead`` updates early.

        ``next_update`` is the first update not yet reached; with ``ahead`` = 0 this is
        ``due(timesteps)``, with 1 it also asks what update ``next_update`` will need.
        """
        index = min(next_update - 1 + ahead, self.updates)
        return self.due(max(timesteps, self.update_step(index)))

    def update_step(self, index: int) -> int:
        """Env step at which reward update ``index`` (1-based) is due."""
        return math.ceil(self.total_timesteps * index / self.updates)


def pretrain_epochs_per_fit(epochs: int, fits: int) -> list[int]:
    """Pre-training's ``epochs`` passes as ``fits`` fits (``reward_model.pretrain_chunks``):
    as equal as whole passes allow, the larger ones first, none empty (fewer fits than
    asked when there are fewer passes than fits)."""
    fits = max(1, min(fits, epochs))
    base, extra = divmod(epochs, fits)
    return [base + (i < extra) for i in range(fits)]
