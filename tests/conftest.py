"""Shared test set-up: one torch thread (the project's default on small CPUs), tiny configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
