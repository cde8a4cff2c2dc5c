"""Keeping the size of the agent's reward steady across reward-model updates."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.vec_env import VecNormalize

from rlhp.reward.frozen import FrozenReward


def carry_return_scale(
    normalize: VecNormalize,
    old: FrozenReward | None,
    new_rewards: np.ndarray,
    obs: np.ndarray,
    actions: np.ndarray,
) -> float:
    """Rescale VecNormalize's running return statistics by how much r̂ changed in size.

    VecNormalize divides rewards by a running std of returns that adapts slowly. When a
    refit rescales r̂ (its normalisation follows the labelled data), the agent would see
    its rewards jump in size; multiplying the running statistics by the change of the
    reward's RMS on the same recent states keeps what the agent sees continuous.

    Args:
        normalize: the agent's VecNormalize (left alone unless it scales rewards).
        old: the reward the agent saw until now (None before the first).
        new_rewards: ``(n,)`` the reward it sees from now on, at ``obs`` and ``actions``
            (the loop evaluates it once for this and for its correlation diagnostic).
        obs: ``(n, *obs_shape)`` recent states.
        actions: ``(n, *act_shape)`` the actions taken there.

    Returns:
        The factor applied (1.0 when nothing was changed).
    """
    if old is None or not normalize.norm_reward or len(obs) == 0:
        return 1.0
    old_rms = float(np.sqrt(np.mean(old(obs, actions) ** 2)))
    new_rms = float(np.sqrt(np.mean(new_rewards**2)))
    if old_rms < 1e-8 or new_rms < 1e-8:
        return 1.0
    ratio = new_rms / old_rms
    normalize.ret_rms.mean = normalize.ret_rms.mean * ratio
    normalize.ret_rms.var = normalize.ret_rms.var * ratio**2
    return ratio
