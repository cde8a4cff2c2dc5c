"""What a Hopper teaching run's policy does, episode by episode, from simulator state.

Plays ``--episodes`` deterministic evaluation episodes of the run's policy (as
``rlhp.behaviours.report.measure_run`` does) and prints one JSON line per episode:
clean backflips (the measure), backward turns made airborne, the share of steps upright
on the foot, with nothing but the foot on the floor and in a jump, the jumps, the
largest backward turn made in one of them and the highest (the body's lowest point
above the floor), torso heights, and every
landing-to-landing turn of ≥ 2π with how long it took and how low the torso went — the
numbers behind "it writhed on the floor and stood up 2π lower" (docs/benchmarks.md,
issue 12):

    .venv/bin/python benchmarks/backflip_inspect.py runs/teach/backflip-1m-s0 --episodes 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from rlhp.behaviours.hopper import (
    HOLD,
    HopperBody,
    HopperPose,
    count_backflips,
    flight_ends,
    flight_landings,
    flight_turns,
)
from rlhp.recording import policy_episodes


def full_turns(pose: HopperPose, hold: int = HOLD) -> list[dict[str, Any]]:
    """Each pair of consecutive landings between which the pitch fell by ≥ 2π, however
    the turn was made."""
    turns, run, last = [], 0, None  # last landing: (pitch, step)
    for t, (angle, up) in enumerate(zip(pose.pitch, pose.on_foot, strict=True)):
        run = run + 1 if up else 0
        if run < hold:
            continue
        if last is not None:
            k = round((last[0] - float(angle)) / (2 * np.pi))
            if k != 0:
                span = slice(last[1], t + 1)
                turns.append({
                    "from_step": last[1], "to_step": t, "turns": k,
                    "min_torso_height": round(float(pose.height[span].min()), 2),
                    "share_torso_above_0.7m": round(float(np.mean(pose.height[span] >= 0.7)), 2),
                    "clean": bool(pose.aloft[span].all()),
                })  # fmt: skip
        if last is None or round((last[0] - float(angle)) / (2 * np.pi)) != 0:
            last = (float(angle), t)
    return turns


def big_flights(pose: HopperPose, least: float = 0.5) -> list[dict[str, Any]]:
    """Each jump that turned at least ``least`` of a turn backwards, and how it came down:
    on the foot alone or not (``flight_landings``), the torso's lean from upright at the
    first step back on the floor (radians, wrapped; negative: short of a whole turn) and
    its height then. Says whether a policy's flips fail by turning too little or too far."""
    flying = pose.launched
    turns = flight_turns(pose.pitch, flying)
    down_on_foot = flight_landings(flying, pose.aloft)
    out = []
    for turn, foot, end in zip(turns, down_on_foot, flight_ends(flying), strict=True):
        after = min(int(end) + 1, len(flying) - 1)
        if turn >= least:
            out.append({
                "step": int(end), "turn": round(float(turn), 2), "down_on_foot": bool(foot),
                "lean": round(float(-np.angle(np.exp(1j * pose.pitch[after]))), 2),
                "torso_height": round(float(pose.height[after]), 2),
            })  # fmt: skip
    return out


def inspect(run: Path, episodes: int) -> list[dict[str, Any]]:
    body = HopperBody("rlhp/HopperNoTermination-v5")
    out = []
    for episode in policy_episodes(run, episodes):
        if episode.states is None:
            raise SystemExit(f"{run}'s episodes have no simulator states")
        pose = body.pose(episode.states)
        airborne_turns = np.sum(-np.diff(pose.pitch) * pose.airborne[:-1]) / (2 * np.pi)
        lowest = np.minimum(pose.foot_clearance, pose.body_clearance)
        out.append({
            "backflips": count_backflips(pose.pitch, pose.on_foot, pose.aloft),
            "airborne_turns": round(float(airborne_turns), 2),
            "on_foot_share": round(float(pose.on_foot.mean()), 3),
            "aloft_share": round(float(pose.aloft.mean()), 3),
            "jump_share": round(float(pose.launched.mean()), 3),
            "jumps": int(np.sum(np.diff(pose.launched.astype(int)) == 1)),
            "largest_flight_turn": round(
                float(flight_turns(pose.pitch, pose.launched).max(initial=0.0)), 2
            ),
            "flight_max": round(float(lowest[pose.launched].max(initial=0.0)), 2),
            "torso_height_median": round(float(np.median(pose.height)), 2),
            "torso_height_max": round(float(pose.height.max()), 2),
            "full_turns": full_turns(pose),
            "flights_over_half_a_turn": big_flights(pose),
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args()
    for row in inspect(args.run, args.episodes):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
