"""Would a reward model on transitions (o, a, o′) learn Ant-v5 better than r̂(o, a)? (issue 9)

Ant's forward reward is the torso's displacement over the step, which the observation
*after* the step shows better than the one before. This refits the loop's own reward
model (``RewardEnsemble`` and ``RewardTrainer``: 3 members, 64×64, the bootstrap,
per-member held-out sets and adaptive L2; 200 epochs in rounds of 5, as
``rlhp reward fit``) on the first ``--train`` labelled pairs of a stored run, in the order
they were asked, and scores it on the segments of the later pairs it never saw:

- ``step_r2``: squared Pearson correlation of r̂ with the true reward over their alive steps;
- ``return_corr``: Pearson correlation of learned and true segment returns;
- ``pair_acc``: how often r̂ orders 20,000 random pairs of those segments as their true
  returns do (true ties skipped).

Inputs, each on the first ``--dims`` observation entries (Ant's preset reads 27) and the
actions with their squares, over the first T − 1 steps of every segment (the last step's
next observation is not stored):

- ``oa``: (o, a), the preset;
- ``oao``: (o, o′, a);
- ``oad``: (o, o′ − o, a).

``--set FIELD=VALUE`` (repeatable) changes the reward model as ``rlhp train --set`` does,
on top of the task's preset (``reward_model.ensemble_size=5``,
``reward_model.surf.enabled=true``, …), to ask the same of other models: with SURF on,
its unlabelled pairs are random pairs of the fitted pairs' segments.

    .venv/bin/python benchmarks/reward_transitions.py RUN_DIR --train 700 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from rlhp.config import RewardModelConfig
from rlhp.loop.run_dir import store_location
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.reward.offline import fit_in_rounds, store_env_id
from rlhp.reward.surf import UnlabelledPairs
from rlhp.reward.training import Comparisons
from rlhp.rl.presets import task_config
from rlhp.segments import Segment, SegmentBatch
from rlhp.store.labels import LabelStore

VARIANTS = ("oa", "oao", "oad")
EPOCHS = 200
"""As ``rlhp reward fit``'s default."""


def transition_segment(segment: Segment, variant: str, dims: int) -> Segment:
    """The first T − 1 steps of ``segment`` with observations as ``variant`` reads them."""
    obs = segment.obs.reshape(len(segment.obs), -1)[:, :dims].astype(np.float32)
    now, after = obs[:-1], obs[1:]
    parts = {"oa": [now], "oao": [now, after], "oad": [now, after - now]}[variant]
    absorbing = segment.absorbing[:-1]
    features = np.concatenate(parts, axis=1) * (~absorbing)[:, None]
    return Segment(features, segment.actions[:-1], absorbing)


def reward_config(store: LabelStore, assignments: list[str]) -> RewardModelConfig:
    """The store's task preset's reward model with ``assignments``, reading every feature
    it is given (this script cuts the observations itself)."""
    config = task_config(store_env_id(store)).with_overrides(assignments).reward_model
    return dataclasses.replace(config, observation_dims=None)


def unlabelled_pairs(segments: list[Segment], seed: int) -> UnlabelledPairs:
    """SURF's pool offline: random pairs of ``segments``."""
    rng = np.random.default_rng(seed)
    count = RewardModelConfig().surf.unlabelled_pairs
    i, j = rng.integers(0, len(segments), (2, count))
    return UnlabelledPairs.from_pairs(
        [(segments[a], segments[b]) for a, b in zip(i, j, strict=True)]
    )


def evaluate(
    run: Path, train: int, variant: str, dims: int, seed: int, assignments: list[str]
) -> dict[str, object]:
    store = LabelStore.open(store_location(run))
    labelled = sorted(store.labelled_pairs(), key=lambda p: p.pair_id)
    cache: dict[int, tuple[Segment, np.ndarray]] = {}

    def get(sid: int) -> tuple[Segment, np.ndarray]:
        if sid not in cache:
            seg = store.segment(sid)
            cache[sid] = (transition_segment(seg, variant, dims), store.true_rewards(sid)[:-1])
        return cache[sid]

    fitted = labelled[:train]
    batch = SegmentBatch.from_pairs([(get(p.left_id)[0], get(p.right_id)[0]) for p in fitted])
    data = Comparisons.from_batch(
        batch,
        np.array([p.target for p in fitted], dtype=np.float32),
        np.array([p.pair_id for p in fitted]),
    )
    config = reward_config(store, assignments)
    spec = FeatureSpec((batch.obs.shape[-1],), batch.actions.shape[-1], False, True)
    torch.manual_seed(seed)
    model = RewardEnsemble(spec, config)
    fitted_segments = [get(s)[0] for p in fitted for s in (p.left_id, p.right_id)]
    pool = unlabelled_pairs(fitted_segments, seed) if config.surf.enabled else None
    _, metrics, _ = fit_in_rounds(model, data, config, EPOCHS, seed, pool)

    seen = {sid for p in fitted for sid in (p.left_id, p.right_id)}
    unseen = sorted({sid for p in labelled[train:] for sid in (p.left_id, p.right_id)} - seen)
    steps_hat, steps_true, ret_hat, ret_true = [], [], [], []
    with torch.no_grad():
        for sid in unseen:
            seg, true = get(sid)
            r = model.rewards(
                torch.as_tensor(seg.obs)[None],
                torch.as_tensor(seg.actions)[None].float(),
                torch.as_tensor(seg.absorbing)[None],
            )[0].numpy()
            alive = ~seg.absorbing
            steps_hat.append(r[alive])
            steps_true.append(true[alive])
            ret_hat.append(r.sum())
            ret_true.append(true.sum())
    x, y = np.concatenate(steps_hat), np.concatenate(steps_true)
    rh, rt = np.array(ret_hat), np.array(ret_true)
    i, j = np.random.default_rng(0).integers(0, len(unseen), (2, 20_000))
    decided = np.abs(rt[i] - rt[j]) > 1e-6
    agree = (rh[i] > rh[j]) == (rt[i] > rt[j])
    return {
        "variant": variant,
        "set": assignments,
        "seed": seed,
        "train_pairs": len(fitted),
        "test_segments": len(unseen),
        "val_accuracy": round(metrics.val_accuracy, 3),
        "step_r2": round(float(np.corrcoef(x, y)[0, 1] ** 2), 4),
        "return_corr": round(float(np.corrcoef(rh, rt)[0, 1]), 4),
        "pair_acc": round(float(agree[decided].mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a run directory with labels.sqlite")
    parser.add_argument("--train", type=int, default=700, help="labelled pairs to fit on")
    parser.add_argument("--dims", type=int, default=27, help="observation entries read")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        for variant in args.variants:
            print(
                json.dumps(evaluate(args.run, args.train, variant, args.dims, seed, args.set)),
                flush=True,
            )


if __name__ == "__main__":
    main()
