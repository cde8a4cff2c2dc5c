"""Hopper backflips (paper §3.2, "novel behaviours"): the measure and the comparison rule.

The torso's pitch is Hopper's ``qpos[2]`` (the ``rooty`` hinge: unbounded, so a full
turn shows as 2π). Positive pitch tips the torso forward (towards +x, where Hopper
faces), so a *backward* rotation makes it smaller. A clean backflip is a backward
rotation of at least 2π that ends upright on its foot:

* **upright on its foot** (``on_foot``): the torso within ``UPRIGHT_RAD`` of vertical
  (pitch modulo 2π), its centre at least ``MIN_HEIGHT`` above the floor, and the foot
  touching the floor (clearance ≤ ``TOUCH``);
* **landed**: upright on its foot for ``HOLD`` consecutive steps;
* **in the air**: between two landings nothing but the foot touched the floor (torso,
  thigh and leg clear of it by more than ``TOUCH``), for at most ``FLIP_SECONDS``;
* each landing is compared with the previous one: a pitch ≈ 2πk lower, turned in the
  air, is k backflips; a pitch 2πk higher (forward flips), or a turn made rolling on the
  floor, counts nothing; either way the landing becomes the new reference
  (``count_backflips``).

The "in the air" condition came from a run that satisfied the first two alone: it
rolled and writhed on the floor for 4-5 s (torso down to 0.04 m) and stood up once,
2π lower, in every episode (docs/benchmarks.md, issue 12).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rlhp.behaviours.body import Body
from rlhp.labellers.base import Choice
from rlhp.segments import Segment

ENV_ID = "Hopper-v5"
UPRIGHT_RAD = 0.5
"""How far (radians) from vertical the torso may lean and still count as upright."""
MIN_HEIGHT = 0.7
"""Lowest torso height (m) that is standing, not lying (Gymnasium's healthy z)."""
TOUCH = 0.05
"""Foot clearance (m) that counts as touching the floor (standing still: 0.04 or less)."""
HOLD = 5
"""Consecutive steps (40 ms at Hopper's 125 steps/s) upright on its foot that are a landing."""
FLIP_SECONDS = 1.5
"""Longest time (s) from leaving the last landing to the next that can hold a backflip
(the paper's 1.5 s clips hold one)."""
DT = 0.008
"""Seconds per Hopper step (frame skip 4 × 2 ms; ``tests/behaviours`` checks it against
the env). A literal, so that loading a rule does not import the presets and torch."""
FLIP_STEPS = round(FLIP_SECONDS / DT)
"""``FLIP_SECONDS`` in Hopper steps (188)."""
FLIGHT_WEIGHT = 2.0
"""Score per metre of flight in ``FlipSummary.score``: the most the whole body (foot
included) is clear of the floor, at most 1 m."""
AIR_WEIGHT = 1.0
"""Score for a clip spent entirely in the air (nothing touching the floor), pro rata."""
JUMP_GATE = 0.3
"""Flight (m) from which a clip is a real jump: between two such clips the backward turn
decides (``compare_flips``)."""
MAX_TURNS = 1.5
"""Most backward turns (of a full turn) a clip's flights are credited with together."""
FEET_FIRST_TURN = 0.75
"""Backward turn (of a full turn) in one flight from which coming down on the foot earns
``FEET_FIRST_BONUS`` (``clip_turns``)."""
FEET_FIRST_BONUS = 1.0
"""What coming down on the foot after ``FEET_FIRST_TURN`` or more in one flight adds to a
clip's turns: more than ``MAX_TURNS − FEET_FIRST_TURN``, so most of a turn feet first
(≥ 1.75) beats any turning that comes down on the body (≤ 1.5)."""
TURN_TIE = 0.05
"""Backward turns (of a full turn) closer than this are "about the same"."""
TIE = 0.02
"""Rule scores closer than this are "about the same"."""


@dataclass(frozen=True)
class HopperPose:
    """What a clip of Hopper shows at each step.

    Attributes:
        pitch: ``(T,)`` torso pitch in radians, unwrapped (backward rotation lowers it).
        height: ``(T,)`` torso height (m).
        foot_clearance: ``(T,)`` height of the foot's lowest point above the floor (m).
        body_clearance: ``(T,)`` height of the lowest point of the torso, thigh and leg.
    """

    pitch: np.ndarray
    height: np.ndarray
    foot_clearance: np.ndarray
    body_clearance: np.ndarray

    def __post_init__(self) -> None:
        shapes = {a.shape for a in (self.height, self.foot_clearance, self.body_clearance)}
        if shapes != {self.pitch.shape}:
            raise ValueError("pose arrays must all be (T,)")

    @property
    def aloft(self) -> np.ndarray:
        """``(T,)`` bool: upright on its foot, or nothing but the foot touches the floor
        (standing on it, the leg's lower end is within ``TOUCH`` of the floor too)."""
        return (self.body_clearance > TOUCH) | self.on_foot

    @property
    def airborne(self) -> np.ndarray:
        """``(T,)`` bool: nothing touches the floor, not even the foot."""
        return (self.body_clearance > TOUCH) & (self.foot_clearance > TOUCH)

    @property
    def launched(self) -> np.ndarray:
        """``(T,)`` bool: airborne in a flight that left the floor from the foot (at the
        last step that touched, ``aloft``): a jump, not a bounce off the torso or leg of a
        Hopper lying on the floor. A flight the clip starts in counts."""
        airborne, aloft = self.airborne, self.aloft
        touched = np.maximum.accumulate(np.where(airborne, -1, np.arange(len(airborne))))
        from_foot = np.where(touched >= 0, aloft[np.maximum(touched, 0)], True)
        return airborne & from_foot

    @property
    def on_foot(self) -> np.ndarray:
        """``(T,)`` bool: upright on its foot."""
        lean = np.angle(np.exp(1j * self.pitch))  # pitch wrapped to (-π, π]
        return (
            (np.abs(lean) <= UPRIGHT_RAD)
            & (self.height >= MIN_HEIGHT)
            & (self.foot_clearance <= TOUCH)
        )


class HopperBody:
    """Turns recorded Hopper states into ``HopperPose``s (one MuJoCo model, reused)."""

    def __init__(self, env_id: str = ENV_ID) -> None:
        self.body = Body(env_id)
        self._geoms = self.body.geom_ids(("foot_geom", "torso_geom", "thigh_geom", "leg_geom"))

    def pose(self, states: np.ndarray) -> HopperPose:
        """The pose of ``states`` ``(T, 12)`` (``qpos`` then ``qvel``)."""
        clearance = self.body.clearances(states, self._geoms)
        return HopperPose(
            pitch=states[:, 2].copy(),
            height=states[:, 1].copy(),
            foot_clearance=clearance[:, 0],
            body_clearance=clearance[:, 1:].min(axis=1),
        )


def count_backflips(
    pitch: np.ndarray,
    on_foot: np.ndarray,
    aloft: np.ndarray,
    hold: int = HOLD,
    reference: float | None = None,
    max_flight: int = FLIP_STEPS,
) -> int:
    """Clean backflips in one trajectory: ≥ 2π backward in the air, then landed upright
    on its foot.

    Args:
        pitch: ``(T,)`` unwrapped torso pitch.
        on_foot: ``(T,)`` bool, upright on its foot at each step.
        aloft: ``(T,)`` bool, nothing but the foot touches the floor.
        hold: consecutive ``on_foot`` steps that make a landing.
        reference: pitch of the last landing before the trajectory starts; None: the
            first landing in it (an episode starts standing).
        max_flight: most steps from one landing to the next that can hold a flip.
    """
    flips, run = 0, 0
    clean, flight = True, 0  # since the last landed step: only the foot touched; steps since
    for angle, up, air in zip(pitch, on_foot, aloft, strict=True):
        run = run + 1 if up else 0
        if run < hold:
            clean, flight = clean and bool(air), flight + 1
            continue
        if reference is None:
            reference = float(angle)
        turns = round((reference - float(angle)) / (2 * np.pi))
        if turns != 0:
            if clean and flight <= max_flight:
                flips += max(turns, 0)
            reference = float(angle)
        clean, flight = True, 0
    return flips


@dataclass(frozen=True)
class FlipSummary:
    """What a clip shows of a backflip.

    Attributes:
        landed: clean backflips landed (``count_backflips``).
        turns: what the clip's flights turned backwards, as ``clip_turns`` credits it:
            their sum (net of forward turning; 0 without a flight) to ``MAX_TURNS``, plus
            ``FEET_FIRST_BONUS`` if one flight turned most of a turn and came down on
            the foot.
        flight: the most the body's lowest point rose above the floor in a jump (m, at
            most 1).
        air: share of the clip's steps in a jump.
    """

    landed: int
    turns: float
    flight: float
    air: float

    @property
    def score(self) -> float:
        """``2 × landed + turns + FLIGHT_WEIGHT × flight + AIR_WEIGHT × air``."""
        return 2.0 * self.landed + self.turns + FLIGHT_WEIGHT * self.flight + AIR_WEIGHT * self.air


def flight_turns(pitch: np.ndarray, flying: np.ndarray) -> np.ndarray:
    """Backward turns (of a full turn, net of forward turning) made in each flight.

    Args:
        pitch: ``(T,)`` unwrapped torso pitch.
        flying: ``(T,)`` bool, in a jump at each step (``HopperPose.launched``); a flight
            is a run of consecutive True steps, and its turn counts the pitch change from
            each of its steps to the next.

    Returns:
        ``(F,)``, one per flight, in order.
    """
    starts = flying & ~np.concatenate([[False], flying[:-1]])
    ids = np.cumsum(starts) - 1
    moving = flying[:-1]
    turned = np.bincount(
        ids[:-1][moving], weights=-np.diff(pitch)[moving], minlength=int(starts.sum())
    )
    return turned / (2 * np.pi)


def flight_ends(flying: np.ndarray) -> np.ndarray:
    """``(F,)`` the last step of each flight (as in ``flight_turns``), in order."""
    return np.flatnonzero(flying & ~np.concatenate([flying[1:], [False]]))


def flight_landings(flying: np.ndarray, aloft: np.ndarray) -> np.ndarray:
    """Whether each flight came down on the foot: at the first step after it, nothing but
    the foot touches the floor (``HopperPose.aloft``). A flight still going at the clip's
    end did not (its landing is not seen).

    Args:
        flying: ``(T,)`` bool, in a jump at each step (flights as in ``flight_turns``).
        aloft: ``(T,)`` bool.

    Returns:
        ``(F,)`` bool, one per flight, in order.
    """
    after = flight_ends(flying) + 1
    seen = after < len(flying)
    return seen & aloft[np.minimum(after, len(flying) - 1)]


def clip_turns(turns: np.ndarray, on_foot_down: np.ndarray) -> float:
    """What a clip's flights are worth towards a flip: their backward turns added up
    (net of forward ones; at most ``MAX_TURNS``, at least -0.5), plus ``FEET_FIRST_BONUS``
    if one flight turned ``FEET_FIRST_TURN`` or more and came down on the foot.

    Args:
        turns: ``(F,)`` backward turns, one per flight (``flight_turns``).
        on_foot_down: ``(F,)`` bool, each flight came down on the foot (``flight_landings``).

    The sum, not the largest flight (rules 9-11), because the sum is what grew into whole
    turns in one flight on Hopper (the eighth rule's run); the bonus on top, not a cap on
    turns that do not land, so that the way to a whole turn stays open (the tenth rule
    closed it)."""
    feet_first = bool((on_foot_down & (turns >= FEET_FIRST_TURN)).any())
    total = float(np.clip(turns.sum(), -0.5, MAX_TURNS))
    return total + (FEET_FIRST_BONUS if feet_first else 0.0)


def flip_summary(pose: HopperPose, valid: np.ndarray | None = None) -> FlipSummary | None:
    """The ``FlipSummary`` of one clip; None if it has no valid step.

    "In the air" is a jump (``HopperPose.launched``: nothing touching the floor, not even
    the foot, since it left the floor from the foot), so bounces off the floor do not
    count: random Hopper clips, flailing on the floor, leave it for a step or two in most
    1.5 s clips, and a rule that paid for that would teach bouncing on the floor.

    The reference for landings is the upright pitch the clip starts nearest to, or, if
    it starts upside down, the one above it: a clip that starts mid-flip counts that flip
    when it lands. ``valid``: ``(T,)`` bool, steps that are not absorbing (default: all).
    """
    keep = np.ones(pose.pitch.shape, bool) if valid is None else valid
    pitch, up, aloft = pose.pitch[keep], pose.on_foot[keep], pose.aloft[keep]
    flying = pose.launched[keep]
    if len(pitch) == 0:
        return None
    start = float(pitch[0])
    turn = start / (2 * np.pi)
    upside_down = abs(np.angle(np.exp(1j * start))) > np.pi / 2
    reference = 2 * np.pi * (np.ceil(turn) if upside_down else np.round(turn))
    lowest = np.minimum(pose.foot_clearance[keep], pose.body_clearance[keep])[flying]
    per_flight = flight_turns(pitch, flying)
    return FlipSummary(
        landed=count_backflips(pitch, up, aloft, reference=float(reference)),
        turns=clip_turns(per_flight, flight_landings(flying, aloft)),
        flight=float(np.clip(lowest.max(), 0.0, 1.0)) if flying.any() else 0.0,
        air=float(flying.mean()),
    )


def backflip_score(pose: HopperPose, valid: np.ndarray | None = None) -> float:
    """``FlipSummary.score`` of one clip (-1 for a clip with no valid step)."""
    summary = flip_summary(pose, valid)
    return -1.0 if summary is None else summary.score


def compare_flips(left: FlipSummary, right: FlipSummary) -> Choice:
    """Which of two clips is more of a backflip, as a person teaching one would judge.

    More landed flips wins. Between two real jumps (both at least ``JUMP_GATE`` high),
    the one that turned further backwards in the air wins, however high either went.
    Otherwise the higher ``FlipSummary.score`` wins: landed flips, then turns, flight
    height and time in the air; standing and lying both score 0, so only jumping (what a
    flip starts with) scores at all.

    Each earlier rule taught the policy its loophole (docs/benchmarks.md, issue 12). The
    first counted rolling over, and Hopper fell backwards and rolled; the second counted
    turns made with the torso 0.7 m up and landings after any 2π, and it writhed on the
    floor and stood up 2π lower; a third counted turns with only the foot on the floor,
    and it lay propped on its foot and pivoted. The fourth and fifth credited airborne
    turns only, with 0.25 for a clip upright on its foot and a jump worth 0.25 or 1 per
    metre of torso height above standing tall, and both stood still: standing was a safe
    0.25, and the clips near it differed by a few centimetres. The sixth was the score
    alone: by 600k steps it jumped 8-11 times an episode, up to 0.87 m, in the air 42-49 %
    of the time, turning as much forwards as backwards. The seventh weighted turns twice
    a full jump and counted flight to 0.5 m only: it jumped backwards once, from the start
    of each episode, and lay on the floor for the rest (307k steps). Hence the gate: jump
    first, and once both clips jump, turn. With it, a run (1M steps) jumped 10-15 times an
    episode, up to 1.1 m, and turned backwards in the air 2-2.7 turns an episode, still
    growing, though no single flight yet held a whole turn; at 3M steps it was in the
    air 82-84 % of the time, most jumps turning a fraction of a turn, with no flip. The
    turn was then the clip's sum over its flights, so two small turns beat one larger:
    it is now the largest turn in one flight (the ninth rule), which is what grows into
    a flip. The eighth rule's 3M-step policy did make whole turns in one flight (1.0,
    1.04, 1.23 in three episodes), and landed none upright: two came down on the body,
    the third on the foot a quarter turn over. So the tenth rule counted a flight's turn
    towards one whole turn (``min(t, 2 − t)``) and past 0.75 only if it came down on the
    foot: at 2.66M steps its flights turned half a turn, no more, and came down on the
    head. Capping the turn of flights that did not land closed the way to a whole turn
    that the eighth rule had opened. The eleventh paid each flight's turn up to one whole
    turn however it ended, plus 0.5 for coming down on the foot after most of one; it
    answered every one of the tenth run's pairs as the tenth had, and its run (3M steps)
    was the tenth's again. Rules 9-11, the largest turn in one flight, never grew a
    flight past half a turn; the eighth's sum did. The twelfth (``clip_turns``) is the
    eighth's sum with a bonus on top for most of a turn that comes down on the foot.
    """
    if left.landed != right.landed:
        return "left" if left.landed > right.landed else "right"
    if min(left.flight, right.flight) >= JUMP_GATE and abs(left.turns - right.turns) >= TURN_TIE:
        return "left" if left.turns > right.turns else "right"
    if abs(left.score - right.score) < TIE:
        return "equal"
    return "left" if left.score > right.score else "right"


@functools.cache
def hopper_body() -> HopperBody:
    """One ``HopperBody`` per process (its MuJoCo model is reused for every state)."""
    return HopperBody()


def prefer_backflip(left: Segment, right: Segment) -> Choice:
    """The comparison rule "which clip is more of a clean backflip?" for Hopper
    (``compare_flips``). Reads only the simulator states recorded with each clip."""
    if left.states is None or right.states is None:
        return "cant_tell"
    body = hopper_body()
    summaries = [
        flip_summary(body.pose(s.states), ~s.absorbing)  # type: ignore[arg-type]
        for s in (left, right)
    ]
    first, second = summaries
    if first is None or second is None:  # all absorbing: worse than any clip with steps
        return "equal" if first is second else "left" if second is None else "right"
    return compare_flips(first, second)


def backflips_per_episode(episodes: list[np.ndarray], body: HopperBody | None = None) -> list[int]:
    """Clean backflips in each episode's states ``(L, 12)``."""
    body = body or HopperBody()
    out = []
    for states in episodes:
        pose = body.pose(states)
        out.append(count_backflips(pose.pitch, pose.on_foot, pose.aloft))
    return out
