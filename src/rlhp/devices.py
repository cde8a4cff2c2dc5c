"""Which torch device a run uses (``TrainConfig.device``), and how many CPU threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from rlhp.config import Device
from rlhp.errors import ConfigError


def resolve_device(name: Device) -> torch.device:
    """``cpu`` and ``cuda`` as asked (cuda only if torch sees one); ``auto`` picks cuda if
    available, else the CPU.

    Raises:
        ConfigError: cuda was asked for and torch sees no CUDA device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda, but torch sees no CUDA device (this torch is "
            f"{torch.__version__}); use --device cpu or --device auto"
        )
    return torch.device(name)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` in this thread for the block (None:
    unchanged), then set back. torch keeps the count per OS thread (a thread started later
    takes the last one set anywhere, hence the setting back), so a fit on a worker thread
    can use several while the agent's thread keeps its own."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
