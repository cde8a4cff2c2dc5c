"""Atomic writes: the old file or the new one, never half of one, and no leftovers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlhp.atomic import replacing, write_json


def test_replacing_swaps_in_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    with replacing(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_text("new")
        assert path.read_text() == "old"  # not yet: only when the block ends
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "agent.pt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), replacing(path) as tmp:
        tmp.write_text("half of")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.pt"]


def test_write_json(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_json(path, {"b": 1, "a": [2]}, sort_keys=True)
    assert path.read_text() == json.dumps({"a": [2], "b": 1}, indent=2)
