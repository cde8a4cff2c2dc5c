"""How the CNN reward ensemble evaluates frames without gradients: the dtype it computes
in, the memory layout of its frames, how many go through one forward pass (padded to a
few batch sizes), and batch norm folded into the convolutions.

Shared by the ensemble (``rlhp.reward.cnn``: evaluating labelled pairs and candidates)
and the agent's frozen copy (``rlhp.reward.cnn_frozen``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache

import torch
from torch import Tensor, nn

from rlhp.config.choices import Precision

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
    faster on 8 Atari ones) and goes channels-last on a rollout's
    (``cnn_frozen.CHANNELS_LAST_FROM``).
    """
    return pixels.to(dtype=dtype, memory_format=torch.channels_last)


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


def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """The weight and bias of ``conv`` followed by ``norm`` in eval mode, as one convolution:
    w·γ/√(σ²+ε) and (b − μ)·γ/√(σ²+ε) + β per output channel."""
    assert norm.running_mean is not None and norm.running_var is not None
    assert conv.bias is not None
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    weight = conv.weight * scale[:, None, None, None]
    return weight, (conv.bias - norm.running_mean) * scale + norm.bias
