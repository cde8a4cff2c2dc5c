"""Resident memory of the CNN reward ensemble's inference over many batch sizes.

oneDNN (torch's CPU convolutions) caches a primitive, with its scratch memory, for every
input shape it meets. A preference run evaluates a growing label set, new candidates and
varying numbers of states at every update, so without care every update brings new
shapes. ``rlhp.reward.cnn_inference.padded_batch`` pads inference batches to powers of two; this
script runs the same evaluations with and without it, each in a fresh process, and
prints the growth of resident memory:

    .venv/bin/python benchmarks/cnn_memory.py --sizes 150 --shape 4 10 10
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np


def measure(sizes: int, shape: tuple[int, ...], padding: bool) -> tuple[int, int]:
    """RSS in MiB before and after ``sizes`` eval forwards of 1,000 to 2,047 frames."""
    import torch
    from gymnasium import spaces

    from rlhp.config import RewardModelConfig
    from rlhp.reward import cnn
    from rlhp.reward.ensemble import make_reward_model

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 // 2**20

    if not padding:
        cnn.padded_batch = lambda x: x  # type: ignore[assignment]
    torch.set_num_threads(1)
    space = spaces.Box(0, 255, shape, np.uint8)
    model = make_reward_model(space, spaces.Discrete(4), RewardModelConfig(dropout=0.5)).eval()
    before = rss()
    with torch.no_grad():
        for n in np.linspace(1000, 2047, sizes).astype(int):
            obs = torch.zeros((int(n), *shape), dtype=torch.uint8)
            model.raw_rewards(obs, torch.zeros(int(n)), torch.zeros(int(n), dtype=torch.bool))
    return before, rss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, default=150, help="distinct batch sizes")
    parser.add_argument("--shape", type=int, nargs=3, default=(4, 10, 10))
    parser.add_argument("--child", choices=("padded", "unpadded"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = tuple(args.shape)
    if args.child:
        before, after = measure(args.sizes, shape, args.child == "padded")
        print(f"{before} {after}")
        return
    print("| observation | batch sizes | inference batches | RSS before (MiB) | after (MiB) |")
    print("|---|---|---|---|---|")
    for mode in ("unpadded", "padded"):
        command = [sys.executable, __file__, "--sizes", str(args.sizes), "--child", mode]
        out = subprocess.run(
            [*command, "--shape", *map(str, shape)], capture_output=True, text=True, check=True
        )
        before, after = out.stdout.split()
        size = "×".join(map(str, shape))
        print(f"| {size} | {args.sizes} | {mode} | {before} | {after} |")


if __name__ == "__main__":
    main()
