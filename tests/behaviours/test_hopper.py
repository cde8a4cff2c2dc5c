"""Backflips counted on hand-made Hopper state sequences (qpos then qvel, 12 numbers)."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

from rlhp.behaviours.hopper import (
    DT,
    FEET_FIRST_BONUS,
    FEET_FIRST_TURN,
    FLIP_STEPS,
    JUMP_GATE,
    MAX_TURNS,
    FlipSummary,
    HopperBody,
    backflip_score,
    backflips_per_episode,
    clip_turns,
    compare_flips,
    count_backflips,
    flight_landings,
    flight_turns,
    flip_summary,
    prefer_backflip,
)
from rlhp.segments import Segment
from tests.behaviours.hopper_states import STAND_Z, TWO_PI, standing


def _airborne_turn(start: float, end: float, steps: int = 40) -> np.ndarray:
    """Rotating from ``start`` to ``end`` one metre up (the foot never touches)."""
    states = np.zeros((steps, 12))
    states[:, 1] = STAND_Z + 1.0
    states[:, 2] = np.linspace(start, end, steps + 2)[1:-1]
    return states


def _on_the_floor(body: HopperBody, pitch: np.ndarray) -> np.ndarray:
    """Lying on the floor at each ``pitch`` (legs straight): the torso placed so that the
    lowest point of torso, thigh and leg is on the floor (kinematics only: at some
    pitches the foot is then below it)."""
    states = np.zeros((len(pitch), 12))
    states[:, 2] = pitch
    states[:, 1] = -body.pose(states).body_clearance  # clearances at height 0
    return states


@pytest.fixture(scope="module")
def body() -> HopperBody:
    return HopperBody()


def test_the_pose_reads_height_pitch_and_whether_the_foot_is_down(body: HopperBody) -> None:
    states = np.concatenate([standing(0.0, 1), standing(0.0, 1), _airborne_turn(0, 0, 1)])
    states[1, 1] = 0.5  # crouched far below the healthy height
    pose = body.pose(states)
    # the foot capsule (radius 0.06) hangs 1.1 m below the torso centre when the legs are straight
    np.testing.assert_allclose(pose.foot_clearance, [-0.01, -0.71, 0.99], atol=1e-6)
    assert pose.on_foot.tolist() == [True, False, False]
    upside_down = body.pose(standing(np.pi, 1))
    assert not upside_down.on_foot[0]
    assert body.pose(standing(-TWO_PI, 1)).on_foot[0]  # a full turn is upright again


@pytest.mark.parametrize(
    ("pieces", "flips"),
    [
        # stand, turn back 2π in the air, land upright: one backflip
        ([standing(0), _airborne_turn(0, -TWO_PI), standing(-TWO_PI)], 1),
        # two in a row, each landed
        (
            [
                standing(0),
                _airborne_turn(0, -TWO_PI),
                standing(-TWO_PI),
                _airborne_turn(-TWO_PI, -2 * TWO_PI),
                standing(-2 * TWO_PI),
            ],
            2,
        ),
        # a double backflip before landing counts two
        ([standing(0), _airborne_turn(0, -2 * TWO_PI, 80), standing(-2 * TWO_PI)], 2),
        # a forward flip is not a backflip, and resets the reference
        ([standing(0), _airborne_turn(0, TWO_PI), standing(TWO_PI)], 0),
        # half a turn back and back again
        ([standing(0), _airborne_turn(0, -np.pi), _airborne_turn(-np.pi, 0), standing(0)], 0),
        # a full turn that never lands on its foot (ends up in the air)
        ([standing(0), _airborne_turn(0, -TWO_PI)], 0),
        # touching down upright for fewer than HOLD = 5 steps is no landing
        ([standing(0), _airborne_turn(0, -TWO_PI), standing(-TWO_PI, 4)], 0),
    ],
)
def test_backflips_are_counted_from_states(
    body: HopperBody, pieces: list[np.ndarray], flips: int
) -> None:
    assert backflips_per_episode([np.concatenate(pieces)], body) == [flips]


def test_the_flip_time_limit_is_in_hoppers_own_steps() -> None:
    env = gym.make("Hopper-v5")
    assert env.unwrapped.dt == pytest.approx(DT)  # type: ignore[attr-defined]
    env.close()
    assert FLIP_STEPS == 188


def test_a_turn_made_rolling_on_the_floor_or_too_slowly_is_no_backflip(body: HopperBody) -> None:
    # what a run taught by the second rule did: from standing, over backwards on the
    # floor through 2π, and up on its foot again (the first two conditions alone: 1)
    rolling = _on_the_floor(body, np.linspace(-1.0, 1.0 - TWO_PI, 300))
    assert not body.pose(rolling).aloft.any()
    states = np.concatenate([standing(0), rolling, standing(-TWO_PI)])
    assert backflips_per_episode([states], body) == [0]
    # a clean turn in the air, but slower than FLIP_SECONDS (1.5 s, 188 steps)
    slow = np.concatenate([standing(0), _airborne_turn(0, -TWO_PI, 190), standing(-TWO_PI)])
    assert backflips_per_episode([slow], body) == [0]
    quick = np.concatenate([standing(0), _airborne_turn(0, -TWO_PI, 180), standing(-TWO_PI)])
    assert backflips_per_episode([quick], body) == [1]


def test_a_full_turn_that_lands_lying_down_is_no_backflip(body: HopperBody) -> None:
    lying = standing(-TWO_PI)
    lying[:, 1] = 0.3  # torso on the floor
    states = np.concatenate([standing(0), _airborne_turn(0, -TWO_PI), lying])
    assert backflips_per_episode([states], body) == [0]


def test_count_backflips_on_pitch_and_landing_flags_alone() -> None:
    pitch = np.array([0, 0, -3, -6.2, -6.3, -6.3, 0.1])
    up = np.array([1, 1, 0, 1, 1, 1, 1], bool)
    air = np.ones(7, bool)
    assert count_backflips(pitch, up, air, hold=2) == 1
    assert count_backflips(pitch, up, air, hold=4) == 0  # the landing lasted 3 steps
    assert count_backflips(pitch[2:], up[2:], air[2:], hold=2) == 0  # the first is the reference
    assert count_backflips(pitch[2:], up[2:], air[2:], hold=2, reference=0.0) == 1
    touched = np.array([1, 1, 0, 1, 1, 1, 1], bool)  # the torso hit the floor mid-turn
    assert count_backflips(pitch, up, touched, hold=2) == 0
    assert count_backflips(pitch, up, air, hold=2, max_flight=1) == 0  # 2 steps off its foot
    assert count_backflips(pitch, up, air, hold=2, max_flight=2) == 1


def _segment(states: np.ndarray) -> Segment:
    steps = len(states)
    return Segment(
        obs=np.zeros((steps, 11), np.float32),
        actions=np.zeros((steps, 3), np.float32),
        absorbing=np.zeros(steps, bool),
        states=states,
    )


def test_the_rule_prefers_landed_flips_then_backward_turns_then_jumps(
    body: HopperBody,
) -> None:
    landed = np.concatenate([standing(0), _airborne_turn(0, -TWO_PI), standing(-TWO_PI)])
    spinning = np.concatenate([standing(0, 20), _airborne_turn(0, -np.pi)])
    jumping = standing(0, 60)
    jumping[30:35, 1] = STAND_Z + 0.3  # a hop: the foot 0.29 m clear of the floor, 5 steps
    upright = standing(0, 60)
    ranked = [landed, spinning, jumping, upright]
    scores = [backflip_score(body.pose(s)) for s in ranked]
    # 2 × 1 landed + the turn made in the air (40 of its 41 steps: the step that leaves
    # the floor is not in the air) and the bonus for coming down on the foot after it +
    # 2 × 1 m of flight (the body's lowest point, clipped) + 40/60 of the steps in the
    # air; 39/41 of half a turn + the same flight and air terms; 2 × 0.29 m + 5/60 in the
    # air; standing on its foot scores nothing
    flight_and_air = 2.0 * 1.0 + 40 / 60
    expected = [
        2 + 40 / 41 + FEET_FIRST_BONUS + flight_and_air,
        0.5 * 39 / 41 + flight_and_air,
        0.58 + 5 / 60,
        0,
    ]
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    for better, worse in itertools.pairwise(ranked):
        assert prefer_backflip(_segment(better), _segment(worse)) == "left"
        assert prefer_backflip(_segment(worse), _segment(better)) == "right"
    lying = standing(0, 60)
    lying[:, 1] = 0.3
    assert backflip_score(body.pose(lying)) == 0.0  # no better than standing, no worse
    assert prefer_backflip(_segment(upright), _segment(lying)) == "equal"
    assert prefer_backflip(_segment(upright), _segment(standing(0.2, 60))) == "equal"
    rolling = _on_the_floor(body, np.linspace(-np.pi / 2, -1.5 * np.pi, 60))  # over, lying
    assert backflip_score(body.pose(rolling)) == pytest.approx(0.0, abs=1e-9)  # on the floor
    # leaning back on its foot and pivoting further back: a turn on the floor too
    pivot = np.zeros((60, 12))
    pivot[:, 2] = np.linspace(-0.6, -1.4, 60)
    pivot[:, 1] = -body.pose(pivot).foot_clearance  # the foot on the floor
    pose = body.pose(pivot)
    assert pose.aloft.all() and not pose.airborne.any() and not pose.on_foot.any()
    assert backflip_score(pose) == pytest.approx(0.0, abs=1e-9)
    assert prefer_backflip(_segment(jumping), _segment(rolling)) == "left"
    # upside down on the floor and bouncing 10 cm off it: in the air, but no jump
    bounce = _on_the_floor(body, np.full(60, -np.pi))
    bounce[30:35, 1] += 0.1
    pose = body.pose(bounce)
    assert pose.airborne[30:35].all() and not pose.launched.any()
    assert backflip_score(pose) == 0.0
    assert body.pose(jumping).launched[30:35].all()


def test_between_two_real_jumps_the_backward_turn_decides() -> None:
    high = FlipSummary(landed=0, turns=0.0, flight=0.9, air=0.5)
    turning = FlipSummary(landed=0, turns=0.25, flight=JUMP_GATE, air=0.2)
    assert high.score > turning.score  # on the score alone the higher jump would win
    assert compare_flips(turning, high) == "left"
    assert compare_flips(high, turning) == "right"
    forwards = FlipSummary(landed=0, turns=-0.25, flight=0.9, air=0.5)
    assert compare_flips(turning, forwards) == "left"
    # below the gate, jumping decides: a low hop that turns loses to a real jump
    hop = FlipSummary(landed=0, turns=0.25, flight=0.1, air=0.05)
    assert compare_flips(high, hop) == "left"
    # turns about the same: back to the score (higher, longer), or "equal"
    assert compare_flips(high, FlipSummary(0, 0.02, 0.6, 0.4)) == "left"
    assert compare_flips(high, FlipSummary(0, 0.01, 0.9, 0.5)) == "equal"
    # a landed flip beats any jump or turn without one
    landed = FlipSummary(landed=1, turns=0.0, flight=JUMP_GATE, air=0.1)
    assert compare_flips(landed, FlipSummary(0, 1.5, 1.0, 1.0)) == "left"


def test_the_turns_of_a_clips_flights_add_up(
    body: HopperBody,
) -> None:
    # two jumps of 0.15 of a turn each (0.3 in all) against one of 0.25
    landing = standing(-0.3 * np.pi, 10)  # leaning back, only the foot on the floor
    landing[:, 1] -= body.pose(landing).foot_clearance
    pose = body.pose(landing)
    assert pose.aloft.all() and not pose.airborne.any()
    two_small = np.concatenate(
        [
            standing(0.0, 10),
            _airborne_turn(0.0, -0.3 * np.pi, 30),
            landing,
            _airborne_turn(-0.3 * np.pi, -0.6 * np.pi, 30),
            _on_the_floor(body, np.full(10, -0.6 * np.pi)),
        ]
    )
    one_larger = np.concatenate(
        [
            standing(0.0, 10),
            _airborne_turn(0.0, -0.5 * np.pi, 60),
            _on_the_floor(body, np.full(20, -0.5 * np.pi)),
        ]
    )
    small, larger = (flip_summary(body.pose(s)) for s in (two_small, one_larger))
    assert small is not None and larger is not None
    # each flight's steps turn to the next step: 30 of a 31-step climb of 0.15 turn (the
    # step that leaves the floor is not in the air), twice
    assert small.turns == pytest.approx(2 * 0.15 * 30 / 31, abs=1e-9)
    assert larger.turns == pytest.approx(0.25 * 60 / 61, abs=1e-9)
    assert min(small.flight, larger.flight) >= JUMP_GATE  # real jumps: the turn decides
    assert prefer_backflip(_segment(two_small), _segment(one_larger)) == "left"
    # per flight, in order; forward turns are negative; no flight, no turns
    pitch = np.array([0.0, 0.0, -1.0, -2.0, -2.0, -2.0, -1.5, -2.0])
    flying = np.array([False, True, True, False, False, True, True, False])
    np.testing.assert_allclose(flight_turns(pitch, flying), [2 / (2 * np.pi), 0.0])
    np.testing.assert_allclose(flight_turns(pitch[:5], flying[:5]), [2 / (2 * np.pi)])
    assert flight_turns(pitch, np.zeros(8, bool)).size == 0


def test_most_of_a_turn_that_comes_down_on_the_foot_adds_a_bonus(
    body: HopperBody,
) -> None:
    def credit(turns: list[float], foot: list[bool]) -> float:
        return clip_turns(np.array(turns), np.array(foot, bool))

    bonus = FEET_FIRST_BONUS
    assert credit([0.5, 0.3], [True, True]) == pytest.approx(0.8)  # no flight ≥ 0.75
    assert credit([0.74], [True]) == pytest.approx(0.74)
    assert credit([FEET_FIRST_TURN], [True]) == pytest.approx(FEET_FIRST_TURN + bonus)
    assert credit([0.9], [False]) == pytest.approx(0.9)  # not on the foot
    assert credit([0.5, 0.5], [True, True]) == pytest.approx(1.0)  # the sum, no bonus
    assert credit([1.2, 0.6], [False, False]) == MAX_TURNS
    assert credit([1.2, 0.6], [True, False]) == MAX_TURNS + bonus
    assert credit([-0.8], [False]) == -0.5
    assert credit([], []) == 0.0
    # most of a turn feet first beats any turning that comes down on the body
    assert credit([FEET_FIRST_TURN], [True]) > MAX_TURNS
    # flights end where the next step is not in a jump; the foot-first check reads that step
    flying = np.array([False, True, True, False, True, True, False, True])
    aloft = np.array([True, False, False, True, False, False, False, False])
    np.testing.assert_array_equal(flight_landings(flying, aloft), [True, False, False])
    # a whole turn in the air (1.08 to the step that touches) that comes down on the
    # body, leaning 0.2π past upright: one whole turn, no bonus
    on_the_body = np.concatenate(
        [
            standing(0.0, 10),
            _airborne_turn(0.0, -TWO_PI, 60),
            _on_the_floor(body, np.full(10, -2.2 * np.pi)),
        ]
    )
    pose = body.pose(on_the_body)
    assert not pose.aloft[70]
    np.testing.assert_allclose(flight_turns(pose.pitch, pose.launched), [1.1 - 1 / 61], atol=1e-9)
    summary = flip_summary(pose)
    assert summary is not None and summary.landed == 0
    assert summary.turns == pytest.approx(1.1 - 1 / 61)


def test_a_clip_that_starts_mid_flip_counts_the_flip_when_it_lands(body: HopperBody) -> None:
    second_half = np.concatenate([_airborne_turn(-np.pi, -TWO_PI, 20), standing(-TWO_PI)])
    score = backflip_score(body.pose(second_half))
    # landed from the upright pitch 0 it left, half a turn seen, 1 m of flight (clipped),
    # in the air 20 of 30 steps
    assert score == pytest.approx(2 + 0.5 * 20 / 21 + 2.0 + 20 / 30, abs=0.01)
