"""Labeller names: the one rule every name follows before it reaches the store.

The labelling page (its name form and its name cookie) and ``rlhp labels import`` both
call ``clean_name``, so a name the page would refuse cannot come in through a file:
a name is printable characters (no control characters, no terminal escapes), single
spaces between words, no space at either end, and not empty.

A person types at most ``MAX_NAME`` characters; the trainer's own labellers may have
longer names (a comparison rule answers as ``rule:MODULE:FUNCTION``), so a file of
exported answers may hold names up to ``MAX_LABELLER`` characters.
"""

from __future__ import annotations

MAX_NAME = 40
"""Characters of a name given on the labelling page."""
MAX_LABELLER = 200
"""Characters of any labeller's name in the store (``rule:rlhp.behaviours.cheetah:…``)."""


def clean_name(raw: str, max_length: int = MAX_NAME) -> str:
    """``raw`` with its whitespace collapsed to single spaces, if it is then a name.

    Examples: ``"  Ann   Lee "`` → ``"Ann Lee"``; ``"ann\\x1b[31m"``, ``""`` and 41
    characters (with the default ``max_length``) raise.

    Raises:
        ValueError: the name is empty, longer than ``max_length`` or holds a character
            that is not printable; its message says what a name is.
    """
    name = " ".join(raw.split())
    if not name or len(name) > max_length or any(not ch.isprintable() for ch in name):
        raise ValueError(f"a labeller name is 1 to {max_length} printable characters")
    return name
