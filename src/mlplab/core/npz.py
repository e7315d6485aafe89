"""Reading ``.npz`` archives held in memory, with damage reported as :class:`CheckpointError`.

This is byte parsing, not file access, so it lives in the engine (``Network.from_bytes`` uses
it); :mod:`mlplab.io` re-exports it for the file side.
"""

from __future__ import annotations

import contextlib
import io
import zipfile

import numpy as np

from mlplab.errors import CheckpointError

__all__ = ["NPZ_ERRORS", "npz_errors", "load_npz"]

# What reading a damaged .npz archive can raise: zipfile reports some corrupt headers as
# NotImplementedError (a "compression method" or "version" that does not exist) or RuntimeError
# (an "encrypted" flag bit); a missing member is a KeyError, a bad array header a ValueError.
NPZ_ERRORS = (
    zipfile.BadZipFile,
    ValueError,
    KeyError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)


@contextlib.contextmanager
def npz_errors(source: str, what: str):
    """Turn any of :data:`NPZ_ERRORS` raised in the block into
    ``CheckpointError(f"{source} {what} ({exc})")``, e.g. ``what="is damaged"``."""
    try:
        yield
    except NPZ_ERRORS as exc:
        cause = str(exc)
        if "pickle" in cause:  # numpy's hint to allow_pickle=True is not advice for our users
            cause = "it holds pickled Python objects, which mlplab never loads"
        raise CheckpointError(f"{source} {what} ({cause})") from None


def load_npz(data: bytes, source: str, what: str) -> dict[str, np.ndarray]:
    """Every member of the ``.npz`` archive ``data`` (no pickles), as ``{name: array}``.

    A damaged archive raises CheckpointError ``"{source} {what} ({cause})"``.
    """
    with npz_errors(source, what), np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
