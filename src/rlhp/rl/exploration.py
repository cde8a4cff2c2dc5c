"""PEBBLE's unsupervised pre-training reward: state entropy by k-nearest neighbours.

Lee, Smith & Abbeel (PEBBLE, ICML 2021, §4.1): before any preference is asked, the agent
maximises a particle estimate of the entropy of its state distribution, r_int(s) =
log(c + ‖s − s^k‖), with s^k the k-th nearest neighbour of s among recent states. The
replay buffer collected this way is relabelled with r̂ once the reward model exists
(``rl.agents.relabel_replay_buffer``), so the exploration is not wasted.
"""

from __future__ import annotations

import numpy as np


def knn_distance(query: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distance from each query state to its k-th nearest reference state.

    Args:
        query: ``(B, D)`` states.
        reference: ``(N, D)`` states, N >= 1; if N < k the farthest one is used.
        k: which neighbour (1 = nearest).

    Returns:
        ``(B,)`` distances.
    """
    if query.ndim != 2 or reference.ndim != 2 or query.shape[1] != reference.shape[1]:
        raise ValueError(f"expected (B, D) and (N, D) states, got {query.shape}, {reference.shape}")
    if reference.shape[0] == 0:
        raise ValueError("knn_distance needs at least one reference state")
    diff = query[:, None, :] - reference[None, :, :]
    dist = np.sqrt((diff * diff).sum(axis=-1))  # (B, N)
    kth = min(k, reference.shape[0]) - 1
    return np.partition(dist, kth, axis=1)[:, kth]


def state_entropy_reward(
    query: np.ndarray, reference: np.ndarray, k: int, c: float = 1.0
) -> np.ndarray:
    """r_int = log(c + k-NN distance), ``(B,)``; 0 where there is no reference yet."""
    if reference.shape[0] == 0:
        return np.zeros(query.shape[0])
    return np.log(c + knn_distance(query, reference, k))


class StateEntropyReward:
    """The intrinsic reward over a ring buffer of the most recent ``capacity`` states."""

    def __init__(self, obs_dim: int, k: int, capacity: int = 2048) -> None:
        self.k = k
        self._buffer = np.zeros((capacity, obs_dim), dtype=np.float64)
        self._size = 0
        self._next = 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Rewards for ``(B, *obs_shape)`` states, then remember them."""
        flat = obs.reshape(obs.shape[0], -1).astype(np.float64)
        rewards = state_entropy_reward(flat, self._buffer[: self._size], self.k)
        for row in flat:
            self._buffer[self._next] = row
            self._next = (self._next + 1) % len(self._buffer)
            self._size = min(self._size + 1, len(self._buffer))
        return rewards
