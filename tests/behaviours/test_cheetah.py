"""The one-leg measure on hand-made Half-Cheetah states (qpos then qvel, 18 numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from rlhp.behaviours.cheetah import (
    CheetahBody,
    CheetahContacts,
    measure_one_leg,
    one_leg_score,
    one_leg_steps,
    prefer_one_leg,
)
from rlhp.segments import Segment


def _pose(rootz: float, pitch: float, steps: int, speed: float = 0.0) -> np.ndarray:
    states = np.zeros((steps, 18))
    states[:, 1] = rootz
    states[:, 2] = pitch
    states[:, 9] = speed  # qvel[0], the forward velocity
    return states


# Measured once from the model: with the joints at 0, pitching the torso by +0.1 rad
# (nose down) at rootz -0.08 puts the front foot 2.8 cm into the floor and the back foot
# 5.6 cm above it; -0.1 rad the other way round. At rootz -0.1 both feet touch; on its
# back (pitch π) at rootz -0.55 the head is in the floor and both legs point up.
BACK_ONLY = (-0.08, -0.1)
FRONT_ONLY = (-0.08, 0.1)
BOTH = (-0.1, 0.0)
ON_ITS_BACK = (-0.55, np.pi)
IN_THE_AIR = (1.0, 0.0)


@pytest.fixture(scope="module")
def body() -> CheetahBody:
    return CheetahBody()


@pytest.mark.parametrize(
    ("pose", "touching"),
    [
        (BACK_ONLY, (True, False, False)),
        (FRONT_ONLY, (False, True, False)),
        (BOTH, (True, True, False)),
        (ON_ITS_BACK, (False, False, True)),
        (IN_THE_AIR, (False, False, False)),
    ],
)
def test_contacts_from_hand_made_poses(
    body: CheetahBody, pose: tuple[float, float], touching: tuple[bool, bool, bool]
) -> None:
    contacts = body.contacts(_pose(*pose, steps=1, speed=2.5))
    assert (contacts.back[0], contacts.front[0], contacts.trunk[0]) == touching
    assert contacts.speed[0] == 2.5


def _contacts(back: str, front: str, trunk: str | None = None) -> CheetahContacts:
    flags = [np.array([c == "x" for c in s]) for s in (back, front, trunk or "." * len(back))]
    return CheetahContacts(*flags, speed=np.zeros(len(back)))


def test_one_leg_steps_are_judged_over_the_window() -> None:
    # galloping: back foot, flight, front foot, flight … each leg touches every 4 steps
    gallop = _contacts("x...x...x...", "..x...x...x.")
    assert one_leg_steps(gallop, window=4).tolist() == [True, True] + [False] * 10
    assert one_leg_steps(gallop, window=3)[3]  # a window shorter than the stride misses it
    # hopping on the back leg, flights included: on one leg throughout
    hop = _contacts("xx..xx..xx..", "............")
    assert one_leg_steps(hop, window=3).all()
    # both legs down for one step: the window after it is not on one leg
    both = _contacts("xxxxxxxx", "...x....")
    assert one_leg_steps(both, window=3).tolist() == [1, 1, 1, 0, 0, 0, 1, 1]
    # the trunk on the floor spoils the window too; all in the air is not on one leg
    trunk = _contacts("xxxxxx", "......", "..x...")
    assert one_leg_steps(trunk, window=2).tolist() == [1, 1, 0, 0, 1, 1]
    assert not one_leg_steps(_contacts("....", "....")).any()


def test_measure_on_a_hand_made_episode(body: CheetahBody) -> None:
    # 30 steps on the back leg at 2 m/s, 10 on both at 4 m/s, then 20 on the front leg still
    episode = np.concatenate(
        [_pose(*BACK_ONLY, 30, 2.0), _pose(*BOTH, 10, 4.0), _pose(*FRONT_ONLY, 20, 0.0)]
    )
    measure = measure_one_leg([episode], body)
    # on one leg: the 30 back-leg steps, and the front-leg steps once the window (10) has
    # no both-legs step left in it: 11 of 20
    assert measure.one_leg_share == pytest.approx((30 + 11) / 60)
    assert measure.forward_speed == pytest.approx((30 * 2 + 10 * 4) / 60)


def _segment(states: np.ndarray) -> Segment:
    steps = len(states)
    return Segment(
        obs=np.zeros((steps, 17), np.float32),
        actions=np.zeros((steps, 6), np.float32),
        absorbing=np.zeros(steps, bool),
        states=states,
    )


def test_the_rule_prefers_one_leg_then_speed(body: CheetahBody) -> None:
    hopping_forward = _pose(*BACK_ONLY, 30, 2.0)
    standing_on_one = _pose(*FRONT_ONLY, 30, 0.0)
    galloping = _pose(*BOTH, 30, 6.0)
    scores = [
        one_leg_score(body.contacts(s)) for s in (hopping_forward, standing_on_one, galloping)
    ]
    np.testing.assert_allclose(scores, [1.0 + 0.1, 0.5, 0.3])
    assert prefer_one_leg(_segment(hopping_forward), _segment(galloping)) == "left"
    assert prefer_one_leg(_segment(galloping), _segment(standing_on_one)) == "right"
    assert (
        prefer_one_leg(_segment(standing_on_one), _segment(_pose(*BACK_ONLY, 30, 0.1))) == "equal"
    )
