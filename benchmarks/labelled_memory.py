"""Resident memory of the labelled comparisons over an Atari run's updates.

Builds a label store of Atari-size pairs (25-step segments of 4 stacked 84×84 frames,
random pixels), answers them in ``--updates`` rounds as the schedule would, and after
each round asks the loop's ``LabelledData`` for the comparisons to fit — keeping the
previous round's comparisons alive meanwhile, as the loop does while a fit's result is
installed; ``--evaluate N`` then has the CNN ensemble reward every fitted pair N times
without gradients, as the end of each fit does (``--minatar``: MinAtar-size pairs). Prints a markdown row: pairs, label
window, MiB of distinct frames the fitted pairs hold, the process's resident memory
before the first round and at the end, its peak, and the seconds the rounds took:

    .venv/bin/python benchmarks/labelled_memory.py --pairs 3300 --updates 50 --max-labels 3000
    .venv/bin/python benchmarks/labelled_memory.py --pairs 500 --updates 10 --evaluate 1
    .venv/bin/python benchmarks/labelled_memory.py --pairs 3000 --updates 10 --evaluate 3 --minatar
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

from rlhp.config import RewardModelConfig
from rlhp.labellers.base import Answer
from rlhp.loop.labelled import LabelledData
from rlhp.reward.ensemble import make_reward_model
from rlhp.reward.training import Comparisons
from rlhp.segments import Segment, stacked_view
from rlhp.store.labels import LabelStore

STEPS = 25


def rss_mib() -> tuple[float, float]:
    """Current and peak resident memory of this process, MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def pixel_segment(rng: np.random.Generator, stack: int, image: tuple[int, ...]) -> Segment:
    """Random pixels: ``stack`` stacked frames of ``image`` (``(H, W)``) each step, or
    for ``stack`` 0 plain ``(C, H, W)`` observations (MinAtar's channels)."""
    if stack == 0:
        obs = rng.integers(0, 2, (STEPS, *image), dtype=np.uint8)
        return Segment(obs, rng.integers(0, 4, STEPS), np.zeros(STEPS, dtype=bool))
    frames = rng.integers(0, 256, (STEPS + stack - 1, *image), dtype=np.uint8)
    absorbing = np.zeros(STEPS, dtype=bool)
    return Segment(stacked_view(frames, stack), rng.integers(0, 4, STEPS), absorbing, frames=frames)


def evaluate(data: Comparisons, times: int) -> None:
    """The CNN ensemble's rewards of every pair ``times`` over (the paper's network for
    Atari, the small one for MinAtar), as the end of each fit runs them."""
    image = tuple(data.obs.shape[3:])
    space = spaces.Box(0, 255, image, np.uint8)
    config = RewardModelConfig(dropout=0.5, precision="bfloat16" if image[-1] > 10 else "float32")
    model = make_reward_model(space, spaces.Discrete(4), config).eval()
    with torch.no_grad():
        for _ in range(times):
            model.raw_rewards(data.obs, data.actions, data.absorbing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3300)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--max-labels", type=int, default=3000)
    parser.add_argument("--evaluate", type=int, default=0, help="then r̂ of every pair, N times")
    parser.add_argument(
        "--minatar", action="store_true", help="MinAtar pairs: 8×10×10 observations, no frames"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    stack, image = (0, (8, 10, 10)) if args.minatar else (4, (84, 84))
    with tempfile.TemporaryDirectory() as tmp:
        store = LabelStore.create(Path(tmp) / "labels.sqlite", {"env_id": "ALE/Breakout-v5"})
        try:  # sized for the budget, as the loop builds it
            labelled = LabelledData(store, args.max_labels, expected_pairs=args.pairs)
        except TypeError:  # code from before the pairs were stored once
            labelled = LabelledData(store, max_labels=args.max_labels)
        base, _ = rss_mib()
        per_round = -(-args.pairs // args.updates)
        previous = None
        started = time.perf_counter()
        for done in range(0, args.pairs, per_round):
            count = min(per_round, args.pairs - done)
            segments = [pixel_segment(rng, stack, image) for _ in range(2 * count)]
            ids = store.add_segments(segments, np.zeros((2 * count, STEPS)))
            pairs = store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
            store.record_answers(Answer(p, "left", "oracle") for p in pairs)
            data, _ = labelled.comparisons()  # the previous round's data is still alive
            previous = data
        seconds = time.perf_counter() - started
        assert previous is not None
        if args.evaluate:  # what the end of every fit does: r̂ of every fitted pair
            evaluate(previous, args.evaluate)
        frames = min(args.pairs, args.max_labels) * 2 * (STEPS + stack - 1) * int(np.prod(image))
        now, peak = rss_mib()
        print(f"| {args.pairs} | {args.max_labels} | {frames / 2**20:.0f} | {base:.0f} "
              f"| {now:.0f} | {peak:.0f} | {seconds:.1f} |")  # fmt: skip
        store.close()


if __name__ == "__main__":
    main()
