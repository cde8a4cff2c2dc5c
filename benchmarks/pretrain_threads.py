"""Pre-training's reward fits on one torch thread or on every core, alone and beside a
second process doing the same, with OpenMP's default (spinning) wait policy and the
passive one rlhp sets (``reward_model.pretrain_threads``, ``OMP_WAIT_POLICY``).

Each measurement is a fresh child process (OpenMP reads its wait policy once, when torch
loads) that times one fit of ``--epochs`` passes over ``--pairs`` random pairs with the
pixel presets' batch of 16; "side by side" starts two such children at once and reports
the slower. Conditions alternate round by round (``--rounds``) and the table gives
medians, so a machine whose load drifts slows all alike.

    .venv/bin/python benchmarks/pretrain_threads.py --shape 4x84x84 --pairs 48 --epochs 2
    .venv/bin/python benchmarks/pretrain_threads.py --shape 4x10x10 --pairs 160 --epochs 12
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CONDITIONS = (  # (threads, wait policy, side by side)
    ("1", "", False),
    ("all", "ACTIVE", False),
    ("all", "PASSIVE", False),
    ("1", "", True),
    ("all", "ACTIVE", True),
    ("all", "PASSIVE", True),
)


def child(shape: tuple[int, ...], pairs: int, epochs: int, threads: int) -> None:
    """Time one fit in this process and print its seconds."""
    import numpy as np
    import torch
    from gymnasium import spaces
    from pixel_reward_speed import random_pairs

    from rlhp.config import RewardModelConfig
    from rlhp.reward.ensemble import make_reward_model
    from rlhp.reward.training import RewardTrainer

    torch.set_num_threads(threads)
    data = random_pairs(pairs, 25, shape)
    precision = "bfloat16" if shape[-1] > 10 else "float32"
    config = RewardModelConfig(dropout=0.5, batch_size=16, precision=precision)  # type: ignore[arg-type]
    space = spaces.Box(0, 255, shape, np.uint8)
    model = make_reward_model(space, spaces.Discrete(4), config)
    trainer = RewardTrainer(model, config, np.random.default_rng(0))
    trainer.fit(data, epochs=1)  # warm-up
    started = time.perf_counter()
    trainer.fit(data, epochs=epochs)
    print(time.perf_counter() - started)


def measure(args: argparse.Namespace, threads: str, policy: str, side_by_side: bool) -> float:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    count = str(len(os.sched_getaffinity(0))) if threads == "all" else threads
    argv = [sys.executable, __file__, "--child", count, "--shape", args.shape]
    argv += ["--pairs", str(args.pairs), "--epochs", str(args.epochs)]
    children = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2 if side_by_side else 1)
    ]
    return max(float(c.communicate()[0].strip().splitlines()[-1]) for c in children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="4x84x84", help="observation shape, CxHxW")
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = tuple(int(s) for s in args.shape.split("x"))
    if args.child is not None:
        child(shape, args.pairs, args.epochs, args.child)
        return
    times: dict[tuple[str, str, bool], list[float]] = {c: [] for c in CONDITIONS}
    for _ in range(args.rounds):
        for condition in CONDITIONS:
            times[condition].append(measure(args, *condition))
    one_alone = statistics.median(times[CONDITIONS[0]])
    print(f"{args.shape}, {args.pairs} pairs, {args.epochs} passes, {args.rounds} rounds")
    print("| torch threads | OpenMP wait | processes | fit (s), median | / one thread alone |")
    print("|---|---|---|---|---|")
    for (threads, policy, side), values in times.items():
        median = statistics.median(values)
        print(
            f"| {threads} | {policy.lower() or '—'} | {2 if side else 1} | {median:.2f} "
            f"({', '.join(f'{v:.1f}' for v in values)}) | {median / one_alone:.2f} |"
        )


if __name__ == "__main__":
    main()
