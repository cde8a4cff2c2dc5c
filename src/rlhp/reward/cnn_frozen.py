"""The CNN ensemble's reward for the agent, frozen (``CnnRewardEnsemble.snapshot``).

Batch norm and output normalisation folded into the weights, tensors copied: a fit on
the worker thread never changes what the agent sees mid-rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rlhp.reward.cnn_inference import (
    PIXEL_SCALE,
    compute_dtype,
    fold_batch_norm,
    frames,
    inference_chunk,
    padded_batch,
)
from rlhp.reward.frozen import pessimistic_reward

if TYPE_CHECKING:
    from rlhp.reward.cnn import CnnRewardEnsemble

CHANNELS_LAST_FROM = 128
"""The agent's snapshot computes a rollout's frames (at least this many) channels-last,
a vector step's NCHW: on a MinAtar run's own frames 0.72× at 1,024, 1.19× at 64; on
Atari's within 7 % either way (``benchmarks/snapshot_layout.py``)."""


@dataclass(frozen=True)
class CnnFrozenReward:
    """The CNN ensemble's reward for the agent, frozen: eval-mode batch norm folded into
    each convolution, each member's output normalisation into its head, and the tensors
    copied, so a fit on the worker thread never changes what the agent sees mid-rollout.

    Computes what ``FrozenReward`` does — ``pessimistic_reward`` of each member's normalised
    reward minus its absorbing-state reward, so without pessimism ``RewardEnsemble.rewards
    − agent_offset`` (checked by the tests) — for all environments of a vector step in
    one call.
    """

    convs: tuple[tuple[Tensor, Tensor, int], ...]
    """Per layer: weight ``(K·16, C_in, k, k)`` and bias ``(K·16,)`` with batch norm
    folded in, and the stride."""
    dense: tuple[Tensor, Tensor]
    """``(K, F, 64)``, ``(K, 1, 64)``."""
    head: tuple[Tensor, Tensor]
    """``(K, 64, 1)``, ``(K, 1, 1)``, output normalisation folded in."""
    members: int
    offsets: np.ndarray
    """``(K, 1)`` each member's normalised absorbing-state reward (0 until one was seen)."""
    pessimism: float = 0.0
    dtype: torch.dtype = torch.float32
    """What the convolutions compute in (the model's ``precision`` on its device), and
    their tensors are stored in; the dense layers stay float32."""

    @classmethod
    def from_model(cls, model: CnnRewardEnsemble, pessimism: float) -> CnnFrozenReward:
        dtype = compute_dtype(model.precision, model.device)

        def frozen(t: Tensor) -> Tensor:
            return t.detach().to(dtype=dtype, copy=True)

        convs = []
        for i, (conv, norm) in enumerate(zip(model.convs, model.norms, strict=True)):
            assert isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
            weight, bias = fold_batch_norm(conv, norm)
            scale = PIXEL_SCALE if i == 0 else 1.0
            convs.append((frozen(weight * scale), frozen(bias), conv.stride[0]))
        factor = model.target_std / model.output_std  # (K,)
        head_w = model.head.weight * factor[:, None, None]
        head_b = (model.head.bias - model.output_mean[:, None, None]) * factor[:, None, None]
        return cls(
            convs=tuple(convs),
            dense=(model.dense.weight.detach().clone(), model.dense.bias.detach().clone()),
            head=(head_w.detach().clone(), head_b.detach().clone()),
            members=model.members,
            offsets=model.member_offsets().detach().cpu().double().numpy()[:, None],
            pessimism=pessimism,
            dtype=dtype,
        )

    def __call__(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(n, C, H, W)`` uint8, ``(n, ...)`` actions (unused) → ``(n,)`` float64 rewards."""
        return pessimistic_reward(self.advantages(obs, actions), self.pessimism)

    @torch.no_grad()
    def advantages(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(K, n)`` each member's normalised reward minus its absorbing-state reward (what
        pessimism and RUNE's bonus read)."""
        chunk = inference_chunk(obs.shape, self.dtype)
        if obs.shape[0] > chunk:  # many states at once (a rollout): bound memory, keep caches
            parts = [
                self.advantages(obs[i : i + chunk], actions) for i in range(0, len(obs), chunk)
            ]
            return np.concatenate(parts, axis=1)
        k, n = self.members, obs.shape[0]
        x = padded_batch(torch.as_tensor(obs), chunk)
        x = frames(x, self.dtype) if len(x) >= CHANNELS_LAST_FROM else x.to(self.dtype)
        for i, (weight, bias, stride) in enumerate(self.convs):
            x = F.leaky_relu(F.conv2d(x, weight, bias, stride, groups=1 if i == 0 else k), 0.01)
        h = x.float().reshape(x.shape[0], k, -1).transpose(0, 1)  # (K, padded n, F)
        h = F.leaky_relu(torch.baddbmm(self.dense[1], h, self.dense[0]), 0.01)
        r = torch.baddbmm(self.head[1], h, self.head[0])[:, :n, 0]  # (K, n), normalised
        return r.double().numpy() - self.offsets
