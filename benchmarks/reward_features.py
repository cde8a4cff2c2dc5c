"""How well a reward model could fit a run's labels from different inputs (Ant-v5, issue 9).

Refits a 64×64 leaky-ReLU Bradley-Terry model (a learned absorbing-state reward, Adam,
lr 1e-3, weight decay 1e-4, 300 epochs of batches of 32) on the labelled pairs of one
run's store, once per input set and random 1/e held-out split, and prints the held-out
accuracy on the pairs that are not ties. Input sets for Ant-v5 (105 observations: 13
joint positions, 14 velocities, 78 contact forces; 8 actions):

    .venv/bin/python benchmarks/reward_features.py \
        runs/bench-mujoco/runs/Ant-v5-ppo-pref700-t300000-s0 --splits 4
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rlhp.loop.run_dir import store_location
from rlhp.segments import Segment
from rlhp.store.labels import LabelStore

JOINTS = 27
"""Ant-v5's observations before its contact forces."""
X_VELOCITY = 13
"""Index of the torso's forward velocity in Ant-v5's observation."""

INPUTS: dict[str, Callable[[Segment], np.ndarray]] = {
    "observations + actions": lambda s: np.concatenate([s.obs, s.actions], -1),
    "joints + actions": lambda s: np.concatenate([s.obs[:, :JOINTS], s.actions], -1),
    "joints": lambda s: s.obs[:, :JOINTS],
    "actions": lambda s: s.actions,
    "forward velocity, sum of a²": lambda s: np.stack(
        [s.obs[:, X_VELOCITY], (s.actions**2).sum(-1)], -1
    ),
    "observations + actions + a²": lambda s: np.concatenate([s.obs, s.actions, s.actions**2], -1),
    "joints + actions + a²": lambda s: np.concatenate(
        [s.obs[:, :JOINTS], s.actions, s.actions**2], -1
    ),
}


def held_out_accuracy(
    left: list[Segment],
    right: list[Segment],
    target: torch.Tensor,
    feature: Callable[[Segment], np.ndarray],
    seed: int,
) -> float:
    """Accuracy on a random 1/e of the pairs after fitting on the rest."""

    def stack(segments: list[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.tensor(np.stack([feature(s) for s in segments]), dtype=torch.float32)
        a = torch.tensor(np.stack([s.absorbing for s in segments]), dtype=torch.float32)
        return x, a

    (xl, al), (xr, ar) = stack(left), stack(right)
    flat = torch.cat([xl, xr]).reshape(-1, xl.shape[-1])
    mean, std = flat.mean(0), flat.std(0).clamp_min(1e-6)
    xl, xr = (xl - mean) / std, (xr - mean) / std
    held = torch.rand(len(target), generator=torch.Generator().manual_seed(seed)) < 1 / np.e
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(xl.shape[-1], 64),
        torch.nn.LeakyReLU(0.01),
        torch.nn.Linear(64, 64),
        torch.nn.LeakyReLU(0.01),
        torch.nn.Linear(64, 1),
    )
    absorbing = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam([*net.parameters(), absorbing], lr=1e-3, weight_decay=1e-4)

    def returns(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return (net(x)[..., 0] * (1 - a) + absorbing * a).sum(-1)

    train = torch.nonzero(~held)[:, 0]
    for _ in range(300):
        for batch in train[torch.randperm(len(train))].split(32):
            logits = returns(xl[batch], al[batch]) - returns(xr[batch], ar[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        logits = returns(xl[held], al[held]) - returns(xr[held], ar[held])
    decided = target[held] != 0.5
    return float(((logits > 0).float() == target[held])[decided].float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--splits", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = LabelStore.open(store_location(args.run))
    try:
        pairs = store.labelled_pairs()
        left = [store.segment(p.left_id) for p in pairs]
        right = [store.segment(p.right_id) for p in pairs]
    finally:
        store.close()
    target = torch.tensor([p.target for p in pairs], dtype=torch.float32)
    for name, feature in INPUTS.items():
        accs = [held_out_accuracy(left, right, target, feature, s) for s in range(args.splits)]
        print(
            json.dumps(
                {
                    "inputs": name,
                    "pairs": len(pairs),
                    "held_out_accuracy": round(float(np.mean(accs)), 3),
                    "std": round(float(np.std(accs)), 3),
                }
            )
        )


if __name__ == "__main__":
    main()
