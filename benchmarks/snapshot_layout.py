"""The agent's CNN snapshot on NCHW against channels-last frames, by batch size.

``CnnFrozenReward`` computes batches of at least ``CHANNELS_LAST_FROM`` frames (a rollout's,
with ``reward_model.batch_rollout_rewards``) channels-last and smaller ones (a vector
step's) NCHW. This times both layouts on one thread with a preference run's own reward
model and the frames its store holds (timings depend on the pixels: on uniform random
frames channels-last came out slower at every size, on real ones faster at a rollout's),
the layouts alternating round by round; medians.

    .venv/bin/python benchmarks/snapshot_layout.py RUN_DIR ENV_ID --frames 64 1024 --rounds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rlhp.reward import cnn_frozen
from rlhp.reward.saved import load_reward_model
from rlhp.store.labels import LabelStore


def timed(
    snapshot: cnn_frozen.CnnFrozenReward, obs: np.ndarray, layout_from: int, repeat: int
) -> float:
    """Seconds per call, channels-last from ``layout_from`` frames on."""
    cnn_frozen.CHANNELS_LAST_FROM = layout_from
    actions = np.zeros(len(obs))
    for _ in range(2):  # oneDNN builds its primitives for this shape and layout
        snapshot(obs, actions)
    started = time.perf_counter()
    for _ in range(repeat):
        snapshot(obs, actions)
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a pixel preference run (its store and reward model)")
    parser.add_argument("env_id")
    parser.add_argument("--frames", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = LabelStore.open(f"{args.run_dir}/labels.sqlite")
    wanted, parts = max(args.frames), []
    for segment_id in store.segment_ids():
        parts.append(store.segment(segment_id).obs)
        if sum(len(p) for p in parts) >= wanted:
            break
    frames = np.concatenate(parts)[:wanted]
    snapshot = load_reward_model(args.run_dir, args.env_id).snapshot()
    assert isinstance(snapshot, cnn_frozen.CnnFrozenReward), "not a pixel run"
    chosen = cnn_frozen.CHANNELS_LAST_FROM
    print("| frames | shape | NCHW (ms) | channels-last (ms) | channels-last / NCHW | rlhp uses |")
    print("|---|---|---|---|---|---|")
    for n in args.frames:
        obs = frames[:n]
        repeat = max(3, 20_000 // (n * obs.shape[-1]))
        nchw, last = [], []
        for _ in range(args.rounds):
            nchw.append(timed(snapshot, obs, 1 << 30, repeat))
            last.append(timed(snapshot, obs, 0, repeat))
        a, b = float(np.median(nchw)) * 1e3, float(np.median(last)) * 1e3
        uses = "channels-last" if n >= chosen else "NCHW"
        print(f"| {n} | {obs.shape[1:]} | {a:.1f} | {b:.1f} | {b / a:.2f} | {uses} |")
    cnn_frozen.CHANNELS_LAST_FROM = chosen


if __name__ == "__main__":
    main()
