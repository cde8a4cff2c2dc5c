"""The labeller protocol: ask now, collect answers later.

A labeller is asked about pairs with ``request`` (which returns at once) and hands over
whatever answers have arrived with ``collect``. The synthetic oracle answers
immediately; people in a browser answer whenever they do. The loop never assumes an
answer exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rlhp.segments import Segment

Choice = Literal["left", "right", "equal", "cant_tell"]
CHOICES: tuple[Choice, ...] = ("left", "right", "equal", "cant_tell")

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

    def request(self, queries: list[Query]) -> None:
        """Ask for these pairs; must return without waiting for answers."""
        ...

    def collect(self) -> list[Answer]:
        """Answers received since the last call that the loop has not stored yet."""
        ...
