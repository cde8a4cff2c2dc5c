"""Which torch device a run uses (``TrainConfig.device``)."""

from __future__ import annotations

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
