"""Does a reward fit on a worker thread slow the agent on its own thread?

Trains the env-reward MinAtar Breakout agent for ``--steps`` steps (the agent's thread
only: no learned reward), with nothing beside it (``none``), with MinAtar-size reward fits
looping on a second thread as a preference run's worker does (``fit``: Python between
small operators, so the two threads share the GIL), and with a thread doing one large
matrix product after another (``matmul``: C code, GIL released; the control for what a
busy second core costs by itself). Each mode runs in a fresh process; modes alternate.

    .venv/bin/python benchmarks/fit_beside_agent.py --steps 60000 --rounds 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time


def background(mode: str, stop: threading.Event, work: list[int]) -> None:
    import numpy as np
    import torch
    from gymnasium import spaces
    from pixel_reward_speed import random_pairs

    from rlhp.config import RewardModelConfig
    from rlhp.reward.ensemble import make_reward_model
    from rlhp.reward.training import RewardTrainer

    torch.set_num_threads(1)
    if mode == "matmul":
        a = torch.randn(1500, 1500)
        while not stop.is_set():
            a @ a
            work[0] += 1
        return
    shape, n = (4, 10, 10), 300
    config = RewardModelConfig(dropout=0.5, batch_size=16)
    model = make_reward_model(spaces.Box(0, 255, shape, np.uint8), spaces.Discrete(4), config)
    trainer = RewardTrainer(model, config, np.random.default_rng(0))
    data = random_pairs(n, 25, shape)
    while not stop.is_set():
        trainer.fit(data, epochs=1, max_steps=10)
        work[0] += 1


def child(mode: str, steps: int) -> None:
    import rlhp
    from rlhp.config import TrainConfig

    stop, work = threading.Event(), [0]
    thread = None
    if mode != "none":
        thread = threading.Thread(target=background, args=(mode, stop, work))
        thread.start()
        time.sleep(3)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config = TrainConfig("MinAtar/Breakout-v1", reward="env", total_timesteps=steps, seed=0)
        rlhp.train(config, f"{tmp}/run")
        print(time.perf_counter() - started, work[0], flush=True)
    stop.set()
    if thread is not None:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps)
        return
    results: dict[str, list[str]] = {"none": [], "fit": [], "matmul": []}
    for _ in range(args.rounds):
        for mode in results:
            argv = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            seconds, work = out.split()[-2:]
            results[mode].append(f"{float(seconds):.1f} s ({work} units beside)")
    for mode, values in results.items():
        print(f"{mode}: " + ", ".join(values))


if __name__ == "__main__":
    main()
