"""The reward ensemble for image observations: K convolutional predictors, one batched
forward returning ``(K, ...)`` (SPEC §4, paper appendix A).

Each member is the paper's Atari network: 4 convolutions (7×7/5×5/3×3/3×3, strides
3/2/1/1, 16 filters), each followed by batch norm, leaky ReLU (α = 0.01) and dropout,
then a 64-unit dense layer and a scalar. Small images (MinAtar's 10×10) get one 3×3
convolution instead (``SMALL_CONV``). The K members' convolutions are *one* grouped
convolution with K·16 channels: a shared input goes through the first layer as an
ordinary convolution with every member's filters (no K-fold copy of the frames), a
per-member input (bootstrap batches) as a grouped one; batch norm over K·16 channels
keeps each member's statistics apart. The dense layers are ``EnsembleLinear``.

uint8 pixels go in; the division by 255 is folded into the first layer's weights. With
``reward_model.precision`` bfloat16 (or auto, where the processor has bfloat16
arithmetic: the ALE presets) the convolutions, with their batch norm and dropout, run
in bfloat16 under autocast; parameters, optimiser state, the dense layers and every
output stay float32. Outputs are normalised per member to zero mean and std
``normalized_std`` (0.05 by default, as in the paper). The interface is
``RewardEnsemble``'s, which the loop, the trainer (bootstrap, adaptive L2) and the query
selector use unchanged; ``snapshot`` gives the agent a frozen copy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn
from torch.nn import functional as F

from rlhp.config import RewardModelConfig
from rlhp.config.choices import Precision
from rlhp.reward.cnn_frozen import CnnFrozenReward
from rlhp.reward.cnn_inference import (
    PIXEL_SCALE,
    compute_dtype,
    fold_batch_norm,
    frame_chunks,
    frames,
    inference_chunk,
    padded_batch,
)
from rlhp.reward.ensemble import EnsembleLinear, FeatureSpec, RewardEnsemble

PAPER_CONV: tuple[tuple[int, int], ...] = ((7, 3), (5, 2), (3, 1), (3, 1))
"""(kernel, stride) of each convolution of the paper's Atari reward network."""
SMALL_CONV: tuple[tuple[int, int], ...] = ((3, 1),)
"""For images smaller than the paper's network accepts (MinAtar, 10×10)."""
FILTERS = 16
DENSE = 64
DEFAULT_STD = 0.05
"""The paper's output std for Atari (SPEC §4)."""
SELECTION_GRID = 4
"""Query selection sees each image channel averaged over a 4×4 grid (``step_features``)."""


def is_image_space(space: spaces.Space) -> bool:
    """A channels-first uint8 image ``(C, H, W)`` observation space."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def conv_layers(height: int, width: int) -> tuple[tuple[int, int], ...]:
    """The paper's convolutions if the image is big enough for them, else ``SMALL_CONV``."""
    size = min(height, width)
    for kernel, stride in PAPER_CONV:
        size = (size - kernel) // stride + 1
    return PAPER_CONV if size >= 1 else SMALL_CONV


