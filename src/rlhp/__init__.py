"""rlhp: deep reinforcement learning from human preferences.

>>> from rlhp import TrainConfig, ScheduleConfig, train, evaluate
>>> summary = train(TrainConfig("CartPole-v1", schedule=ScheduleConfig(labels=100)), "runs/cp")
>>> evaluate("runs/cp", episodes=20).true_return_mean
"""

import os

# Headless MuJoCo rendering (clips, ``rlhp record``) needs an OpenGL platform chosen
# before ``mujoco`` is first imported, which training environments do: EGL unless the
# user chose another (osmesa, glfw).
os.environ.setdefault("MUJOCO_GL", "egl")

from rlhp.config import (
    AgentConfig,
    OracleConfig,
    QueryConfig,
    RewardModelConfig,
    ScheduleConfig,
    TrainConfig,
)
from rlhp.errors import RlhpError
from rlhp.loop.runs import resume, train
from rlhp.loop.trainer import RunSummary

__all__ = [
    "AgentConfig",
    "OracleConfig",
    "QueryConfig",
    "RewardModelConfig",
    "RlhpError",
    "RunSummary",
    "ScheduleConfig",
    "TrainConfig",
    "resume",
    "train",
]
__version__ = "0.1.0"
