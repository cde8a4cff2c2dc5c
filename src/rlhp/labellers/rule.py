"""Teaching by saying which of two clips is better: a labeller built from a Python rule.

A *comparison rule* is any function ``rule(left, right) -> choice`` that looks at what
the run recorded about two segments — ``Segment.states`` (the simulator state at each
step: MuJoCo ``qpos`` then ``qvel``, classic control's ``state``), ``Segment.obs``,
``Segment.actions``, ``Segment.absorbing`` (True after the episode ended) — and answers
``"left"``, ``"right"``, ``"equal"`` or ``"cant_tell"``, as a person watching the two
clips would. It needs no reward function: it only has to rank two clips.

* ``RuleLabeller`` answers at once, in the trainer's process (fast, for experiments);
* ``rlhp.labellers.rule_page.PageRuleLabeller`` answers on the real labelling page, in
  Chromium, by key press (the stand-in for a person, end to end).

``rlhp train ENV --teacher module:function`` uses the first, and with
``--feedback human`` the second; ``load_rule`` turns the ``module:function`` text into
the function. Examples: ``rlhp.behaviours.hopper:prefer_backflip``,
``rlhp.behaviours.cheetah:prefer_one_leg`` (docs/teaching.md).
"""

from __future__ import annotations

from collections.abc import Callable

from rlhp.errors import ConfigError
from rlhp.labellers.base import CHOICES, Answer, Choice, Labeller, Query
from rlhp.segments import Segment
from rlhp.user_code import import_user_module

Rule = Callable[[Segment, Segment], Choice]
"""(left segment, right segment) → ``"left" | "right" | "equal" | "cant_tell"``."""


def load_rule(spec: str) -> Rule:
    """The function named by ``"package.module:function"`` (the working directory is
    searched too, so a ``my_rules.py`` beside the user is ``my_rules:prefer``).

    Raises:
        ConfigError: one line naming what is wrong and what to write instead.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"--teacher {spec!r} is neither a teacher preset nor module:function "
            "(e.g. rlhp.behaviours.hopper:prefer_backflip)"
        )
    try:
        module = import_user_module(module_name)  # a rule next to the user is found too
    except ImportError as exc:
        raise ConfigError(
            f"cannot import {module_name!r} for --teacher {spec} ({exc}); "
            "put the module on PYTHONPATH or install its package"
        ) from exc
    rule = getattr(module, attr, None)
    if not callable(rule):
        raise ConfigError(f"{module_name} has no function {attr!r} (--teacher {spec})")
    return rule


def ask_rule(rule: Rule, left: Segment, right: Segment) -> Choice:
    """The rule's answer about one pair, checked.

    Raises:
        ValueError: the rule returned something other than one of ``CHOICES``.
    """
    choice = rule(left, right)
    if choice not in CHOICES:
        name = getattr(rule, "__qualname__", repr(rule))
        raise ValueError(
            f"the comparison rule {name} returned {choice!r}; expected one of {CHOICES}"
        )
    return choice


class RuleLabeller(Labeller):
    """Answers every pair at once with a comparison rule, in this process."""

    needs_states = True
    """Tells the loop to record simulator states during rollouts (what rules read)."""

    def __init__(self, rule: Rule, name: str = "rule") -> None:
        self.rule = rule
        self.name = name
        self._pending: list[Answer] = []

    def request(self, queries: list[Query]) -> None:
        self._pending.extend(
            Answer(q.pair_id, ask_rule(self.rule, q.left, q.right), self.name) for q in queries
        )

    def collect(self) -> list[Answer]:
        answers, self._pending = self._pending, []
        return answers
