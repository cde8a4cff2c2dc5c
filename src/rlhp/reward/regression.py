"""The paper's "target" ablation (§3.3): r̂ fitted to true segment returns, not comparisons.

Instead of the Bradley-Terry loss on a label, each segment's predicted return Σₜ r̂ₜ is
regressed on the oracle's true return of that segment (the reward a person could see,
``store.true_rewards``), by mean squared error. The true returns are divided by their
standard deviation over the fit's data so the loss has the same scale on every task
(r̂ is renormalised after each fit anyway, so the scale carries no information).
"""

from __future__ import annotations

import torch
from torch import Tensor


def return_scale(returns: Tensor) -> Tensor:
    """A positive scalar: the std of the ``(N, 2)`` true segment returns (1 if they are flat)."""
    std = returns.float().flatten().std() if returns.numel() > 1 else torch.tensor(1.0)
    return torch.where(std > 1e-8, std, torch.ones_like(std))


def return_regression_loss(step_rewards: Tensor, returns: Tensor, scale: Tensor) -> Tensor:
    """Squared error of each pair's predicted segment returns, averaged over its 2 segments.

    Args:
        step_rewards: ``(K, B, 2, T)`` per-step predicted rewards of each member.
        returns: ``(B, 2)`` shared, or ``(K, B, 2)`` per member, true segment returns.
        scale: the true returns are divided by this before the comparison.

    Returns:
        ``(K, B)`` losses.
    """
    if step_rewards.dim() != 4 or step_rewards.shape[-2] != 2:
        raise ValueError(f"expected (K, B, 2, T) rewards, got {tuple(step_rewards.shape)}")
    predicted = step_rewards.sum(dim=-1)  # (K, B, 2)
    target = (returns.to(predicted.dtype) / scale).expand_as(predicted)
    return (predicted - target).pow(2).mean(dim=-1)
