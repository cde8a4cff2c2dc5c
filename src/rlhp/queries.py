"""Choosing which pairs to ask about (paper §2.2.4, B-Pref).

A selector scores oversampled candidate pairs and keeps ``count`` of them. Every score
comes from one batched ensemble forward over the candidates (in chunks), and k-center's
distances from batched ``torch.cdist`` calls: nothing loops over pairs.

The selectors (``QueryConfig.selector``):

* ``uniform``: random pairs, the baseline the paper keeps because active selection
  sometimes hurts;
* ``disagreement``: the highest variance across members of each member's P̂[σ¹ ≻ σ²];
* ``entropy``: the highest binary entropy of the members' mean P̂ (B-Pref);
* ``kcenter``: coverage (B-Pref, after Sener & Savarese's core sets): farthest-first
  traversal of the candidates' features, each new pick the candidate farthest from every
  pair asked so far and every pair picked this round;
* ``kcenter_disagreement`` / ``kcenter_entropy``: B-Pref's combinations: keep the half of
  the candidates with the highest disagreement (entropy), then pick among them by k-center.

With one ensemble member the disagreement of every pair is 0 and ranking by it would be
random without a word; rlhp then ranks by the entropy of the single predictor's P̂ (the
uncertainty one model has) and says so in a warning (``make_selector``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torch import Tensor

from rlhp.config import Selector
from rlhp.preferences import binary_entropy, preference_logits, preference_probability
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.segments import SegmentBatch

if TYPE_CHECKING:
    from rlhp.config import TrainConfig

log = logging.getLogger(__name__)

PREFILTER_SHARE = 0.5
"""B-Pref's k-center combinations keep this share of the candidates, ranked by uncertainty."""


class QuerySelector(Protocol):
    """Picks ``count`` of the candidate pairs; returns their indices ``(count,)``.

    A selector may keep state across calls (k-center remembers the pairs it chose); one
    lives for a whole run.
    """

    def __call__(
        self, candidates: SegmentBatch, count: int, rng: np.random.Generator
    ) -> np.ndarray: ...


SelectorFactory = Callable[["TrainConfig", RewardEnsemble], QuerySelector]
"""(config, the run's reward ensemble) → the run's query selector; pass one to
``rlhp.train`` / ``rlhp.resume`` to use a selector of your own."""


class UniformSelector:
    """Random pairs: the baseline the paper keeps because active selection sometimes hurts."""

    def __call__(
        self, candidates: SegmentBatch, count: int, rng: np.random.Generator
    ) -> np.ndarray:
        return rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)


