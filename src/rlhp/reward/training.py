"""Fitting the reward ensemble to labelled comparisons (SPEC §3-4).

Each member holds out a fixed fraction (1/e, the paper's) of the comparisons for
validation, chosen per pair id by a seeded hash: a pair held out from a member is held
out from it for the life of the run, across refits of the warm-started model and across
resumes, whatever other pairs have arrived. Each fit trains every member on |D| draws
with replacement from the pairs it may see (its bootstrap sample). A fresh bootstrap of
all pairs at every fit would make most of a member's "held-out" pairs ones it trained on
in an earlier update, and the L2 adaptation would steer by a training loss.

The L2 coefficient of each member is adapted after every fit so that its held-out loss
stays within ``l2_band`` times its training loss. All members train in the same batched
step: no loop over pairs or members.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rlhp.config import RewardModelConfig
from rlhp.preferences import preference_logits, preference_loss
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.regression import return_regression_loss, return_scale
from rlhp.reward.surf import UnlabelledPairs, crop_mask, pseudo_label_loss
from rlhp.segments import SegmentBatch

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 60.0
"""A fit longer than this says how far it is, once per this many seconds (an Atari
pre-training fit runs for hours on a CPU core before RL starts)."""
EVALUATION_BLOCK = 64
"""Pairs gathered at once for a sampled evaluation (64 Atari pairs' observations: 90 MB)."""

L2_STEP = 1.5
"""Factor by which an L2 coefficient moves when its validation ratio leaves the band."""
_MASK64 = (1 << 64) - 1


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on ``uint64`` arrays: a fixed, well-mixed integer hash."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(_MASK64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def held_out_mask(
    pair_ids: np.ndarray, members: int, seed: int, fraction: float = math.exp(-1)
) -> np.ndarray:
    """Which pairs each member never trains on, ``(K, N)`` bool (SPEC §4: 1/e per member).

    A pure function of (seed, member, pair id): the same pair is held out from the same
    members however many other pairs exist, so the split survives refits and resumes.

    Args:
        pair_ids: ``(N,)`` the store's pair ids.
        members: K.
        seed: the run's seed.
        fraction: expected share of pairs held out from each member.
    """
    ids = np.asarray(pair_ids, dtype=np.int64).astype(np.uint64)
    salt = _splitmix64(np.array([seed & _MASK64], dtype=np.uint64))[0]
    member = np.arange(members, dtype=np.uint64)[:, None]
    h = _splitmix64(_splitmix64(ids[None, :] ^ salt) ^ _splitmix64(member + np.uint64(1)))
    uniform = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # [0, 1)
    return uniform < fraction


