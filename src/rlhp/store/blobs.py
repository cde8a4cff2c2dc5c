"""How a segment's arrays are kept in the store: one ``.npz`` archive of bytes per row,
written and read without pickles (a store from elsewhere cannot run code).

NumPy is imported on the first call, not with the module: the labelling server opens
the store without it (``store.labels``).
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from rlhp.errors import StoreError

if TYPE_CHECKING:
    import numpy as np


def to_blob(**arrays: np.ndarray) -> bytes:
    """The named arrays as the bytes of one ``.npz`` archive."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def from_blob(blob: bytes) -> dict[str, np.ndarray]:
    """The named arrays of ``to_blob``'s bytes.

    Raises:
        StoreError: the bytes are not such an archive (a damaged row).
    """
    import numpy as np

    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:  # SQLite does not checksum blobs
        raise StoreError(
            f"the label store holds a damaged segment ({exc}); restore it from a backup"
        ) from exc
