"""The behaviour measures of a trained run: what ``docs/benchmarks.md`` reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlhp.loop.run_dir import RunDir
from rlhp.recording import policy_episodes


def measure_run(run_dir: Path | str, episodes: int = 20) -> dict[str, Any]:
    """Backflips (Hopper tasks) or the one-leg share and speed (Half-Cheetah) of the run's
    policy over ``episodes`` evaluation episodes (deterministic actions on MuJoCo)."""
    env_id = RunDir.open(Path(run_dir)).config().env_id
    played = [e.states for e in policy_episodes(run_dir, episodes)]
    states = [s for s in played if s is not None]
    lengths = [len(s) for s in states]
    if "Hopper" in env_id:
        from rlhp.behaviours.hopper import backflips_per_episode

        flips = backflips_per_episode(states)
        return {
            "env_id": env_id,
            "episodes": episodes,
            "backflips_per_episode": flips,
            "mean_backflips": float(np.mean(flips)),
            "share_with_a_backflip": float(np.mean([f >= 1 for f in flips])),
            "episode_lengths": lengths,
        }
    if "HalfCheetah" in env_id:
        from rlhp.behaviours.cheetah import measure_one_leg

        measure = measure_one_leg(states)
        return {
            "env_id": env_id,
            "episodes": episodes,
            "one_leg_share": measure.one_leg_share,
            "forward_speed": measure.forward_speed,
            "one_leg_share_per_episode": list(measure.per_episode_share),
            "episode_lengths": lengths,
        }
    raise ValueError(f"no behaviour measure for {env_id}")
