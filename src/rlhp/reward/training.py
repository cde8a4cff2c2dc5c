"""Fitting the reward ensemble to labelled comparisons (SPEC §3-4).

Each member trains on its own bootstrap sample of the comparisons (|D| draws with
replacement); the ≈1/e of comparisons a bootstrap leaves out are that member's
held-out set. The L2 coefficient of each member is adapted after every fit so that its
held-out loss stays within ``l2_band`` times its training loss. All members train in
the same batched step: no loop over pairs or members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rlhp.config import RewardModelConfig
from rlhp.preferences import preference_logits, preference_loss
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.segments import SegmentBatch

L2_STEP = 1.5
"""Factor by which an L2 coefficient moves when its validation ratio leaves the band."""


@dataclass(frozen=True)
class Comparisons:
    """Labelled pairs as tensors.

    Attributes:
        obs: ``(N, 2, T, *obs_shape)``.
        actions: ``(N, 2, T, *act_shape)``.
        absorbing: ``(N, 2, T)`` bool.
        targets: ``(N,)`` μ(left) in [0, 1].
    """

    obs: Tensor
    actions: Tensor
    absorbing: Tensor
    targets: Tensor

    def __post_init__(self) -> None:
        n = self.targets.shape[0]
        if self.targets.shape != (n,) or self.absorbing.shape[:2] != (n, 2):
            raise ValueError(
                f"comparisons disagree: targets {tuple(self.targets.shape)}, "
                f"absorbing {tuple(self.absorbing.shape)}"
            )

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    @classmethod
    def from_batch(cls, batch: SegmentBatch, targets: np.ndarray) -> Comparisons:
        return cls(
            obs=torch.as_tensor(batch.obs),
            actions=torch.as_tensor(batch.actions),
            absorbing=torch.as_tensor(batch.absorbing),
            targets=torch.as_tensor(targets, dtype=torch.float32),
        )


@dataclass(frozen=True)
class FitMetrics:
    """What one fit achieved (all averaged over members)."""

    train_loss: float
    val_loss: float
    val_accuracy: float
    l2: float
    steps: int


def ensemble_logits(model: RewardEnsemble, data: Comparisons) -> Tensor:
    """``(K, N)`` Bradley-Terry logits of every member on every pair (raw rewards)."""
    raw = model.raw_rewards(data.obs, data.actions, data.absorbing)  # (K, N, 2, T)
    return preference_logits(raw)


class RewardTrainer:
    """Owns the optimiser and the adaptive L2 coefficients of one ensemble."""

    def __init__(
        self, model: RewardEnsemble, config: RewardModelConfig, rng: np.random.Generator
    ) -> None:
        self.model = model
        self.config = config
        self.rng = rng
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.l2 = torch.full((model.members,), config.l2_initial)

    def fit(self, data: Comparisons, epochs: int, max_steps: int | None = None) -> FitMetrics:
        """Train every member for ``epochs`` passes over its bootstrap sample.

        Args:
            data: all trainable comparisons.
            epochs: passes over each member's bootstrap sample.
            max_steps: stop after this many gradient steps (None: no cap).
        """
        n, k, cfg = len(data), self.model.members, self.config
        if n == 0:
            return FitMetrics(float("nan"), float("nan"), float("nan"), float(self.l2.mean()), 0)
        boot = self.rng.integers(0, n, size=(k, n))  # (K, N) bootstrap indices
        counts = np.zeros((k, n))
        for member in range(k):
            counts[member] = np.bincount(boot[member], minlength=n)
        batch = min(cfg.batch_size, n)
        steps_per_epoch = max(1, n // batch)
        self.model.train()
        steps = 0
        total_steps = (
            epochs * steps_per_epoch
            if max_steps is None
            else min(max_steps, epochs * steps_per_epoch)
        )
        for _ in range(math.ceil(total_steps / steps_per_epoch)):
            order = self.rng.permuted(boot, axis=1)
            for b in range(min(steps_per_epoch, total_steps - steps)):
                idx = torch.as_tensor(order[:, b * batch : (b + 1) * batch])  # (K, B)
                raw = self.model.raw_rewards(
                    data.obs[idx], data.actions[idx], data.absorbing[idx], per_member=True
                )  # (K, B, 2, T)
                losses = preference_loss(preference_logits(raw), data.targets[idx], cfg.epsilon)
                penalty = (self.l2 * self.model.l2_per_member()).sum()
                loss = losses.mean(dim=1).sum() + penalty
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                steps += 1
        return self._evaluate_and_adapt(data, torch.as_tensor(counts, dtype=torch.float32), steps)

    @torch.no_grad()
    def _evaluate_and_adapt(self, data: Comparisons, counts: Tensor, steps: int) -> FitMetrics:
        self.model.eval()
        logits = ensemble_logits(self.model, data)  # (K, N)
        targets = data.targets.expand_as(logits)
        losses = preference_loss(logits, targets, self.config.epsilon)
        train = (losses * counts).sum(dim=1) / counts.sum(dim=1)
        held_out = (counts == 0).float()
        has_val = held_out.sum(dim=1) > 0
        val = (losses * held_out).sum(dim=1) / held_out.sum(dim=1).clamp_min(1)
        decided = (targets != 0.5).float() * held_out
        correct = ((logits > 0) == (targets > 0.5)).float() * decided
        accuracy = correct.sum() / decided.sum().clamp_min(1)
        low, high = self.config.l2_band
        ratio = val / train.clamp_min(1e-8)
        grow = has_val & (ratio > high)
        shrink = has_val & (ratio < low)
        self.l2 = torch.where(
            grow, self.l2 * L2_STEP, torch.where(shrink, self.l2 / L2_STEP, self.l2)
        )
        val_loss = float(val[has_val].mean()) if bool(has_val.any()) else float("nan")
        return FitMetrics(
            train_loss=float(train.mean()),
            val_loss=val_loss,
            val_accuracy=float(accuracy) if float(decided.sum()) > 0 else float("nan"),
            l2=float(self.l2.mean()),
            steps=steps,
        )


@torch.no_grad()
def agreement(model: RewardEnsemble, data: Comparisons) -> float:
    """Fraction of decided pairs (μ ≠ ½) on which the ensemble's mean reward agrees."""
    model.eval()
    rewards = model.normalize(model.raw_rewards(data.obs, data.actions, data.absorbing)).mean(dim=0)
    logits = preference_logits(rewards)
    decided = data.targets != 0.5
    if not bool(decided.any()):
        return float("nan")
    return float(((logits > 0) == (data.targets > 0.5))[decided].float().mean())
