"""Comparison rules the tests teach with (importable as ``tests.labellers.rules:…``)."""

from __future__ import annotations

from rlhp.labellers.base import Choice
from rlhp.segments import Segment


def cart_score(segment: Segment) -> float:
    """Mean cart position while the episode lasts, minus 3 per step after it ended."""
    assert segment.states is not None
    x = segment.states[:, 0]
    return float((-x * ~segment.absorbing - 3.0 * segment.absorbing).mean())


def prefer_cart_left(left: Segment, right: Segment) -> Choice:
    """CartPole: the clip whose cart stays further left (and whose episode goes on)."""
    a, b = cart_score(left), cart_score(right)
    if abs(a - b) < 1e-3:
        return "equal"
    return "left" if a > b else "right"


def broken(left: Segment, right: Segment) -> str:
    return "the left one"


not_a_function = 3
