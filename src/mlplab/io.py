"""Files written whole or not at all.

Everything mlplab writes goes to a temporary file in the same folder, is flushed and fsynced,
then renamed over the target, so a reader (or a run killed mid-write) never sees half a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from mlplab.errors import CheckpointError, ConfigError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_bytes",
    "ensure_dir",
    "NPZ_ERRORS",
    "npz_errors",
    "load_npz",
    "save_network",
    "load_network",
]

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


def ensure_dir(path) -> Path:
    """Create ``path`` (and parents) or raise ConfigError naming it when that is impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {str(p)!r}: {exc.strerror}") from None
    if not os.access(p, os.W_OK):
        raise ConfigError(f"output folder {str(p)!r} is not writable")
    return p


def atomic_write_bytes(path, data: bytes) -> None:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_bytes(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"file not found: {str(path)!r}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{str(path)!r} is a folder, not a file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc.strerror}") from None


@contextlib.contextmanager
def npz_errors(source: str, what: str):
    """Turn any of :data:`NPZ_ERRORS` raised in the block into
    ``CheckpointError(f"{source} {what} ({exc})")``, e.g. ``what="is damaged"``."""
    try:
        yield
    except NPZ_ERRORS as exc:
        raise CheckpointError(f"{source} {what} ({exc})") from None


def load_npz(data: bytes, source: str, what: str) -> dict[str, np.ndarray]:
    """Every member of the ``.npz`` archive ``data`` (no pickles), as ``{name: array}``.

    A damaged archive raises CheckpointError ``"{source} {what} ({cause})"``.
    """
    with npz_errors(source, what), np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_network(model, path) -> None:
    """Write a :class:`~mlplab.core.network.Network`'s spec and weights to ``path`` (``.npz``,
    :meth:`~mlplab.core.network.Network.to_bytes`), atomically."""
    atomic_write_bytes(path, model.to_bytes())


def load_network(path, *, spec: dict | None = None):
    """The :class:`~mlplab.core.network.Network` saved in ``path`` by :func:`save_network`.

    With ``spec``, the file must have been saved from that spec.  A missing, unreadable or
    damaged file raises CheckpointError naming ``path``.
    """
    from mlplab.core.network import Network  # core needs io only lazily, never at import

    return Network.from_bytes(read_bytes(path), source=str(path), spec=spec)
