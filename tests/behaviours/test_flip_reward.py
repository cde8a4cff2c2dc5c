"""The per-step backflip score on hand-made Hopper states, the rule over its sums, and the
environment that pays it (the same numbers as the rule reads from recorded states)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlhp.rl.presets  # noqa: F401  (registers rlhp/HopperBackflipReward-v5)
from rlhp.behaviours.flip_reward import (
    AIR_STEP,
    FLOOR_STEP,
    LANDED_STEP,
    PITCH_RATE,
    SPIN_CAP,
    SUM_TIE,
    UPRIGHT_STEP,
    flip_sum,
    prefer_flip_sum,
    state_scores,
)
from rlhp.behaviours.hopper import DT
from rlhp.rl.presets import segment_length, task_config
from rlhp.rl.sim_state import get_state
from rlhp.segments import Segment
from tests.behaviours.hopper_states import STAND_Z, TWO_PI, standing


def _turning_in_the_air(turns: float, steps: int) -> np.ndarray:
    """``turns`` backward whole turns at a steady rate, a metre up."""
    rate = -TWO_PI * turns / (steps * DT)
    states = np.zeros((steps, 12))
    states[:, 1] = STAND_Z + 1.0
    states[:, 2] = rate * DT * np.arange(steps)
    states[:, PITCH_RATE] = rate
    return states


def _lying(steps: int) -> np.ndarray:
    states = np.zeros((steps, 12))
    states[:, 1] = 0.05  # torso centre 5 cm up, legs straight out along the floor
    states[:, 2] = np.pi / 2
    return states


def _segment(states: np.ndarray, absorbing: np.ndarray | None = None) -> Segment:
    steps = len(states)
    return Segment(
        obs=np.zeros((steps, 11), np.float32),
        actions=np.zeros((steps, 3), np.float32),
        absorbing=np.zeros(steps, bool) if absorbing is None else absorbing,
        states=states,
    )


def test_a_whole_turn_in_the_air_adds_up_to_one_plus_its_air_time() -> None:
    scores = state_scores(_turning_in_the_air(1.0, 125))
    assert scores.sum() == pytest.approx(1.0 + 125 * AIR_STEP)
    # forward turning counts against
    forward = _turning_in_the_air(-0.5, 100)
    assert state_scores(forward).sum() == pytest.approx(-0.5 + 100 * AIR_STEP)


def test_the_spin_counts_at_most_the_observations_velocity_clip() -> None:
    fast = _turning_in_the_air(1.0, 125)
    fast[:, PITCH_RATE] = -3 * SPIN_CAP
    per_step = SPIN_CAP * DT / TWO_PI + AIR_STEP
    np.testing.assert_allclose(state_scores(fast), per_step)


def test_standing_earns_the_upright_step_and_lying_costs_the_floor_step() -> None:
    np.testing.assert_allclose(state_scores(standing()), UPRIGHT_STEP)
    # upright again after a whole backward turn (or two): a landed backflip
    np.testing.assert_allclose(state_scores(standing(-TWO_PI)), LANDED_STEP)
    np.testing.assert_allclose(state_scores(standing(-2 * TWO_PI + 0.4)), LANDED_STEP)
    np.testing.assert_allclose(state_scores(standing(TWO_PI)), UPRIGHT_STEP)  # forward
    upside_down = standing(np.pi)  # legs up, nothing touching: in the air, not upright
    np.testing.assert_allclose(state_scores(upside_down), AIR_STEP)
    lying = _lying(10)
    lying[:, PITCH_RATE] = -5.0  # rolling backwards on the floor earns no spin
    np.testing.assert_allclose(state_scores(lying), -FLOOR_STEP)


def test_the_rule_prefers_the_larger_sum_and_is_antisymmetric() -> None:
    flip = _segment(
        np.concatenate([standing(steps=30), _turning_in_the_air(1.0, 125), standing(steps=33)])
    )
    stand = _segment(standing(steps=188))
    lie = _segment(_lying(188))
    assert flip_sum(stand) == pytest.approx(188 * UPRIGHT_STEP)
    assert prefer_flip_sum(flip, stand) == "left"
    assert prefer_flip_sum(stand, flip) == "right"
    assert prefer_flip_sum(lie, stand) == "right"
    assert prefer_flip_sum(stand, _segment(standing(steps=188))) == "equal"
    # within SUM_TIE is "about the same"
    nearly = _segment(standing(steps=188 - int(SUM_TIE / UPRIGHT_STEP) + 1))
    assert prefer_flip_sum(stand, nearly) == "equal"


def test_absorbing_steps_score_nothing_and_no_states_cannot_be_told() -> None:
    ended = np.zeros(188, bool)
    ended[100:] = True
    stand = standing(steps=188)
    assert flip_sum(_segment(stand, ended)) == pytest.approx(100 * UPRIGHT_STEP)
    no_states = Segment(
        obs=np.zeros((5, 11), np.float32),
        actions=np.zeros((5, 3), np.float32),
        absorbing=np.zeros(5, bool),
    )
    assert prefer_flip_sum(no_states, _segment(standing(steps=5))) == "cant_tell"


def test_the_env_pays_each_step_the_score_of_the_state_the_action_is_taken_at() -> None:
    env = gym.make("rlhp/HopperBackflipReward-v5")
    env.reset(seed=3)
    env.action_space.seed(3)
    states, rewards, hopper = [], [], []
    for _ in range(300):
        states.append(get_state(env))
        _, reward, terminated, _truncated, info = env.step(env.action_space.sample())
        rewards.append(reward)
        hopper.append(info["hopper_reward"])
        assert not terminated  # Hopper without the unhealthy-angle termination
    env.close()
    np.testing.assert_allclose(rewards, state_scores(np.stack(states)), atol=1e-12)
    assert np.any(np.asarray(rewards) < 0)  # random actions fall over onto the floor
    assert not np.allclose(rewards, hopper)


def test_the_written_reward_task_has_the_no_termination_preset() -> None:
    config = task_config("rlhp/HopperBackflipReward-v5")
    base = task_config("rlhp/HopperNoTermination-v5")
    assert segment_length("rlhp/HopperBackflipReward-v5") == 188
    assert config.agent == base.agent