class CnnRewardEnsemble(RewardEnsemble):
    """K convolutional reward predictors r̂ₖ(o) plus a learned absorbing-state reward each.

    It is a ``RewardEnsemble`` for the code that uses one (same methods, same shapes,
    the same absorbing rewards and output normalisation) but shares none of the MLP's
    layers: ``nn.Module.__init__`` is called directly, then ``_init_shared``.
    """

    normalization_pairs = 128
    """6,400 steps of 25-step pairs, plenty for a mean and a std: 512 pairs through the
    convolutions took ~1.2 s of the agent's thread at every update of a MinAtar run
    whose PPO needs 2.3 s per update. The MLP's 512 are drawn from the same
    permutation, so its runs are unchanged."""

    def __init__(self, spec: FeatureSpec, config: RewardModelConfig) -> None:
        nn.Module.__init__(self)
        if len(spec.obs_shape) != 3:
            raise ValueError(f"the CNN reward model needs (C, H, W) images, got {spec.obs_shape}")
        self._init_shared(spec, config)
        k = self.members
        self.precision: Precision = config.precision
        self.target_std = config.normalized_std or DEFAULT_STD
        channels, height, width = spec.obs_shape
        self.layout = conv_layers(height, width)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = channels
        for kernel, stride in self.layout:
            self.convs.append(nn.Conv2d(k * c_in, k * FILTERS, kernel, stride, groups=k))
            self.norms.append(nn.BatchNorm2d(k * FILTERS))
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
            c_in = FILTERS
        self.flat_features = FILTERS * height * width
        self.dense = EnsembleLinear(k, self.flat_features, DENSE)
        self.head = EnsembleLinear(k, DENSE, 1)
        self._start_constant(config)

    def l2_per_member(self) -> Tensor:
        """``(K,)`` sum of squared weights of each member (biases, batch norm excluded)."""
        k = self.members
        total = self.head.weight.pow(2).sum(dim=(1, 2)) + self.dense.weight.pow(2).sum(dim=(1, 2))
        for conv in self.convs:
            assert isinstance(conv, nn.Conv2d)
            total = total + conv.weight.reshape(k, -1).pow(2).sum(dim=1)
        return total

    def _members_forward(self, x: Tensor, shared: bool, folded: bool) -> Tensor:
        """``(N, C, H, W)`` (shared) or ``(N, K·C, H, W)`` pixel values 0–255, channels-last,
        in the compute dtype (``frames``), which the convolutions run in → ``(K, N)`` float32.

        ``folded`` (inference: eval mode, no grad): batch norm is folded into each
        convolution (one pass over the activations fewer), as in the agent's snapshot.
        """
        k = self.members
        with torch.autocast(x.device.type, dtype=x.dtype, enabled=x.dtype != torch.float32):
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
                assert isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                groups = 1 if (i == 0 and shared) else k  # layer 1, shared input: all filters
                scale = PIXEL_SCALE if i == 0 else 1.0
                if folded:
                    weight, bias = fold_batch_norm(conv, norm)
                    x = F.conv2d(x, weight * scale, bias, conv.stride, groups=groups)
                    x = F.leaky_relu(x, 0.01)
                    continue
                x = F.conv2d(x, conv.weight * scale, conv.bias, conv.stride, groups=groups)
                x = self._dropout(F.leaky_relu(norm(x), 0.01))
        n = x.shape[0]  # the dense layers in float32: cheap, and outputs keep their digits
        h = x.float().reshape(n, k, self.flat_features).transpose(0, 1)  # (K, N, F)
        h = F.leaky_relu(self.dense(h), 0.01)
        return self.head(h).reshape(k, n)

    def raw_rewards(
        self, obs: Tensor, actions: Tensor, absorbing: Tensor, per_member: bool = False
    ) -> Tensor:
        """Unnormalised per-step rewards of every member (actions are not used).

        Args:
            obs: ``(..., C, H, W)`` uint8 shared by all members, or ``(K, ...)`` per
                member when ``per_member`` is True.
            actions: ignored (the paper's Atari predictor sees frames only).
            absorbing: matching ``(...)`` bool; these steps get the absorbing reward.
            per_member: the leading axis of the inputs is already the ensemble axis.

        Returns:
            ``(K, ...)`` rewards.
        """
        k, image = self.members, self.spec.obs_shape
        lead = obs.shape[: obs.dim() - 3]
        out_shape = tuple(lead) if per_member else (k, *lead)
        if per_member:  # (K, N, C, H, W) → (N, K·C, H, W): member k's input in group k
            x = obs.reshape(k, -1, *image).transpose(0, 1).reshape(-1, k * image[0], *image[1:])
        else:
            x = obs
        inference = not torch.is_grad_enabled() and not self.training
        dtype = compute_dtype(self.precision, x.device)
        chunk = inference_chunk(image, dtype) if not torch.is_grad_enabled() else None
        shared = not per_member
        if chunk is None:  # with gradients: one batch
            r = self._members_forward(frames(x.reshape(-1, *x.shape[-3:]), dtype), shared, False)
        else:  # written into one tensor as they come: nothing small outlives a chunk
            r = torch.empty((k, math.prod(x.shape[:-3])), device=x.device)
            done = 0
            for part in frame_chunks(x, x.shape[-3:], chunk):
                pixels = frames(padded_batch(part, chunk) if inference else part, dtype)
                r[:, done : done + len(part)] = self._members_forward(pixels, shared, inference)[
                    :, : len(part)
                ]
                done += len(part)
        # row k holds member k's rewards, its inputs in their order
        r = r.reshape(out_shape)
        absorbing_r = self.absorbing_reward.reshape(k, *([1] * (len(out_shape) - 1)))
        flags = absorbing.reshape(out_shape) if per_member else absorbing.expand(out_shape)
        return torch.where(flags, absorbing_r, r)

    def normalize(self, raw: Tensor) -> Tensor:
        """``(K, ...)`` raw rewards → each member at zero mean and std ``target_std``."""
        shape = (self.members, *([1] * (raw.dim() - 1)))
        scaled = (raw - self.output_mean.reshape(shape)) / self.output_std.reshape(shape)
        return scaled * self.target_std

    @torch.no_grad()
    def absorbing_value(self) -> float:
        """Normalised ensemble reward of one absorbing step."""
        value = (self.absorbing_reward - self.output_mean) / self.output_std * self.target_std
        return float(value.mean())

    @torch.no_grad()
    def fit_input_normalization(self, obs: Tensor, actions: Tensor, absorbing: Tensor) -> None:
        """Nothing to fit: pixels are scaled by 1/255 inside, and batch norm does the rest."""

    @torch.no_grad()
    def step_features(self, obs: Tensor, actions: Tensor) -> Tensor:
        """``(..., C·4·4)``: each channel averaged over a 4×4 grid of the image, in [0, 1].

        What k-center compares: a pair of 25 Atari steps in full is 1.4M numbers (5.6 GB
        for 1,000 candidate pairs), and its distances are dominated by what moves
        everywhere; a coarse grid keeps where things are (a MinAtar chicken near the top
        or the bottom) in 3,200 numbers a pair at Atari's 4 channels.
        """
        lead, image = obs.shape[:-3], obs.shape[-3:]
        x = F.adaptive_avg_pool2d(obs.reshape(-1, *image).float() / 255.0, SELECTION_GRID)
        return x.reshape(*lead, -1)

    @torch.no_grad()
    def snapshot(self, pessimism: float = 0.0) -> CnnFrozenReward:  # type: ignore[override]
        """A frozen copy (eval mode) giving the agent r̂(o) − r̂_abs for a batch of frames."""
        return CnnFrozenReward.from_model(self, pessimism)
