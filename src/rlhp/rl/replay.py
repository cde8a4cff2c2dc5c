"""An off-policy agent's replay buffer in the run directory, so a resumed SAC run goes on
with the transitions it had (SB3 saves buffers by pickling; this is plain arrays).

``checkpoints/replay.npz`` holds the filled part of each of the buffer's arrays
(observations, next observations, actions, rewards, dones, timeouts) and where the
buffer stood (``pos``, ``full``); it is rewritten atomically at every checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from rlhp.atomic import replacing

FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def _buffer(model: BaseAlgorithm) -> ReplayBuffer | None:
    if isinstance(model, OffPolicyAlgorithm) and isinstance(model.replay_buffer, ReplayBuffer):
        return model.replay_buffer
    return None


def save_replay(model: BaseAlgorithm, path: Path) -> bool:
    """Write the agent's replay buffer to ``path``; False (nothing written) if it has none."""
    buffer = _buffer(model)
    if buffer is None:
        return False
    size = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {
        name: getattr(buffer, name)[:size]
        for name in FIELDS
        if getattr(buffer, name, None) is not None
    }
    with replacing(path) as tmp, tmp.open("wb") as f:
        np.savez(f, pos=np.array(buffer.pos), full=np.array(buffer.full), **arrays)
    return True


def load_replay(model: BaseAlgorithm, path: Path) -> int:
    """Refill the agent's replay buffer from ``path``; returns the transitions restored.

    Raises:
        ValueError: the saved arrays do not fit this agent's buffer.
    """
    buffer = _buffer(model)
    if buffer is None or not path.is_file():
        return 0
    with np.load(path, allow_pickle=False) as saved:
        for name in FIELDS:
            if name not in saved.files:
                continue
            target, values = getattr(buffer, name), saved[name]
            if values.shape[1:] != target.shape[1:] or len(values) > len(target):
                raise ValueError(f"{path}: saved {name} {values.shape} do not fit {target.shape}")
            target[: len(values)] = values
        buffer.pos = int(saved["pos"])
        buffer.full = bool(saved["full"])
        size = buffer.buffer_size if buffer.full else buffer.pos
    return int(size * buffer.n_envs)
