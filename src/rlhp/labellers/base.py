"""The labeller protocol: ask now, collect answers later.

A labeller is asked about pairs with ``request`` (which returns at once) and hands over
whatever answers have arrived with ``collect``. The synthetic oracle answers
immediately; people in a browser answer whenever they do. The loop never assumes an
answer exists.

Besides those two, the protocol names every capability the loop uses (``needs_states``,
``asynchronous``, ``observe_policy``, ``wait_for_answers``, ``close``), each with a
default that suits a labeller answering at once from what ``request`` gives it. A class
that subclasses ``Labeller`` inherits the defaults and overrides what it needs; any
other object must provide all of them (``check_labeller`` says which are missing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # the labelling server imports this module and never loads NumPy
    import numpy as np

    from rlhp.segments import Segment

Choice = Literal["left", "right", "equal", "cant_tell"]
CHOICES: tuple[Choice, ...] = ("left", "right", "equal", "cant_tell")
NO_PREFERENCE: tuple[Choice, ...] = ("equal", "cant_tell")
"""Answers that prefer neither segment: the ties of a round or a selector."""

TARGETS: dict[Choice, float | None] = {"left": 1.0, "right": 0.0, "equal": 0.5, "cant_tell": None}
"""Target μ(left) of each answer (SPEC §2); can't-tell is kept but not trained on."""


@dataclass(frozen=True)
class Query:
    """One pair to compare: ids are the store's, segments the clips themselves."""

    pair_id: int
    left_id: int
    right_id: int
    left: Segment
    right: Segment


@dataclass(frozen=True)
class Answer:
    """One labeller's answer to one pair."""

    pair_id: int
    choice: Choice
    labeller: str
    answered_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"unknown answer {self.choice!r}; expected one of {CHOICES}")


class Labeller(Protocol):
    """Anything that answers preference queries, now or later."""

    name: str
    """Stored with every answer it gives."""
    needs_states: bool = False
    """Record simulator states during rollouts (clips replay them; rules may read them)."""
    asynchronous: bool = False
    """Answers land in the store at any time (people): the loop fits them between updates
    too, and asks ``queries.ask_ahead`` updates early."""

    def request(self, queries: list[Query]) -> None:
        """Ask for these pairs; must return without waiting for answers."""
        ...

    def collect(self) -> list[Answer]:
        """Answers received since the last call that the loop has not stored yet."""
        ...

    def observe_policy(self, true_returns: np.ndarray) -> None:
        """Before each request: the hidden true returns ``(M,)`` of segments of the current
        policy (the candidates the pairs are drawn from). Synthetic teachers scale their
        thresholds by them (B-Pref, SPEC §9); others ignore them."""
        return None

    def wait_for_answers(self, count: int) -> int:
        """Block until ``count`` pairs are answered (pre-training only); return how many are."""
        return count

    def close(self) -> None:
        """Release what the labeller holds (clip workers, servers) at the end of a run."""
        return None


LABELLER_MEMBERS = (
    "name",
    "needs_states",
    "asynchronous",
    "request",
    "collect",
    "observe_policy",
    "wait_for_answers",
    "close",
)


def check_labeller(labeller: object) -> Labeller:
    """``labeller`` if it has every member of the protocol; else a TypeError naming the missing.

    Raises:
        TypeError: listing the missing members and the fix (subclass ``Labeller``).
    """
    missing = [m for m in LABELLER_MEMBERS if not hasattr(labeller, m)]
    if missing:
        raise TypeError(
            f"{type(labeller).__name__} is not a labeller: it lacks {', '.join(missing)}; "
            "subclass rlhp.labellers.base.Labeller to inherit the defaults"
        )
    return labeller  # type: ignore[return-value]  # checked member by member above
