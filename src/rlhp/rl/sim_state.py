"""Get and set the simulator state of an environment, as one flat float64 vector.

Clips are rendered after the fact, only for segments that a person will be asked
about: during rollouts the reward wrapper records each step's simulator state (a few
numbers, microseconds), and ``rlhp.clips`` later replays those states into a render
environment. Supported:

* classic control (CartPole, Pendulum, MountainCar, Acrobot …): ``env.unwrapped.state``;
* MuJoCo: ``qpos`` followed by ``qvel`` (``env.unwrapped.set_state(qpos, qvel)``).

Anything else raises ``ClipError`` naming the environment, so ``--feedback human`` fails
at start-up rather than when the first clip is due.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlhp.errors import RlhpError


class ClipError(RlhpError):
    """An environment's clips cannot be recorded or rendered."""


def _is_mujoco(env: Any) -> bool:
    return hasattr(env, "data") and hasattr(env, "set_state") and hasattr(env.data, "qpos")


def get_state(env: gym.Env) -> np.ndarray:
    """The simulator state ``(state_dim,)`` float64 of ``env`` (after a reset)."""
    inner = env.unwrapped
    if _is_mujoco(inner):
        return np.concatenate([inner.data.qpos, inner.data.qvel]).astype(np.float64)  # type: ignore[attr-defined]
    state = getattr(inner, "state", None)
    if state is None:
        raise ClipError(
            f"cannot record the simulator state of {env.spec.id if env.spec else env!r}: "
            "clips are supported for classic-control and MuJoCo environments"
        )
    return np.asarray(state, dtype=np.float64).ravel().copy()


def set_state(env: gym.Env, state: np.ndarray) -> None:
    """Put ``env`` (reset once beforehand) into ``state`` as returned by ``get_state``."""
    inner = env.unwrapped
    if _is_mujoco(inner):
        nq = inner.data.qpos.shape[0]  # type: ignore[attr-defined]
        inner.set_state(state[:nq], state[nq:])  # type: ignore[attr-defined]
        return
    current = getattr(inner, "state", None)
    if current is None:
        raise ClipError(f"cannot set the simulator state of {env.spec.id if env.spec else env!r}")
    if isinstance(current, np.ndarray):
        inner.state = state.astype(current.dtype).reshape(current.shape)  # type: ignore[attr-defined]
    else:  # e.g. a tuple in some classic-control envs
        inner.state = type(current)(state.tolist())  # type: ignore[attr-defined]
