"""Bradley-Terry preference math (paper §2.2.3, eq. 1-2), once, in log space.

Every function is pure and batched. The synthetic oracle and the reward trainer both
call these, so the model that labels and the model that learns are the same equation.

Conventions: the pair axis comes before the time axis; a *target* μ is the probability
mass on the first (left) segment: 1 = left better, 0 = right better, 0.5 = equal.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def preference_logits(step_rewards: Tensor) -> Tensor:
    """Logit of P[σ¹ ≻ σ²]: the difference of segment returns (eq. 1, no discounting).

    Args:
        step_rewards: ``(..., 2, T)`` per-step rewards of both segments of each pair.

    Returns:
        ``(...)`` logits ``Σₜ r¹ₜ − Σₜ r²ₜ``.
    """
    if step_rewards.dim() < 2 or step_rewards.shape[-2] != 2:
        raise ValueError(f"expected (..., 2, T) rewards, got {tuple(step_rewards.shape)}")
    returns = step_rewards.sum(dim=-1)
    return returns[..., 0] - returns[..., 1]


def log_preference_probs(logits: Tensor, epsilon: float = 0.0) -> tuple[Tensor, Tensor]:
    """``log P[σ¹ ≻ σ²]`` and ``log P[σ² ≻ σ¹]`` under the random-response mixture.

    P = (1 − ε)·sigmoid(z) + ε/2 (SPEC §3), computed as a logaddexp so that neither
    large logits nor ε = 0 lose precision.

    Args:
        logits: ``(...)`` Bradley-Terry logits z.
        epsilon: probability that the labeller answers uniformly at random.

    Returns:
        Two ``(...)`` tensors of log-probabilities.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    log_left = torch.nn.functional.logsigmoid(logits)
    log_right = torch.nn.functional.logsigmoid(-logits)
    if epsilon == 0.0:
        return log_left, log_right
    keep = math.log1p(-epsilon)
    noise = torch.full_like(logits, math.log(epsilon / 2))
    return torch.logaddexp(log_left + keep, noise), torch.logaddexp(log_right + keep, noise)


def preference_probability(logits: Tensor, epsilon: float = 0.0) -> Tensor:
    """``P[σ¹ ≻ σ²]`` of shape ``(...)`` for logits ``(...)``."""
    return log_preference_probs(logits, epsilon)[0].exp()


def preference_loss(logits: Tensor, targets: Tensor, epsilon: float = 0.0) -> Tensor:
    """Cross-entropy between target μ and P̂ (eq. 2), per pair.

    With ε > 0 the loss of one pair is at most ``−log(ε/2)`` however wrong the logits.

    Args:
        logits: ``(...)`` Bradley-Terry logits.
        targets: ``(...)`` μ(σ¹) in [0, 1]; 0.5 for "equally good".
        epsilon: random-response probability.

    Returns:
        ``(...)`` per-pair losses (sum or mean them as needed).
    """
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ")
    log_left, log_right = log_preference_probs(logits, epsilon)
    return -(targets * log_left + (1.0 - targets) * log_right)


def binary_entropy(probabilities: Tensor) -> Tensor:
    """Entropy in nats of a Bernoulli with ``probabilities`` ``(...)``; 0 at p ∈ {0, 1}."""
    p = probabilities.clamp(0.0, 1.0)
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p))
