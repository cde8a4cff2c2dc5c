"""``rlhp reward fit``: a reward model from a saved preference set alone, no environment steps.

The preference set is a label store (a run's ``labels.sqlite`` or shared database: the
segments and every answer), optionally with the answers replaced by an exported label file
(``rlhp labels export``). Several answers to one pair average into one target, exactly
as in training (SPEC §2); can't-tell answers are dropped. The fit is the loop's own
(``RewardTrainer``: bootstrap ensemble, fixed per-member held-out sets, adaptive L2),
run in rounds of ``ADAPT_EVERY`` epochs so that the L2 coefficients adapt during the fit
as they do across a run's updates, then input and output normalisation over the labelled
segments. The model is the one a run of the store's task builds (``TrainConfig``: the
task preset, or the run's own ``config.json``, with its pixel preprocessing), and the
checkpoint has the loop's format (``{"model": state_dict, "l2": …}``, the preprocessing
recorded), so ``rlhp evaluate``, ``--reward-model`` and resumed runs read it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlhp.atomic import replacing
from rlhp.config import RewardModelConfig, TrainConfig
from rlhp.errors import RlhpError
from rlhp.labellers.base import TARGETS
from rlhp.labels_io import LabelRow
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model
from rlhp.reward.saved import checkpoint
from rlhp.reward.surf import UnlabelledPairs
from rlhp.reward.training import Comparisons, FitMetrics, RewardTrainer, agreement
from rlhp.rl.agents import probe_env
from rlhp.rl.atari import is_pixel_env
from rlhp.segments import SegmentBatch
from rlhp.store.labels import LabelStore

ADAPT_EVERY = 5
"""Epochs between two L2 adaptations of an offline fit."""


@dataclass(frozen=True)
class OfflineFit:
    """What ``fit_offline`` achieved."""

    comparisons: int
    """Pairs with a trainable target."""
    epochs: int
    train_loss: float
    val_loss: float
    """Mean held-out (out-of-bootstrap) loss of the members."""
    val_accuracy: float
    """Held-out accuracy of the members on decided pairs."""
    agreement: float
    """Accuracy of the normalised ensemble mean on all decided pairs (training data)."""
    l2: float
    """Mean L2 coefficient of the members at the end (adapted every ``ADAPT_EVERY`` epochs)."""
    rounds: int
    """Fits of at most ``ADAPT_EVERY`` epochs each; L2 adapts after every one."""


def targets_from_rows(rows: list[LabelRow]) -> dict[int, float]:
    """Pair id → mean target μ(left) of its trainable answers."""
    per_pair: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        target = TARGETS.get(r.choice)  # type: ignore[call-overload]  # choice validated on parse
        if target is not None:
            per_pair[r.pair_id].append(target)
    return {pid: float(np.mean(t)) for pid, t in per_pair.items()}


def store_env_id(store: LabelStore) -> str:
    """The environment id the store's segments come from.

    Raises:
        RlhpError: the store does not record one.
    """
    env_id = store.meta().get("env_id")
    if not env_id:
        raise RlhpError(
            f"{store.location} does not say which environment it belongs to (meta env_id)"
        )
    return env_id


def fit_offline(
    store: LabelStore,
    task: TrainConfig,
    epochs: int,
    seed: int = 0,
    rows: list[LabelRow] | None = None,
) -> tuple[RewardEnsemble, torch.Tensor, OfflineFit]:
    """Fit a fresh ensemble to the store's labelled pairs (or to ``rows``' answers).

    Args:
        task: the run's configuration (its environment, pixel preprocessing and
            ``reward_model`` settings): the model is the one that run builds.

    Returns:
        The fitted ensemble, its adapted L2 coefficients ``(K,)``, and the metrics.

    Raises:
        RlhpError: no trainable labels, labels for unknown pairs, or segments whose
            observations are not what ``task``'s environment gives.
    """
    env_id = store_env_id(store)
    if env_id != task.env_id:
        raise RlhpError(f"{store.location} holds {env_id} segments, not {task.env_id}")
    config = task.reward_model
    if rows is None:
        targets = {p.pair_id: p.target for p in store.labelled_pairs()}
    else:
        targets = targets_from_rows(rows)
    pairs = {pid: (left, right) for pid, left, right, _ in store.pairs()}
    unknown = sorted(set(targets) - set(pairs))
    if unknown:
        raise RlhpError(f"labels for pairs {unknown[:5]} that are not in {store.location}")
    if not targets:
        raise RlhpError(f"{store.location} has no trainable labels (answers other than can't-tell)")
    obs_space, action_space = probe_env(task)
    ids = sorted(targets)
    batch = SegmentBatch.from_pairs(
        [(store.segment(pairs[i][0]), store.segment(pairs[i][1])) for i in ids]
    )
    stored = batch.obs.shape[3:]
    if stored != obs_space.shape:
        fix = (
            "fit from the run directory (its config.json records the preprocessing) or set "
            "it, e.g. --set atari.minatar_frames=2"
            if is_pixel_env(task.env_id)
            else "fit from the run directory that recorded them"
        )
        raise RlhpError(
            f"the segments in {store.location} have observations of shape {stored}, but "
            f"{task.env_id} as configured gives {obs_space.shape}: {fix}"
        )
    torch.manual_seed(seed)
    model = make_reward_model(obs_space, action_space, config)  # the CNN for pixels
    data = Comparisons.from_batch(
        batch, np.array([targets[i] for i in ids], dtype=np.float32), np.array(ids)
    )
    trainer, metrics, rounds = fit_in_rounds(model, data, config, epochs, seed)
    result = OfflineFit(
        comparisons=len(data),
        epochs=epochs,
        train_loss=metrics.train_loss,
        val_loss=metrics.val_loss,
        val_accuracy=metrics.val_accuracy,
        agreement=agreement(model, data),
        l2=metrics.l2,
        rounds=rounds,
    )
    return model, trainer.l2, result


def fit_in_rounds(
    model: RewardEnsemble,
    data: Comparisons,
    config: RewardModelConfig,
    epochs: int,
    seed: int,
    unlabelled: UnlabelledPairs | None = None,
) -> tuple[RewardTrainer, FitMetrics, int]:
    """Fit a fresh ``model`` to ``data`` as ``rlhp reward fit`` does: input normalisation
    over the pairs' steps, ``epochs`` epochs of the loop's trainer in rounds of
    ``ADAPT_EVERY`` (L2 adapts after each), then output normalisation. ``unlabelled``:
    pairs for SURF's pseudo-labels when ``config.surf`` is on.

    Returns:
        The trainer (its adapted L2), the last round's metrics and the number of rounds.
    """
    flat = (data.obs.flatten(0, 1), data.actions.flatten(0, 1), data.absorbing.flatten(0, 1))
    model.fit_input_normalization(*flat)
    trainer = RewardTrainer(model, config, np.random.default_rng(seed), holdout_seed=seed)
    chunks = [ADAPT_EVERY] * (epochs // ADAPT_EVERY) + (
        [epochs % ADAPT_EVERY] if epochs % ADAPT_EVERY else []
    )
    for chunk in chunks:
        metrics = trainer.fit(data, chunk, unlabelled=unlabelled)
    model.fit_output_normalization(*flat)
    return trainer, metrics, len(chunks)


def save_offline(model: RewardEnsemble, l2: torch.Tensor, path: Path, task: TrainConfig) -> None:
    """The loop's reward checkpoint format (``rlhp.reward.saved``), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atari = task.atari if is_pixel_env(task.env_id) else None
    with replacing(path) as tmp:
        torch.save(checkpoint(model, task.reward_model, task.env_id, atari, l2=l2), tmp)
