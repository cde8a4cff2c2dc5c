"""Render + encode time of one 1.5 s MuJoCo clip, as the clip worker makes it, on one core.

    python benchmarks/clip_speed.py --env rlhp/HopperNoTermination-v5 --sizes 160 200 240 320 --repeats 20

Records 1.5 s of a random policy's simulator states (188 Hopper steps), then for each
size renders the clip the way ``ClipWorker`` does (``make_renderer``: scene flags off,
every ``frame_stride``-th step) and encodes it to H.264 MP4, ``--repeats`` times; with
``--default-scene`` also Gymnasium's own ``render()`` of the same steps (all of them, as
before; once). Pins itself to one CPU core (``--core``) and one llvmpipe thread. Prints one
JSON line: median and max seconds per clip, frames, bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")  # before Mesa loads: one rendering thread
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

from rlhp.clips.encode import encode_mp4
from rlhp.clips.render import (
    frame_stride,
    make_render_env,
    make_renderer,
    render_segment,
)
from rlhp.rl.sim_state import get_state
from rlhp.segments import Segment

SECONDS = 1.5


def random_segment(env_id: str, seed: int) -> Segment:
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps = round(SECONDS / float(env.unwrapped.dt))  # type: ignore[attr-defined]
    states = []
    for _ in range(steps):
        states.append(get_state(env))
        env.step(env.action_space.sample())
    env.close()
    obs = np.zeros((steps, 1), np.float32)
    return Segment(obs, obs.copy(), np.zeros(steps, bool), states=np.stack(states))


def time_clips(render, segment: Segment, stride: int, fps: float, repeats: int) -> dict:  # type: ignore[no-untyped-def]
    seconds, frames, size = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        for _ in range(repeats):
            started = time.perf_counter()
            images = render_segment(render, segment, stride)
            encode_mp4(images, path, fps)
            seconds.append(time.perf_counter() - started)
            frames, size = len(images), path.stat().st_size
    return {
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "frames": frames,
        "fps": round(fps, 2),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", default="rlhp/HopperNoTermination-v5")
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 200, 240, 320])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--default-scene", action="store_true", help="also Gymnasium's render()")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    segment = random_segment(args.env, seed=0)
    results: dict[str, dict] = {}
    for size in args.sizes:
        frames = make_renderer(args.env, size)
        stride = frame_stride(frames.steps_per_second)
        time_clips(frames, segment, stride, frames.steps_per_second / stride, 1)  # warm up
        results[f"fast_{size}"] = time_clips(
            frames, segment, stride, frames.steps_per_second / stride, args.repeats
        )
        frames.close()
    if args.default_scene:
        env = make_render_env(args.env, 240)
        fps = float(env.metadata.get("render_fps") or 30)
        results["gymnasium_default_240"] = time_clips(env, segment, 1, fps, 1)
        env.close()
    print(
        json.dumps(
            {
                "env": args.env,
                "clip_seconds": SECONDS,
                "steps": segment.length,
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
