"""Atomic file writes: a crash leaves the old file or the new one, never half of one.

Every checkpoint, state file and benchmark record is written through ``replacing``, so a
run killed mid-write resumes from the previous checkpoint instead of a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; it replaces ``path`` when the block ends
    without an error, and is removed when the block raises.

    Example::

        with replacing(run / "agent.pt") as tmp:
            torch.save(state, tmp)
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_json(path: Path, data: Any, sort_keys: bool = False) -> None:
    """``data`` as indented JSON in ``path``, atomically."""
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=sort_keys))
