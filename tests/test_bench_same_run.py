"""Which cells are the same run under another name (``rlhp.bench.same_run``)."""

from __future__ import annotations

from rlhp.bench.grid import Cell
from rlhp.bench.same_run import cell_config


def _cell(*options: tuple[str, str], labels: int = 100, seed: int = 0) -> Cell:
    return Cell("Hopper-v5", "preferences", labels, seed, 300_000, options=options)


def test_options_at_their_defaults_are_the_plain_run_and_others_are_not() -> None:
    plain = cell_config(_cell())
    assert plain is not None
    for same in (
        _cell(("selector", "disagreement")),
        _cell(("teacher", "oracle")),
        _cell(("ablation", "none"), ("method", "none")),
        _cell(("reward_model.ensemble_size", "3")),  # Hopper's preset: 3 members
    ):
        assert cell_config(same) == plain, same.name
    for other in (
        _cell(("selector", "uniform")),
        _cell(("teacher", "skip")),  # skips nothing on Hopper, but another teacher
        _cell(("ablation", "no_l2")),
        _cell(labels=200),
        _cell(seed=1),
    ):
        assert cell_config(other) != plain, other.name


def test_a_cell_this_version_cannot_build_has_no_configuration() -> None:
    assert cell_config(_cell(("teacher", "no_such_module:rule"))) is None
    assert cell_config(_cell(("reward_model.no_such_field", "1"))) is None
