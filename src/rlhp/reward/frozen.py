"""The ensemble's reward for the agent, frozen into NumPy arrays for per-step use.

``FrozenReward`` is a snapshot of ``rlhp.reward.ensemble.RewardEnsemble``:
the same arithmetic, without torch's per-operation dispatch cost, so the agent's
reward for a vector step is a handful of array operations. ``pessimistic_reward`` turns
the members' advantages over the absorbing state into the agent's reward (shared by
the MLP's and the CNN's snapshots).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

    from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble


def pessimistic_reward(advantages: np.ndarray, pessimism: float) -> np.ndarray:
    """The agent's reward from the members' advantages over ending the episode.

    With Δₖ = r̂ₖ(o, a) − r̂ₖ(abs) (each member normalised) and k = ``pessimism``:

        r = mean(Δ)                                   if k = 0 or K = 1
        r = max(mean(Δ) − k·std(Δ), min(mean(Δ), 0))  otherwise

    Doubt about a state lowers its reward towards what ending the episode is worth, never
    below it: if the members' mean says staying alive beats the absorbing state, no
    amount of pessimism makes dying pay (measuring pessimism on r̂ₖ(o, a) alone while the
    offset stays the plain mean made every alive step −k·std at equal means, so ending
    the episode was rewarded). Members that disagree by the same amount everywhere
    (a shift per member) agree on Δ and pay nothing.

    Args:
        advantages: ``(K, n)`` Δ of every member.
        pessimism: k ≥ 0.

    Returns:
        ``(n,)`` rewards.
    """
    mean = advantages.mean(axis=0)
    if pessimism == 0.0 or advantages.shape[0] == 1:
        return mean
    lower = mean - pessimism * advantages.std(axis=0, ddof=1)
    return np.maximum(lower, np.minimum(mean, 0.0))


@dataclass(frozen=True)
class FrozenReward:
    """The ensemble's reward for the agent, frozen into NumPy arrays.

    Torch dispatch costs ~10 µs per operation; at one call per vector-env step on a
    few observations, NumPy is several times faster for the same arithmetic. The input
    standardisation is folded into the first layer (one matmul for all members) and each
    member's output normalisation into its head, so a call is a handful of array ops.
    Computes ``mean_k r̂ₖ − pessimism·std_k r̂ₖ − offset`` with each member normalised,
    exactly as ``RewardEnsemble.rewards`` does (checked by the tests).
    """

    spec: FeatureSpec
    first_weight: np.ndarray
    """``(in, K·hidden)``: every member's first layer, input standardisation folded in."""
    first_bias: np.ndarray
    """``(K·hidden,)``."""
    hidden: list[tuple[np.ndarray, np.ndarray]]
    """Further hidden layers: weight ``(K, in, out)``, bias ``(K, 1, out)``."""
    head_weight: np.ndarray
    """``(K, hidden, 1)``, divided by each member's output std."""
    head_bias: np.ndarray
    """``(K, 1)``, member mean subtracted and divided by its std."""
    offsets: np.ndarray
    """``(K, 1)`` subtracted from each member's reward: its normalised absorbing-state reward."""
    pessimism: float = 0.0

    @classmethod
    def from_model(cls, model: RewardEnsemble, pessimism: float) -> FrozenReward:
        def arr(t: Tensor) -> np.ndarray:
            return t.detach().cpu().double().numpy()

        k = model.members
        mean, std = arr(model.input_mean), arr(model.input_std)
        layers = [*model.hidden, model.head]
        w1, b1 = arr(layers[0].weight), arr(layers[0].bias)  # (K, in, h), (K, 1, h)
        w1 = w1 / std[None, :, None]
        b1 = b1 - np.einsum("i,kih->kh", mean, w1)[:, None, :]
        hidden = [(arr(layer.weight), arr(layer.bias)) for layer in layers[1:-1]]
        out_mean, out_std = arr(model.output_mean), arr(model.output_std)
        head_w = arr(model.head.weight) / out_std[:, None, None]
        head_b = (arr(model.head.bias)[:, 0, :] - out_mean[:, None]) / out_std[:, None]
        return cls(
            spec=model.spec,
            first_weight=w1.transpose(1, 0, 2).reshape(w1.shape[1], k * w1.shape[2]),
            first_bias=b1.reshape(k * b1.shape[2]),
            hidden=hidden,
            head_weight=head_w,
            head_bias=head_b,
            offsets=arr(model.member_offsets())[:, None],
            pessimism=pessimism,
        )

    def __call__(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(n, *obs_shape)``, ``(n, *act_shape)`` → ``(n,)`` float64 rewards."""
        return pessimistic_reward(self.advantages(obs, actions), self.pessimism)

    def advantages(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(K, n)`` each member's normalised reward minus its absorbing-state reward."""
        n = obs.shape[0]
        x = obs.reshape(n, -1)[:, : self.spec.obs_dim]
        if self.spec.action_dim:
            if self.spec.discrete_actions:
                act = np.eye(self.spec.action_dim)[actions.reshape(n).astype(np.int64)]
            else:
                act = actions.reshape(n, -1)
            x = np.concatenate(
                [x, act, act * act] if self.spec.action_squares else [x, act], axis=1
            )
        k = self.head_weight.shape[0]
        h = x @ self.first_weight + self.first_bias  # (n, K·hidden)
        h = np.maximum(h, 0.01 * h).reshape(n, k, -1).transpose(1, 0, 2)  # leaky ReLU, (K, n, h)
        for w, b in self.hidden:
            h = np.matmul(h, w) + b
            h = np.maximum(h, 0.01 * h)
        r = np.matmul(h, self.head_weight)[..., 0] + self.head_bias  # (K, n), normalised
        return r - self.offsets