def top_scores(scores: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``count`` highest ``(N,)`` scores, ties broken at random."""
    # random tie-break so that equal scores (e.g. an untrained model) do not favour order
    order = np.lexsort((rng.random(len(scores)), -scores))
    return order[: min(count, len(scores))]


class EnsembleSelector:
    """Pairs with the highest ensemble uncertainty.

    ``disagreement``: variance across members of each member's P̂[σ¹ ≻ σ²].
    ``entropy``: binary entropy of the members' mean P̂.
    """

    def __init__(self, model: RewardEnsemble, kind: Selector, chunk: int = 256) -> None:
        if kind not in ("disagreement", "entropy"):
            raise ValueError(f"unknown ensemble selector {kind!r}")
        self.model = model
        self.kind = kind
        self.chunk = chunk
        """Candidate pairs per batched forward: bounds memory (MuJoCo's 188-step Hopper
        segments × 3,500 candidates took 2.4 GiB in one pass)."""

    @torch.no_grad()
    def scores(self, candidates: SegmentBatch) -> np.ndarray:
        """``(N,)`` uncertainty of each candidate pair."""
        self.model.eval()
        parts = []
        for start in range(0, len(candidates), self.chunk):
            raw = self.model.raw_rewards(
                torch.as_tensor(candidates.obs[start : start + self.chunk]),
                torch.as_tensor(candidates.actions[start : start + self.chunk]),
                torch.as_tensor(candidates.absorbing[start : start + self.chunk]),
            )  # (K, n, 2, T)
            probs = preference_probability(preference_logits(raw))  # (K, n)
            if self.kind == "disagreement":
                parts.append(probs.var(dim=0, unbiased=False))
            else:
                parts.append(binary_entropy(probs.mean(dim=0)))
        return torch.cat(parts).cpu().numpy()

    def __call__(
        self, candidates: SegmentBatch, count: int, rng: np.random.Generator
    ) -> np.ndarray:
        return top_scores(self.scores(candidates), count, rng)


def farthest_first(
    points: Tensor,
    count: int,
    centers: Tensor | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Greedy k-center: each pick is the point farthest from all centers and earlier picks.

    ``d(x) = min_c ‖x − c‖`` over the centers is kept as one ``(N,)`` vector and lowered
    by one batched distance to each new pick, so a round costs ``O((M + count)·N·D)``.

    Args:
        points: ``(N, D)`` candidate features.
        count: how many to pick (at most N).
        centers: ``(M, D)`` features already covered (pairs asked before); None or M = 0:
            the first pick is a random point (``rng``; the first point without one).
        rng: breaks the tie of the first pick when there are no centers.

    Returns:
        ``(min(count, N),)`` indices into ``points`` in the order they were picked.
    """
    if points.dim() != 2:
        raise ValueError(f"expected (N, D) points, got {tuple(points.shape)}")
    n = points.shape[0]
    count = min(count, n)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    points = points.double()
    nearest = torch.full((n,), float("inf"), dtype=torch.float64)
    if centers is not None and centers.shape[0] > 0:
        for start in range(0, centers.shape[0], 1024):  # bounds the (N, chunk) matrix
            block = torch.cdist(points, centers[start : start + 1024].double())
            nearest = torch.minimum(nearest, block.min(dim=1).values)
        first = int(torch.argmax(nearest))
    else:
        first = int(rng.integers(n)) if rng is not None else 0
    picks = [first]
    for _ in range(count - 1):
        new = points[picks[-1]].unsqueeze(0)
        nearest = torch.minimum(nearest, torch.cdist(points, new)[:, 0])
        nearest[picks[-1]] = -1.0  # never pick a point twice (duplicates sit at distance 0)
        picks.append(int(torch.argmax(nearest)))
    return np.asarray(picks, dtype=np.int64)


def pair_features(candidates: SegmentBatch, model: RewardEnsemble | None = None) -> Tensor:
    """``(N, 2·T·(D+1))`` features of each pair for k-center's distances.

    Each step is what the reward model reads of it (``RewardEnsemble.step_features``:
    observation and action if it uses them, standardised with the model's input
    statistics; a coarse grid of each image channel for the CNN), zero at absorbing
    steps, plus an absorbing flag; the pair is both segments' steps in order (B-Pref
    compares the concatenated state-actions of both segments). Without a model: raw
    flattened inputs.
    """
    obs = torch.as_tensor(candidates.obs)
    actions = torch.as_tensor(candidates.actions)
    absorbing = torch.as_tensor(candidates.absorbing)
    if model is None:
        x = obs.reshape(*obs.shape[:3], -1).float()
    else:
        x = model.step_features(obs, actions)
    x = torch.where(absorbing.unsqueeze(-1), torch.zeros_like(x), x)
    x = torch.cat([x, absorbing.unsqueeze(-1).float()], dim=-1)  # (N, 2, T, D+1)
    return x.reshape(x.shape[0], -1)


class KCenterSelector:
    """B-Pref's k-center (coverage), alone or after an uncertainty prefilter.

    The centers are every pair this selector chose earlier in the run (the pairs already
    asked; after a resume, those asked since), so each round covers what earlier rounds
    did not. They are kept as segments and featurised again at every call, with the
    model's current input standardisation.
    """

    def __init__(
        self,
        model: RewardEnsemble | None,
        prefilter: EnsembleSelector | None = None,
        share: float = PREFILTER_SHARE,
    ) -> None:
        self.model = model
        self.prefilter = prefilter
        """None: plain k-center; else keep the ``share`` most uncertain candidates first."""
        self.share = share
        self.asked: list[SegmentBatch] = []
        """The pairs chosen so far, one batch per call."""

    def centers(self, steps: int) -> Tensor | None:
        """``(M, F)`` features of the pairs chosen so far with ``steps``-step segments."""
        same = [b for b in self.asked if b.absorbing.shape[2] == steps]
        if not same:
            return None
        batch = SegmentBatch(
            np.concatenate([b.obs for b in same]),
            np.concatenate([b.actions for b in same]),
            np.concatenate([b.absorbing for b in same]),
        )
        return pair_features(batch, self.model)

    @torch.no_grad()
    def __call__(
        self, candidates: SegmentBatch, count: int, rng: np.random.Generator
    ) -> np.ndarray:
        pool = np.arange(len(candidates))
        if self.prefilter is not None:
            keep = max(count, int(np.ceil(self.share * len(candidates))))
            pool = np.sort(top_scores(self.prefilter.scores(candidates), keep, rng))
        features = pair_features(candidates.take(pool), self.model)
        chosen = farthest_first(features, count, self.centers(candidates.absorbing.shape[2]), rng)
        self.asked.append(candidates.take(pool[chosen]))
        return pool[chosen]


def make_selector(kind: Selector, model: RewardEnsemble) -> QuerySelector:
    """The built-in selector ``kind`` over ``model``.

    With one ensemble member, disagreement is 0 for every pair: ``disagreement`` becomes
    ``entropy`` and ``kcenter_disagreement`` becomes ``kcenter_entropy``, with a warning.
    """
    if model.members == 1 and kind in ("disagreement", "kcenter_disagreement"):
        replacement: Selector = "entropy" if kind == "disagreement" else "kcenter_entropy"
        log.warning(
            "queries.selector=%s needs an ensemble (reward_model.ensemble_size >= 2): with one "
            "predictor every pair's disagreement is 0; ranking by the single predictor's "
            "entropy instead (%s). Set --query uniform or entropy to silence this.",
            kind,
            replacement,
        )
        kind = replacement
    if kind == "uniform":
        return UniformSelector()
    if kind == "kcenter":
        return KCenterSelector(model)
    if kind == "kcenter_disagreement":
        return KCenterSelector(model, EnsembleSelector(model, "disagreement"))
    if kind == "kcenter_entropy":
        return KCenterSelector(model, EnsembleSelector(model, "entropy"))
    return EnsembleSelector(model, kind)
