"""Speed of the CNN reward ensemble on one CPU thread: r̂ for one vector step (what the
agent waits for at every step) — the frozen snapshot (batch norm folded into the
convolutions) beside the module's own eval-mode ``rewards`` — and one gradient step of a
fit (what the worker thread spends), on Atari-size (4×84×84) and MinAtar-size (4×10×10)
observations. The last column is the snapshot's cost per frame when a whole PPO rollout
(``--rollout`` frames) goes through it in one call instead of a vector step at a time:
whether computing r̂ once per rollout would be cheaper.

    .venv/bin/python benchmarks/pixel_reward_speed.py --envs 8 --pairs 32 --steps 25 --rollout 1024
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from gymnasium import spaces

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import make_reward_model
from rlhp.reward.training import Comparisons, RewardTrainer


def seconds(call, repeat: int) -> float:  # type: ignore[no-untyped-def]
    call()
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=32, help="reward_model.batch_size")
    parser.add_argument("--steps", type=int, default=25, help="segment length")
    parser.add_argument("--rollout", type=int, default=1024, help="frames of one PPO rollout")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| observation | r̂ per vector step, snapshot (ms) | same, module (ms) | one fit step (s) "
        "| µs per frame: vector step / whole rollout |"
    )
    print("|---|---|---|---|---|")
    for shape in ((4, 84, 84), (4, 10, 10)):
        config = RewardModelConfig(dropout=0.5, batch_size=args.pairs)
        model = make_reward_model(spaces.Box(0, 255, shape, np.uint8), spaces.Discrete(4), config)
        frozen = model.snapshot()
        obs = np.random.default_rng(0).integers(0, 256, (args.envs, *shape), dtype=np.uint8)
        infer = seconds(lambda: frozen(obs, np.zeros(args.envs)), 20)  # noqa: B023
        rollout = np.random.default_rng(1).integers(0, 256, (args.rollout, *shape), dtype=np.uint8)
        batched = seconds(lambda: frozen(rollout, np.zeros(args.rollout)), 3)  # noqa: B023
        model.eval()
        x, none = torch.as_tensor(obs), torch.zeros(args.envs, dtype=torch.bool)
        with torch.no_grad():
            module = seconds(lambda: model.rewards(x, none, none), 20)  # noqa: B023
        n, t = args.pairs, args.steps
        data = Comparisons(
            torch.randint(0, 256, (n, 2, t, *shape), dtype=torch.uint8),
            torch.zeros(n, 2, t),
            torch.zeros(n, 2, t, dtype=torch.bool),
            torch.rand(n),
        )
        trainer = RewardTrainer(model, config, np.random.default_rng(0))
        fit = seconds(lambda: trainer.fit(data, epochs=1), 2)  # noqa: B023 - one step
        size = "×".join(map(str, shape))
        per_frame = f"{infer / args.envs * 1e6:.0f} / {batched / args.rollout * 1e6:.0f}"
        print(f"| {size} | {infer * 1000:.1f} | {module * 1000:.1f} | {fit:.2f} | {per_frame} |")


if __name__ == "__main__":
    main()
