"""Half-Cheetah running forward on one leg (paper §3.2): the measure and the rule.

A galloping cheetah also has moments on one foot (back foot, flight, front foot), so
"on one leg" is judged over a window: a step is on one leg when, in the last
``WINDOW`` steps (0.5 s), the floor was touched by one leg only — back (thigh, shin,
foot) or front — and never by the torso or head. Forward speed is ``qvel[0]`` (the
root's x velocity, m/s), the same quantity Gymnasium's forward reward uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rlhp.behaviours.body import Body
from rlhp.labellers.base import Choice
from rlhp.segments import Segment

ENV_ID = "HalfCheetah-v5"
BACK = ("bthigh", "bshin", "bfoot")
FRONT = ("fthigh", "fshin", "ffoot")
TRUNK = ("torso", "head")
TOUCH = 0.03
"""Clearance (m) that counts as touching the floor."""
WINDOW = 10
"""Steps (0.5 s at Half-Cheetah's 20 steps/s) over which only one leg may touch."""
TIE = 0.05
"""Rule scores closer than this are "about the same"."""


@dataclass(frozen=True)
class CheetahContacts:
    """Which parts touch the floor at each step, and how fast the cheetah moves.

    Attributes:
        back: ``(T,)`` bool, the back leg touches the floor.
        front: ``(T,)`` bool, the front leg touches it.
        trunk: ``(T,)`` bool, the torso or head touches it.
        speed: ``(T,)`` forward velocity (m/s).
    """

    back: np.ndarray
    front: np.ndarray
    trunk: np.ndarray
    speed: np.ndarray

    def __post_init__(self) -> None:
        if not self.back.shape == self.front.shape == self.trunk.shape == self.speed.shape:
            raise ValueError("contact arrays must all be (T,)")


class CheetahBody:
    """Turns recorded Half-Cheetah states ``(T, 18)`` into ``CheetahContacts``."""

    def __init__(self, env_id: str = ENV_ID) -> None:
        self.body = Body(env_id)
        self._geoms = self.body.geom_ids(BACK + FRONT + TRUNK)

    def contacts(self, states: np.ndarray) -> CheetahContacts:
        touch = self.body.clearances(states, self._geoms) <= TOUCH
        n_back, n_front = len(BACK), len(FRONT)
        return CheetahContacts(
            back=np.any(touch[:, :n_back], axis=1),
            front=np.any(touch[:, n_back : n_back + n_front], axis=1),
            trunk=np.any(touch[:, n_back + n_front :], axis=1),
            speed=states[:, self.body.nq].copy(),
        )


def one_leg_steps(contacts: CheetahContacts, window: int = WINDOW) -> np.ndarray:
    """``(T,)`` bool: in the ``window`` steps up to and including t (fewer at the start),
    exactly one leg touched the floor and the trunk never did."""

    def seen(touch: np.ndarray) -> np.ndarray:
        counts = np.cumsum(touch.astype(np.int64))
        before = np.concatenate([np.zeros(window, np.int64), counts])[: len(counts)]
        return counts - before > 0

    back, front, trunk = seen(contacts.back), seen(contacts.front), seen(contacts.trunk)
    return (back != front) & ~trunk


def one_leg_score(contacts: CheetahContacts) -> float:
    """How much one clip shows "forward on one leg"; the rule compares two of these.

    ``s × (0.5 + v⁺/4) + 0.05 × v``, with s the share of steps on one leg, v the mean
    forward speed clipped to [-2, 6] m/s and v⁺ the same clipped to [0, 4]: on one leg
    comes first (standing on one leg, 0.5, beats galloping at 6 m/s, 0.3), then speed.
    """
    if len(contacts.speed) == 0:
        return -1.0
    share = float(one_leg_steps(contacts).mean())
    speed = float(np.clip(contacts.speed.mean(), -2.0, 6.0))
    return share * (0.5 + float(np.clip(speed, 0.0, 4.0)) / 4) + 0.05 * speed


@functools.cache
def _cheetah() -> CheetahBody:
    return CheetahBody()


def _valid(segment: Segment) -> np.ndarray:
    assert segment.states is not None
    return segment.states[~segment.absorbing]


def prefer_one_leg(left: Segment, right: Segment) -> Choice:
    """The comparison rule "which clip runs forward on one leg more?" for Half-Cheetah.

    Reads only the simulator states recorded with each clip.
    """
    if left.states is None or right.states is None:
        return "cant_tell"
    body = _cheetah()
    scores = [one_leg_score(body.contacts(_valid(s))) for s in (left, right)]
    if abs(scores[0] - scores[1]) < TIE:
        return "equal"
    return "left" if scores[0] > scores[1] else "right"


@dataclass(frozen=True)
class OneLegMeasure:
    """Half-Cheetah's behaviour over some episodes (what the benchmarks report)."""

    one_leg_share: float
    """Share of all steps on one leg (``one_leg_steps``)."""
    forward_speed: float
    """Mean forward velocity over all steps (m/s)."""
    per_episode_share: tuple[float, ...]


def measure_one_leg(episodes: list[np.ndarray], body: CheetahBody | None = None) -> OneLegMeasure:
    """The one-leg share and forward speed of episodes given as states ``(L, 18)``."""
    body = body or CheetahBody()
    shares, steps, speeds = [], [], []
    for states in episodes:
        contacts = body.contacts(states)
        on_one = one_leg_steps(contacts)
        shares.append(float(on_one.mean()))
        steps.append(on_one)
        speeds.append(contacts.speed)
    return OneLegMeasure(
        one_leg_share=float(np.concatenate(steps).mean()),
        forward_speed=float(np.concatenate(speeds).mean()),
        per_episode_share=tuple(shares),
    )
