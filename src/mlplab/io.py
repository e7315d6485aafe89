"""Files written whole or not at all.

Everything mlplab writes goes to a temporary file in the same folder, is flushed and fsynced,
then renamed over the target, so a reader (or a run killed mid-write) never sees half a file.
The file gets the permissions an ordinary ``open(path, "w")`` would give it (``0o666`` less the
user's umask, or the mode of the file it replaces), not the ``0o600`` of the temporary file.
Any failure to write (a folder in the target's place, a full disk, ``ulimit -f``, no
permission) raises :class:`~mlplab.errors.OutputError` naming the path and the cause, after
the temporary file is removed.  JSON is written strictly: no bare ``NaN``/``Infinity``
(:func:`json_safe` turns them into ``null``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from mlplab.core.npz import NPZ_ERRORS, load_npz, npz_errors
from mlplab.errors import CheckpointError, ConfigError, OutputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "json_safe",
    "read_bytes",
    "ensure_dir",
    "NPZ_ERRORS",
    "npz_errors",
    "load_npz",
    "save_network",
    "load_network",
]


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


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, fsync, rename).

    Raises OutputError naming ``path`` when it cannot be written; the temporary file is
    removed and a file already at ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a folder (give a file name)")
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {_cause(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {str(path)!r}: {_cause(exc)}") from None
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
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(obj):
    """Replace non-finite floats by None, tuples by lists, NumPy scalars by Python ones."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def atomic_write_json(path, obj) -> None:
    """``obj`` as strict JSON (indent 2; NaN and ±inf written as ``null``), atomically."""
    atomic_write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def read_bytes(path) -> bytes:
    """The bytes of ``path``; CheckpointError naming it when missing, a folder or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"file not found: {str(path)!r}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{str(path)!r} is a folder, not a file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc.strerror}") from None


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
