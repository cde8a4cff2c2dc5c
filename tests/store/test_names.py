"""The one rule for labeller names, which the page and ``rlhp labels import`` share."""

from __future__ import annotations

import pytest

from rlhp.store.names import MAX_LABELLER, MAX_NAME, clean_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("ann", "ann"),
        ("  Ann \t  Lee \n", "Ann Lee"),
        ("Ann 100% sure", "Ann 100% sure"),
        ("a%zzb", "a%zzb"),  # fine as a name; only as a cookie the page did not set is it refused
        ("x" * MAX_NAME, "x" * MAX_NAME),
    ],
)
def test_a_name_is_kept_with_single_spaces(raw: str, name: str) -> None:
    assert clean_name(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "ann\x1b[31m", "a\x00b", "a\u200bb", "x" * 41])
def test_names_that_are_empty_unprintable_or_long_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="a labeller name is 1 to 40 printable characters"):
        clean_name(raw)


def test_the_trainers_own_labellers_may_have_longer_names() -> None:
    rule = "rule:rlhp.behaviours.cheetah:prefer_one_leg"  # 43 characters
    assert clean_name(rule, MAX_LABELLER) == rule
    with pytest.raises(ValueError, match="1 to 200"):
        clean_name("x" * 201, MAX_LABELLER)
