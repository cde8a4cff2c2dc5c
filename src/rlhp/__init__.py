"""rlhp: deep reinforcement learning from human preferences.

>>> from rlhp import TrainConfig, ScheduleConfig, train, evaluate
>>> summary = train(TrainConfig("CartPole-v1", schedule=ScheduleConfig(labels=100)), "runs/cp")
>>> evaluate("runs/cp", episodes=20).true_return_mean

The names below are imported on first use (module ``__getattr__``), so ``import
rlhp.web`` — the labelling server — loads neither torch nor Stable-Baselines3.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Headless MuJoCo rendering (clips, ``rlhp record``) needs an OpenGL platform chosen
# before ``mujoco`` is first imported, which training environments do: EGL unless the
# user chose another (osmesa, glfw).
os.environ.setdefault("MUJOCO_GL", "egl")
# Pre-training's reward fits use every core (``reward_model.pretrain_threads``). OpenMP's
# threads spin while they wait by default, and when another process shares the cores (a
# second bench cell) two-thread fits then took 1.2-3x a one-thread fit's time; waiting
# passively, about one thread's (docs/benchmarks.md). Read when torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from rlhp.config import (
        AgentConfig,
        OracleConfig,
        QueryConfig,
        RewardModelConfig,
        ScheduleConfig,
        TrainConfig,
    )
    from rlhp.errors import RlhpError
    from rlhp.evaluation import evaluate
    from rlhp.loop.runs import resume, train
    from rlhp.loop.trainer import RunSummary
    from rlhp.reward.saved import load_reward_model
    from rlhp.rl.learned_reward import LearnedRewardWrapper

_WHERE = {
    "AgentConfig": "rlhp.config",
    "OracleConfig": "rlhp.config",
    "QueryConfig": "rlhp.config",
    "RewardModelConfig": "rlhp.config",
    "ScheduleConfig": "rlhp.config",
    "TrainConfig": "rlhp.config",
    "RlhpError": "rlhp.errors",
    "evaluate": "rlhp.evaluation",
    "resume": "rlhp.loop.runs",
    "train": "rlhp.loop.runs",
    "RunSummary": "rlhp.loop.trainer",
    "load_reward_model": "rlhp.reward.saved",
    "LearnedRewardWrapper": "rlhp.rl.learned_reward",
}

__all__ = [
    "AgentConfig",
    "LearnedRewardWrapper",
    "OracleConfig",
    "QueryConfig",
    "RewardModelConfig",
    "RlhpError",
    "RunSummary",
    "ScheduleConfig",
    "TrainConfig",
    "evaluate",
    "load_reward_model",
    "resume",
    "train",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rlhp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
