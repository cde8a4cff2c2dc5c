"""SURF (Park et al., "SURF: Semi-supervised Reward Learning with Data Augmentation for
Feedback-efficient Preference-based RL", ICLR 2022), two additions to every reward fit:

1. **Pseudo-labels** (§4.1): pairs cut from recent rollouts that nobody labelled are
   labelled by the model itself where it is confident. Member k labels pair u with
   ŷ = 1[P̂ₖ(σ¹ ≻ σ²) > ½] when max(P̂ₖ, 1 − P̂ₖ) > τ (P̂ the plain Bradley-Terry
   probability, without the random-response mixture, which would cap it at 1 − ε/2);
   the loss adds λ · mean_u 1[confident]·CE(ŷ, P̂ₖ) over μ unlabelled pairs per labelled
   one. The labels come from the uncropped segments, the loss from the cropped ones.
2. **Temporal cropping** (§4.2): each training pair is replaced by random windows of its
   two segments — one length per pair, drawn from [⌈f·T⌉, T], and an independent start
   in each segment — so the labelled pairs are seen at many offsets and lengths.

Both are batched over members and pairs: a crop is a ``(K, B, 2, T)`` mask on the
per-step rewards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rlhp.preferences import preference_logits, preference_loss
from rlhp.segments import EpisodePool, Segment, SegmentBatch


@dataclass(frozen=True)
class UnlabelledPairs:
    """Pairs nobody labelled, for pseudo-labels.

    Attributes:
        obs: ``(U, 2, T, *obs_shape)``.
        actions: ``(U, 2, T, *act_shape)``.
        absorbing: ``(U, 2, T)`` bool.
    """

    obs: Tensor
    actions: Tensor
    absorbing: Tensor

    def __post_init__(self) -> None:
        if self.absorbing.dim() != 3 or self.absorbing.shape[1] != 2:
            raise ValueError(f"expected (U, 2, T) absorbing flags, got {self.absorbing.shape}")

    def __len__(self) -> int:
        return int(self.absorbing.shape[0])

    @classmethod
    def sample(
        cls, pool: EpisodePool, count: int, length: int, rng: np.random.Generator
    ) -> UnlabelledPairs | None:
        """``count`` random pairs of ``length``-step segments of the pool (None if it has none)."""
        try:
            segments, _ = pool.sample(2 * count, length, rng)
        except ValueError:
            return None
        return cls.from_pairs(list(zip(segments[0::2], segments[1::2], strict=True)))

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[Segment, Segment]]) -> UnlabelledPairs:
        """These pairs of segments (of one length), batched."""
        batch = SegmentBatch.from_pairs(list(pairs))
        return cls(
            torch.as_tensor(batch.obs),
            torch.as_tensor(batch.actions),
            torch.as_tensor(batch.absorbing),
        )


def crop_mask(
    lead: tuple[int, int], steps: int, min_fraction: float, rng: np.random.Generator
) -> Tensor:
    """``(K, B, 2, T)`` float mask of one random window per segment.

    Args:
        lead: ``(K, B)``: members and pairs.
        steps: T, the segment length.
        min_fraction: the shortest window is ⌈min_fraction·T⌉ steps (at least 1).
        rng: draws the window lengths (one per pair) and starts (one per segment).
    """
    shortest = min(steps, max(1, math.ceil(min_fraction * steps - 1e-9)))
    lengths = rng.integers(shortest, steps + 1, size=lead)  # (K, B)
    starts = rng.integers(0, steps - lengths[..., None] + 1, size=(*lead, 2))  # (K, B, 2)
    t = np.arange(steps)
    inside = (t >= starts[..., None]) & (t < (starts + lengths[..., None])[..., None])
    return torch.as_tensor(inside, dtype=torch.float32)


def pseudo_label_loss(
    step_rewards: Tensor, cropped_rewards: Tensor, threshold: float, epsilon: float
) -> tuple[Tensor, Tensor]:
    """SURF's loss on unlabelled pairs, per member.

    Args:
        step_rewards: ``(K, U, 2, T)`` each member's rewards on the uncropped pairs (the
            pseudo-labels come from these, without gradient).
        cropped_rewards: ``(K, U, 2, T)`` the same pairs after the crop mask (the loss).
        threshold: τ.
        epsilon: the random-response ε of the labelled loss (used the same way here).

    Returns:
        ``(K,)`` mean over U of the masked cross-entropy, and ``(K,)`` the share of pairs
        confident enough to be labelled.
    """
    with torch.no_grad():
        probs = torch.sigmoid(preference_logits(step_rewards))  # (K, U), no ε mixture
        confident = (torch.maximum(probs, 1 - probs) > threshold).float()
        labels = (probs > 0.5).float()
    losses = preference_loss(preference_logits(cropped_rewards), labels, epsilon)  # (K, U)
    return (losses * confident).mean(dim=1), confident.mean(dim=1)
