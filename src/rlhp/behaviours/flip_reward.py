"""The backflip as a sum over steps: a per-step score, the rule that compares its sums,
and the environment that pays it.

The twelve clip-level backflip rules (``rlhp.behaviours.hopper``) judge a clip as a whole:
landed flips first, then the largest or summed turn, flight height, time in the air. A
reward model is a sum over steps (``r̂(o, a)`` added up over the clip, Bradley-Terry on
the sums), so a clip-level judgement it cannot write as such a sum is fitted only
approximately, and the policy finds where the approximation pays. Here the judgement *is*
a sum: ``flip_step_scores`` gives each step a score from that step's simulator state
alone — something the observation the reward model reads carries (height, pitch, joint
angles, velocities) — and ``prefer_flip_sum`` prefers the clip whose scores add up to more.
The same score paid as the environment's reward (``rlhp/HopperBackflipReward-v5``,
``FlipRewardEnv``) gives the written-reward agent: what PPO makes of the judgement when it
reads it exactly, the ceiling of what preferences can teach with it.

Per step, from the state the action is taken at (what a recorded segment holds):

* **spin**: in the air (nothing, not even the foot, touching the floor), the backward
  pitch rate, capped at ``SPIN_CAP`` (the observation's velocity clip), in turns: a whole
  turn made in the air adds up to 1 (forward turning counts against);
* **air**: ``AIR_STEP`` for each step in the air (jumping is how a flip starts);
* **upright**: ``UPRIGHT_STEP`` for each step upright on the foot (``HopperPose.on_foot``),
  ``LANDED_STEP`` once the torso is a whole turn or more behind where it started (the
  unwrapped pitch at or below ``-(2π - UPRIGHT_RAD)``): standing after a backflip;
* **floor**: ``-FLOOR_STEP`` for each step the torso, thigh or leg touches the floor
  and it is not upright on the foot (lying, rolling, a flip that came down on the body;
  standing, the leg's lower end touches the floor too).

Standing still for a whole 1,000-step episode is worth 2 (``UPRIGHT_STEP`` × 1,000),
lying 5 less than nothing, each whole turn in the air 1 plus its air time, and each step
upright after a flip ``LANDED_STEP``. Without that last term (``LANDED_STEP`` =
``UPRIGHT_STEP``, the first version) the written-reward agent turned 1.1–1.2 turns in its
flights by 720k steps and came down 2 rad past upright: a turn past the landing paid more
than the landing (docs/benchmarks.md, issue 12).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlhp.behaviours.hopper import DT, TOUCH, UPRIGHT_RAD, HopperPose, hopper_body
from rlhp.labellers.base import Choice
from rlhp.rl.sim_state import get_state
from rlhp.segments import Segment

SPIN_CAP = 10.0
"""Fastest pitch rate (rad/s) the spin score counts: Hopper's observation clips its
velocities to ±10, so a reward model cannot see faster."""
AIR_STEP = 0.005
"""Score for a step in the air (a 188-step clip all in the air: ≈ 0.94)."""
UPRIGHT_STEP = 0.002
"""Score for a step upright on the foot, before any whole backward turn."""
LANDED_STEP = 0.02
"""Score for a step upright on the foot a whole turn or more behind the start."""
FLOOR_STEP = 0.005
"""What a step with the torso, thigh or leg on the floor costs."""
SUM_TIE = 0.01
"""Clip sums closer than this (a hundredth of a turn) are "about the same"."""
PITCH_RATE = 8
"""Index of the torso's pitch rate in a Hopper state (``qpos``, 6 numbers, then ``qvel``)."""


def flip_step_scores(pose: HopperPose, pitch_rate: np.ndarray) -> np.ndarray:
    """``(T,)`` each step's backflip score (the module docstring's four terms).

    Args:
        pose: the clip's poses (``HopperBody.pose``).
        pitch_rate: ``(T,)`` the torso's pitch rate (rad/s; backward is negative).
    """
    if pitch_rate.shape != pose.pitch.shape:
        raise ValueError("pitch_rate must be (T,) like the pose")
    airborne, on_foot = pose.airborne, pose.on_foot
    on_floor = (pose.body_clearance <= TOUCH) & ~on_foot  # standing, the leg's end touches too
    spin = -np.clip(pitch_rate, -SPIN_CAP, SPIN_CAP) * DT / (2 * np.pi)
    flipped = pose.pitch <= -(2 * np.pi - UPRIGHT_RAD)
    upright = np.where(flipped, LANDED_STEP, UPRIGHT_STEP)
    return np.where(airborne, spin + AIR_STEP, 0.0) + upright * on_foot - FLOOR_STEP * on_floor


def state_scores(states: np.ndarray) -> np.ndarray:
    """``(T,)`` ``flip_step_scores`` of recorded Hopper states ``(T, 12)``."""
    return flip_step_scores(hopper_body().pose(states), states[:, PITCH_RATE])


def flip_sum(segment: Segment) -> float:
    """A clip's score: its steps' scores added up (absorbing steps score 0)."""
    if segment.states is None:
        raise ValueError("the backflip score needs the clip's recorded simulator states")
    valid = ~segment.absorbing
    return float(state_scores(segment.states[valid]).sum()) if valid.any() else 0.0


def compare_flip_sums(left: Segment, right: Segment, tie: float) -> Choice:
    """The clip whose ``flip_sum`` is larger; within ``tie``: "about the same"; without
    recorded states: "can't tell"."""
    if left.states is None or right.states is None:
        return "cant_tell"
    difference = flip_sum(left) - flip_sum(right)
    if abs(difference) < tie:
        return "equal"
    return "left" if difference > 0 else "right"


def prefer_flip_sum(left: Segment, right: Segment) -> Choice:
    """The rule "which clip scores more as a backflip, step by step?" (``flip_sum``;
    within ``SUM_TIE``: "about the same"). Reads only the recorded simulator states."""
    return compare_flip_sums(left, right, SUM_TIE)


class FlipRewardEnv(gym.Wrapper):
    """Hopper whose reward is each step's backflip score (``flip_step_scores`` of the state
    the action is taken at), so that an episode's return is ``flip_sum`` of its steps.
    Hopper's own reward moves to ``info["hopper_reward"]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._state: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._state = get_state(self.env)[None]
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("FlipRewardEnv.step before reset")
        score = float(state_scores(self._state)[0])
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._state = get_state(self.env)[None]
        return obs, score, terminated, truncated, {**info, "hopper_reward": float(reward)}


def make_flip_reward_env(**kwargs: Any) -> gym.Env:
    """``rlhp/HopperBackflipReward-v5``: Hopper-v5 that never ends early, paid
    ``flip_step_scores`` (Gymnasium entry point; ``kwargs`` go to Hopper)."""
    from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

    return FlipRewardEnv(HopperEnv(terminate_when_unhealthy=False, **kwargs))
