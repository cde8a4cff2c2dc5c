"""Speed of the CNN reward ensemble on one CPU thread, per ``reward_model.precision``: r̂
for one vector step (what the agent waits for at every step) — the frozen snapshot
(batch norm folded into the convolutions) beside the module's own eval-mode
``rewards`` — r̂ per frame when a whole PPO rollout (``--rollout`` frames) goes through
the snapshot in one call, one gradient step of a fit (what the worker thread spends),
and evaluating a fit's labelled pairs (``--evaluate`` of them, as every fit ends), on
Atari-size (4×84×84) and MinAtar-size (4×10×10) observations.

Each measurement alternates the precisions round by round (``--rounds``) and reports
medians, so a machine whose load drifts slows both alike; the last column is each
precision's fit step over float32's.

    .venv/bin/python benchmarks/pixel_reward_speed.py --envs 8 --pairs 16 --steps 25 --rollout 1024
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from gymnasium import spaces

from rlhp.config import RewardModelConfig
from rlhp.reward.cnn_inference import compute_dtype
from rlhp.reward.ensemble import make_reward_model
from rlhp.reward.training import Comparisons, RewardTrainer

PRECISIONS = ("float32", "bfloat16")


def random_pairs(count: int, steps: int, shape: tuple[int, ...]) -> Comparisons:
    """``count`` labelled pairs of random uint8 frames, ``steps`` to a segment, no actions,
    no absorbing steps, random preferences: what a pixel fit costs, whatever it learns."""
    return Comparisons(
        torch.randint(0, 256, (count, 2, steps, *shape), dtype=torch.uint8),
        torch.zeros(count, 2, steps),
        torch.zeros(count, 2, steps, dtype=torch.bool),
        torch.rand(count),
    )


def seconds(call: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - started) / repeat


def measurements(shape: tuple[int, ...], precision: str, args: argparse.Namespace) -> dict:
    """The calls to time for one observation shape and precision, each warmed up once."""
    config = RewardModelConfig(dropout=0.5, batch_size=args.pairs, precision=precision)  # type: ignore[arg-type]
    model = make_reward_model(spaces.Box(0, 255, shape, np.uint8), spaces.Discrete(4), config)
    frozen = model.snapshot()
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (args.envs, *shape), dtype=np.uint8)
    rollout = rng.integers(0, 256, (args.rollout, *shape), dtype=np.uint8)
    x, none = torch.as_tensor(obs), torch.zeros(args.envs, dtype=torch.bool)
    data = random_pairs(args.pairs, args.steps, shape)
    labelled = random_pairs(args.evaluate, args.steps, shape)
    trainer = RewardTrainer(model, config, np.random.default_rng(0))

    def module_step() -> None:
        model.eval()
        with torch.no_grad():
            model.rewards(x, none, none)

    def evaluate() -> None:
        model.eval()
        with torch.no_grad():
            model.raw_rewards(labelled.obs, labelled.actions, labelled.absorbing)

    calls = {
        "snapshot": (lambda: frozen(obs, np.zeros(args.envs)), 20),
        "module": (module_step, 20),
        "rollout": (lambda: frozen(rollout, np.zeros(args.rollout)), 2),
        "fit": (lambda: trainer.fit(data, epochs=1), 2),  # one gradient step (+ its evaluation)
        "evaluate": (evaluate, 1),
    }
    for call, _ in calls.values():
        call()
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=16, help="reward_model.batch_size")
    parser.add_argument("--steps", type=int, default=25, help="segment length")
    parser.add_argument("--rollout", type=int, default=1024, help="frames of one PPO rollout")
    parser.add_argument("--evaluate", type=int, default=256, help="labelled pairs evaluated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"compute dtype on this CPU for precision=auto: {compute_dtype('auto', torch.device('cpu'))}"
    )
    print(
        "| observation | precision | r̂ per vector step, snapshot (ms) | same, module (ms) "
        "| µs per frame, whole rollout | one fit step (s) | evaluating the labelled pairs (s) "
        "| fit step / float32's |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for shape in ((4, 84, 84), (4, 10, 10)):
        setups = {p: measurements(shape, p, args) for p in args.precisions}
        times: dict[str, dict[str, list[float]]] = {p: {} for p in args.precisions}
        for _ in range(args.rounds):
            for precision, calls in setups.items():
                for name, (call, repeat) in calls.items():
                    times[precision].setdefault(name, []).append(seconds(call, repeat))
        size = "×".join(map(str, shape))
        med = {p: {k: float(np.median(v)) for k, v in times[p].items()} for p in times}
        base = med.get("float32", med[args.precisions[0]])["fit"]
        for precision, m in med.items():
            print(
                f"| {size} | {precision} | {m['snapshot'] * 1000:.1f} | {m['module'] * 1000:.1f} "
                f"| {m['rollout'] / args.rollout * 1e6:.0f} | {m['fit']:.2f} "
                f"| {m['evaluate']:.2f} | {m['fit'] / base:.2f} |"
            )


if __name__ == "__main__":
    main()
