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
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn
from torch.nn import functional as F

from rlhp.config import RewardModelConfig
from rlhp.config.choices import Precision
from rlhp.reward.ensemble import EnsembleLinear, FeatureSpec, RewardEnsemble
from rlhp.reward.frozen import pessimistic_reward

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
INFERENCE_CHUNK = 2048
"""Most observations per forward pass without gradients (bounds memory on big batches)."""
CHUNK_BYTES = 1 << 22
"""Bytes of one input channel (height × width × the compute dtype's size) per forward
pass without gradients: the first layer's activations of a chunk, 48 times that, should
stay in the processor's caches (≈ 16 MB). On one core (2026-12-06, loaded machine,
medians of 3), r̂ of 1,024 Atari frames by the agent's snapshot cost 392 / 727 / 761 µs a
frame in float32 in chunks of 128 / 256 / 2,048 frames, and 199 / 185 / 403 in bfloat16;
the module evaluating 6,400 frames 521 / 540 / 746 in float32, 295 / 281 / 436 in
bfloat16. MinAtar's 10×10 frames keep 2,048."""


def inference_chunk(image: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int:
    """Frames per forward pass without gradients for ``(C, H, W)`` images computed in
    ``dtype``: a power of two, ``CHUNK_BYTES`` // (H·W·size) rounded down, between 1 and
    ``INFERENCE_CHUNK`` (Atari: 128 in float32, 256 in bfloat16)."""
    size = torch.empty((), dtype=dtype).element_size()
    fits = max(1, CHUNK_BYTES // (image[-1] * image[-2] * size))
    return min(INFERENCE_CHUNK, 1 << (fits.bit_length() - 1))


def padded_batch(x: Tensor, chunk: int = INFERENCE_CHUNK) -> Tensor:
    """``x`` with zero frames appended to a power-of-two batch (at most ``chunk``).

    oneDNN, which runs torch's CPU convolutions, caches a primitive (and its scratch
    memory) for every input shape it meets, up to 1,024 of them: evaluating a growing
    label set, new candidates and a varying number of states at every update gave a new
    shape each time, and a MinAtar preference run grew to 1.8 GiB of memory against its
    twin's 0.6. With batches padded to ≤ 12 sizes the cache stays small. Only for
    forwards without batch statistics (eval mode): each frame's output is its own.
    """
    n = x.shape[0]
    size = min(chunk, 1 << max(0, n - 1).bit_length())
    if size <= n:
        return x
    return torch.cat([x, x.new_zeros((size - n, *x.shape[1:]))])


def frame_chunks(x: Tensor, image: tuple[int, ...], chunk: int | None) -> Iterator[Tensor]:
    """``(..., C, H, W)`` images as ``(n, C, H, W)`` batches of at most ``chunk`` frames
    (None: one batch), in order.

    Stacked observations are views whose frames overlap (``segments.stacked_view``):
    flattening them copies every observation, 4× the frames. Slicing the leading axis
    first copies one chunk at a time — evaluating 3,000 labelled Atari pairs at once
    copied 4.2 GB.
    """
    lead = x.shape[: x.dim() - 3]
    if chunk is None or not lead:
        yield x.reshape(-1, *image)
        return
    per_row = math.prod(lead[1:])
    rows = max(1, chunk // max(per_row, 1))
    for i in range(0, lead[0], rows):
        flat = x[i : i + rows].reshape(-1, *image)
        for j in range(0, flat.shape[0], chunk):
            yield flat[j : j + chunk]


def frames(pixels: Tensor, dtype: torch.dtype) -> Tensor:
    """``(N, C, H, W)`` uint8 → ``dtype`` pixel values 0–255, stored channels-last, in one
    copy (the 1/255 is in the first layer's weights: ``PIXEL_SCALE``; 0–255 are exact in
    bfloat16).

    oneDNN's convolutions run on channels-last (NHWC) tensors without reordering them.
    Measured on one core, medians of 5 beside NCHW floats (2026-12-06, the machine
    loaded): a 40-step MinAtar fit on 700 pairs 0.86×, evaluating them 0.66×; Atari
    (84²) a 4-step fit 0.88×, evaluation 0.76×. The agent's snapshot stays NCHW on a
    vector step's few frames (channels-last was 2.3× slower on 8 MinAtar frames and no
    faster on 8 Atari ones) and goes channels-last on a rollout's (``CHANNELS_LAST_FROM``).
    """
    return pixels.to(dtype=dtype, memory_format=torch.channels_last)


CHANNELS_LAST_FROM = 128
"""The agent's snapshot computes a rollout's frames (at least this many) channels-last,
a vector step's NCHW: on a MinAtar run's own frames 0.72× at 1,024, 1.19× at 64; on
Atari's within 7 % either way (``benchmarks/snapshot_layout.py``)."""

PIXEL_SCALE = 1.0 / 255.0
"""Pixels enter as 0–255; the first convolution's weights are multiplied by this."""


@cache
def native_bfloat16(device_type: str) -> bool:
    """Whether ``device_type`` computes in bfloat16 natively: a CUDA device that supports
    it, or a CPU with AVX-512 BF16 or AMX (elsewhere oneDNN emulates bfloat16, which is
    no faster than float32)."""
    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def compute_dtype(precision: Precision, device: torch.device) -> torch.dtype:
    """The dtype the CNN computes in on ``device`` for ``reward_model.precision``."""
    if precision == "bfloat16" or (precision == "auto" and native_bfloat16(device.type)):
        return torch.bfloat16
    return torch.float32


def is_image_space(space: spaces.Space) -> bool:
    """A channels-first uint8 image ``(C, H, W)`` observation space."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def conv_layers(height: int, width: int) -> tuple[tuple[int, int], ...]:
    """The paper's convolutions if the image is big enough for them, else ``SMALL_CONV``."""
    size = min(height, width)
    for kernel, stride in PAPER_CONV:
        size = (size - kernel) // stride + 1
    return PAPER_CONV if size >= 1 else SMALL_CONV


def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """The weight and bias of ``conv`` followed by ``norm`` in eval mode, as one convolution:
    w·γ/√(σ²+ε) and (b − μ)·γ/√(σ²+ε) + β per output channel."""
    assert norm.running_mean is not None and norm.running_var is not None
    assert conv.bias is not None
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    weight = conv.weight * scale[:, None, None, None]
    return weight, (conv.bias - norm.running_mean) * scale + norm.bias


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
