"""What a store holds, counted: pairs asked, answered, trainable, and answers by kind.

All of ``StoreCounts`` comes from one statement, so the numbers agree with each other
however many processes write to the store meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Executable, func, select

from rlhp.store import schema
from rlhp.store.labelling import effective_choice

_pairs, _answers = schema.pairs, schema.answers
_CHOICE = effective_choice()  # an answer's newest correction (the page's undo), else itself


@dataclass(frozen=True)
class StoreCounts:
    """Queries asked and answers received, counted separately (B-Pref)."""

    pairs: int
    """Pairs asked about (the label budget counts these)."""
    answered: int
    """Pairs with at least one answer, can't-tell included."""
    trainable: int
    """Pairs with at least one answer other than can't-tell (as corrected)."""
    equal: int
    """Answers 'equal' (as corrected: an answer counts as its newest correction)."""
    cant_tell: int
    """Answers 'can't tell' (as corrected)."""
    answers: int
    """All answers, several per pair possible."""

    @property
    def received(self) -> int:
        """Labels received: pairs with an answer the model trains on (left, right, equal)."""
        return self.trainable

    @property
    def skipped(self) -> int:
        """Queries spent without a label: answered, but only with can't-tell (B-Pref's skips)."""
        return self.answered - self.trainable


def _counts_statement() -> Executable:
    """All of ``StoreCounts`` in one statement, so the numbers agree with each other.

    Each answer counts as its newest correction (the page's undo), as training reads it:
    an 'equal' corrected to 'left' is no longer an 'equal', and a pair whose only answer
    was corrected to can't-tell is no longer trainable."""
    count = select(func.count()).select_from(_answers)
    pairs_answered = select(func.count(_answers.c.pair_id.distinct()))
    return select(
        select(func.count()).select_from(_pairs).scalar_subquery(),
        pairs_answered.scalar_subquery(),
        pairs_answered.where(_CHOICE != "cant_tell").scalar_subquery(),
        count.where(_CHOICE == "equal").scalar_subquery(),
        count.where(_CHOICE == "cant_tell").scalar_subquery(),
        count.scalar_subquery(),
    )


_COUNTS = _counts_statement()


def read_counts(conn: Connection) -> StoreCounts:
    """The store's counts, read on ``conn``."""
    pairs, answered, trainable, equal, cant_tell, answers = conn.execute(_COUNTS).one()
    return StoreCounts(
        pairs=int(pairs),
        answered=int(answered),
        trainable=int(trainable),
        equal=int(equal),
        cant_tell=int(cant_tell),
        answers=int(answers),
    )