@dataclass(frozen=True)
class Comparisons:
    """Labelled pairs as tensors.

    Attributes:
        obs: ``(N, 2, T, *obs_shape)``.
        actions: ``(N, 2, T, *act_shape)``.
        absorbing: ``(N, 2, T)`` bool.
        targets: ``(N,)`` μ(left) in [0, 1].
        pair_ids: ``(N,)`` int64, the store's pair ids: they decide each member's fixed
            held-out set. None numbers the pairs 0…N−1 (tests, one-off fits).
        returns: ``(N, 2)`` the oracle's true return of each segment; only the
            ``regression`` ablation (``reward_model.target=returns``) reads them.
    """

    obs: Tensor
    actions: Tensor
    absorbing: Tensor
    targets: Tensor
    pair_ids: np.ndarray | None = None
    returns: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.targets.shape[0]
        if self.targets.shape != (n,) or self.absorbing.shape[:2] != (n, 2):
            raise ValueError(
                f"comparisons disagree: targets {tuple(self.targets.shape)}, "
                f"absorbing {tuple(self.absorbing.shape)}"
            )
        if self.pair_ids is not None and self.pair_ids.shape != (n,):
            raise ValueError(f"pair_ids {self.pair_ids.shape} do not match {n} targets")
        if self.returns is not None and tuple(self.returns.shape) != (n, 2):
            raise ValueError(f"returns {tuple(self.returns.shape)} should be ({n}, 2)")

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """``(N,)`` pair ids (0…N−1 when none were given)."""
        return np.arange(len(self)) if self.pair_ids is None else self.pair_ids

    def subset(self, index: np.ndarray) -> Comparisons:
        """The comparisons at positions ``index``."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return Comparisons(
            self.obs[idx],
            self.actions[idx],
            self.absorbing[idx],
            self.targets[idx],
            self.ids[np.asarray(index, dtype=np.int64)],
            None if self.returns is None else self.returns[idx],
        )

    @classmethod
    def from_batch(
        cls,
        batch: SegmentBatch,
        targets: np.ndarray,
        pair_ids: np.ndarray | None = None,
        returns: np.ndarray | None = None,
    ) -> Comparisons:
        return cls(
            obs=torch.as_tensor(batch.obs),
            actions=torch.as_tensor(batch.actions),
            absorbing=torch.as_tensor(batch.absorbing),
            targets=torch.as_tensor(targets, dtype=torch.float32),
            pair_ids=None if pair_ids is None else np.asarray(pair_ids, dtype=np.int64),
            returns=None if returns is None else torch.as_tensor(returns, dtype=torch.float32),
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
        self,
        model: RewardEnsemble,
        config: RewardModelConfig,
        rng: np.random.Generator,
        holdout_seed: int = 0,
    ) -> None:
        self.model = model
        self.config = config
        self.rng = rng
        self.holdout_seed = holdout_seed
        """Seeds the per-member held-out split (the run's seed, so a resume keeps it)."""
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.l2 = torch.full((model.members,), config.l2_initial)
        self.last_bootstrap: np.ndarray | None = None
        """``(K, |D|)`` pair ids each member drew in the last fit (for inspection)."""
        self.on_progress: Callable[[int, int], None] | None = None
        """Called with (gradient steps done, steps in this fit) at a fit's first step and
        then about once a second, from the thread that fits (a progress bar's)."""

    def held_out(self, data: Comparisons) -> np.ndarray:
        """``(K, N)`` bool: the pairs of ``data`` each member never trains on."""
        fraction = self.config.holdout_fraction
        return held_out_mask(data.ids, self.model.members, self.holdout_seed, fraction)

    def pair_losses(self, raw: Tensor, data: Comparisons, idx: Tensor | None = None) -> Tensor:
        """``(K, B)`` loss of each member on pairs ``idx`` (``(K, B)``, or ``(B,)`` shared by
        the members; None: all, shared).

        Bradley-Terry cross-entropy on the labels, or, with ``target=returns`` (the
        regression ablation), squared error on the true segment returns
        (``rlhp.reward.regression``).
        """
        targets = (data.targets if idx is None else data.targets[idx]).to(raw.device)
        if self.config.target == "comparisons":
            logits = preference_logits(raw)
            return preference_loss(logits, targets.expand_as(logits), self.config.epsilon)
        if data.returns is None:
            raise ValueError("reward_model.target=returns needs the comparisons' true returns")
        returns = (data.returns if idx is None else data.returns[idx]).to(raw.device)
        return return_regression_loss(raw, returns, return_scale(data.returns).to(raw.device))

    def fit(
        self,
        data: Comparisons,
        epochs: int,
        max_steps: int | None = None,
        unlabelled: UnlabelledPairs | None = None,
    ) -> FitMetrics:
        """Train every member for ``epochs`` passes over its bootstrap sample.

        Args:
            data: all trainable comparisons.
            epochs: passes over each member's bootstrap sample.
            max_steps: stop after this many gradient steps (None: no cap).
            unlabelled: pairs for SURF's pseudo-labels (``reward_model.surf``; ignored
                when SURF is off).
        """
        n, k, cfg = len(data), self.model.members, self.config
        surf = cfg.surf if cfg.surf.enabled else None
        if n == 0:
            return FitMetrics(float("nan"), float("nan"), float("nan"), float(self.l2.mean()), 0)
        held_out = self.held_out(data)
        self.model.seed_masks(self.rng)  # dropout masks: this fit's own, not the agent's
        boot = np.zeros((k, n), dtype=np.int64)  # (K, N) bootstrap indices into data
        active = np.zeros(k, dtype=bool)  # members with at least one pair to train on
        for member in range(k):
            allowed = np.flatnonzero(~held_out[member])
            if allowed.size:
                boot[member] = self.rng.choice(allowed, size=n, replace=True)
                active[member] = True
        counts = np.zeros((k, n))
        for row in np.flatnonzero(active):
            counts[row] = np.bincount(boot[row], minlength=n)
        self.last_bootstrap = np.where(active[:, None], data.ids[boot], -1)
        device = self.model.device
        self.l2 = self.l2.to(device)
        weight = torch.as_tensor(active, dtype=torch.float32, device=device)
        batch = min(cfg.batch_size, n)
        steps_per_epoch = max(1, n // batch)
        self.model.train()
        steps = 0
        total_steps = (
            epochs * steps_per_epoch
            if max_steps is None
            else min(max_steps, epochs * steps_per_epoch)
        )
        said = started = time.monotonic()
        shown = -math.inf  # the first step is shown at once
        for _ in range(math.ceil(total_steps / steps_per_epoch)):
            order = self.rng.permuted(boot, axis=1)
            for b in range(min(steps_per_epoch, total_steps - steps)):
                if self.on_progress is not None and time.monotonic() - shown >= 1.0:
                    shown = time.monotonic()
                    self.on_progress(steps, total_steps)
                if time.monotonic() - said >= PROGRESS_SECONDS:
                    said = time.monotonic()
                    log.info(
                        "reward fit: %d of %d gradient steps on %d pairs (%.0f s so far)",
                        steps, total_steps, n, said - started,
                    )  # fmt: skip
                idx = torch.as_tensor(order[:, b * batch : (b + 1) * batch])  # (K, B)
                raw = self.model.raw_rewards(
                    data.obs[idx], data.actions[idx], data.absorbing[idx], per_member=True
                )  # (K, B, 2, T)
                if surf is not None:  # SURF's temporal crop of the labelled pairs
                    raw = raw * crop_mask(
                        (k, idx.shape[1]), raw.shape[-1], surf.crop_min_fraction, self.rng
                    ).to(raw.device)
                losses = self.pair_losses(raw, data, idx)
                penalty = (self.l2 * self.model.l2_per_member()).sum()
                loss = (losses.mean(dim=1) * weight).sum() + penalty
                if surf is not None and unlabelled is not None and len(unlabelled) > 0:
                    loss = (
                        loss
                        + surf.loss_weight * (self._pseudo_loss(unlabelled, batch) * weight).sum()
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                steps += 1
        return self._evaluate_and_adapt(
            data,
            torch.as_tensor(counts, dtype=torch.float32, device=device),
            torch.as_tensor(held_out, dtype=torch.float32, device=device),
            steps,
        )

    def _raw_rewards(self, data: Comparisons, index: Tensor | None) -> Tensor:
        """``(K, N, 2, T)`` raw rewards of the pairs at ``index`` (None: all), gathered
        ``EVALUATION_BLOCK`` pairs at a time: indexing stacked pixel views copies them."""
        if index is None:
            return self.model.raw_rewards(data.obs, data.actions, data.absorbing)
        blocks = index.split(EVALUATION_BLOCK)
        return torch.cat(
            [
                self.model.raw_rewards(data.obs[b], data.actions[b], data.absorbing[b])
                for b in blocks
            ],
            dim=1,
        )

    def _pseudo_loss(self, unlabelled: UnlabelledPairs, batch: int) -> Tensor:
        """``(K,)`` SURF's pseudo-label loss on μ·``batch`` unlabelled pairs per member."""
        surf = self.config.surf
        k = self.model.members
        pick = torch.as_tensor(
            self.rng.integers(0, len(unlabelled), size=(k, surf.unlabelled_ratio * batch))
        )
        raw = self.model.raw_rewards(
            unlabelled.obs[pick], unlabelled.actions[pick], unlabelled.absorbing[pick], True
        )  # (K, U, 2, T)
        mask = crop_mask(
            (k, surf.unlabelled_ratio * batch), raw.shape[-1], surf.crop_min_fraction, self.rng
        ).to(raw.device)
        losses, _ = pseudo_label_loss(raw, raw * mask, surf.threshold, self.config.epsilon)
        return losses

    @torch.no_grad()
    def _evaluate_and_adapt(
        self, data: Comparisons, counts: Tensor, held_out: Tensor, steps: int
    ) -> FitMetrics:
        """Losses on each member's bootstrap (``counts`` ``(K, N)``) and fixed held-out set,
        over at most ``reward_model.evaluation_pairs`` pairs drawn at random."""
        self.model.eval()
        cap = self.config.evaluation_pairs
        index = None
        if cap is not None and len(data) > cap:
            index = torch.as_tensor(np.sort(self.rng.choice(len(data), cap, replace=False)))
            counts, held_out = counts[:, index], held_out[:, index]
        raw = self._raw_rewards(data, index)  # (K, N, 2, T)
        logits = preference_logits(raw)  # (K, N)
        targets = (data.targets if index is None else data.targets[index]).to(logits.device)
        targets = targets.expand_as(logits)
        losses = self.pair_losses(raw, data, index)
        trained = counts.sum(dim=1) > 0
        train = (losses * counts).sum(dim=1) / counts.sum(dim=1).clamp_min(1)
        has_val = (held_out.sum(dim=1) > 0) & trained
        val = (losses * held_out).sum(dim=1) / held_out.sum(dim=1).clamp_min(1)
        decided = (targets != 0.5).float() * held_out * trained[:, None].float()
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
            train_loss=float(train[trained].mean()) if bool(trained.any()) else float("nan"),
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
    logits = preference_logits(rewards).cpu()
    decided = data.targets != 0.5
    if not bool(decided.any()):
        return float("nan")
    return float(((logits > 0) == (data.targets > 0.5))[decided].float().mean())
