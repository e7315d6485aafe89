"""Reader for the IDX format (MNIST and its drop-in replacements such as Fashion-MNIST).

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the payload::

    0x00 0x00 <type code> <ndims>   d_1 ... d_ndims   <d_1 · ... · d_ndims items, row-major>

with type codes 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64,
multi-byte items stored big-endian.  Files may be gzip-compressed; checksums always refer to
the uncompressed bytes, so a file verifies the same whether or not it was gunzipped.

Every problem with a file (missing, bad gzip stream, bad magic, truncated, trailing bytes,
checksum mismatch) raises :class:`~mlplab.errors.DataError` naming the file.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import re
import struct
import zlib
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlplab.errors import ConfigError, DataError

__all__ = ["IdxSet", "read_idx", "load_idx_set", "load_mnist", "read_checksums"]

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
# train-images-idx3-ubyte, t10k-labels-idx1-ubyte.gz, also the dotted train-images.idx3-ubyte
_SET_FILE_RE = re.compile(r"^(train|t10k)-(images|labels)[-.]idx(\d)-ubyte(\.gz)?$")


class IdxSet(NamedTuple):
    """The four arrays of an MNIST-style directory.

    Attributes
    ----------
    train_images : ndarray, shape (n_train, rows, cols)
    train_labels : ndarray, shape (n_train,)
    test_images : ndarray, shape (n_test, rows, cols)
    test_labels : ndarray, shape (n_test,)
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _read_bytes(path) -> tuple[str, bytes]:
    """Return ``(name for messages, file bytes)`` for a path or an importlib Traversable."""
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
    name = str(path)
    try:
        return name, path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not an IDX file") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot be read ({exc.strerror or exc})") from None


def _decompress(name: str, data: bytes) -> bytes:
    """Gunzip ``data`` if it starts with the gzip magic bytes, else return it unchanged."""
    if not data.startswith(_GZIP_MAGIC):
        if name.endswith(".gz"):
            raise DataError(f"{name}: not a gzip stream (the file name ends in .gz)")
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise DataError(f"{name}: truncated gzip stream (ends before the end marker)") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{name}: bad gzip stream ({exc})") from None


def _check_sha256(field: str, digest) -> str:
    if not isinstance(digest, str) or not _SHA256_RE.match(digest):
        raise ConfigError(f"{field} must be a SHA-256 hex digest of 64 characters; got {digest!r}")
    return digest.lower()


def _parse_idx(name: str, raw: bytes) -> np.ndarray:
    """Decode the uncompressed bytes of an IDX file into an array of native byte order."""
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for the 4-byte IDX magic number")
    zero0, zero1, code, ndim = raw[:4]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"{name}: bad IDX magic number 0x{raw[:4].hex()}: the first two bytes must be zero"
        )
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise DataError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise DataError(f"{name}: the IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _DTYPES[code]
    count = math.prod(dims)
    need, have = count * dtype.itemsize, len(raw) - header
    if have < need:
        raise DataError(
            f"{name}: truncated payload: dimensions {dims} of {dtype.itemsize}-byte items need "
            f"{need} bytes, the file has {have}"
        )
    if have > need:
        raise DataError(
            f"{name}: {have - need} trailing bytes after the payload: dimensions {dims} of "
            f"{dtype.itemsize}-byte items need {need} bytes, the file has {have}"
        )
    items = np.frombuffer(raw, dtype=dtype, count=count, offset=header)
    return items.astype(dtype.newbyteorder("=")).reshape(dims)  # a writable native copy


def read_idx(path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file, raw or gzip-compressed.

    Parameters
    ----------
    path : str, os.PathLike or importlib.resources Traversable
        The file.  Gzip compression is recognised by its magic bytes.
    expected_sha256 : str, optional
        Hex SHA-256 of the *uncompressed* bytes; when given, a mismatch is an error.

    Returns
    -------
    ndarray, shape (d_1, ..., d_ndims)
        A writable array in native byte order, of the dtype the type code names
        (uint8 for MNIST).

    Raises
    ------
    DataError
        Naming the file and what is wrong: missing file, bad or truncated gzip stream, bad magic
        number, unknown type code, truncated header or payload, trailing bytes, checksum
        mismatch.
    ConfigError
        If ``expected_sha256`` is not a 64-character hex string.
    """
    if expected_sha256 is not None:
        expected_sha256 = _check_sha256("expected_sha256", expected_sha256)
    name, data = _read_bytes(path)
    raw = _decompress(name, data)
    array = _parse_idx(name, raw)
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise DataError(
                f"{name}: SHA-256 of the uncompressed bytes is {actual}, expected "
                f"{expected_sha256} (corrupt or different file)"
            )
    return array


def read_checksums(path) -> dict[str, str]:
    """Parse a ``sha256sum``-style file into ``{file name: lower-case hex digest}``.

    Lines read ``<digest>  <name>`` (``<digest> *<name>`` for binary mode); blank lines and
    lines starting with ``#`` are skipped.  A malformed line is a DataError naming its number.
    """
    name, data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{name}: not a UTF-8 text file") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not _SHA256_RE.match(parts[0]):
            raise DataError(
                f"{name}, line {number}: expected '<sha256>  <file name>'; got {line!r}"
            )
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _find_set_files(directory) -> dict[tuple[str, str], object]:
    """Map ``(split, kind)`` to the file of an MNIST-style directory (raw file preferred)."""
    if isinstance(directory, (str, os.PathLike)):
        directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    found = {}
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        match = _SET_FILE_RE.match(entry.name)
        if match is None:
            continue
        key = (match.group(1), match.group(2))
        # The uncompressed copy wins over the .gz one when both are present.
        if key not in found or found[key].name.endswith(".gz"):
            found[key] = entry
    missing = [
        f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte[.gz]"
        for split in ("train", "t10k")
        for kind in ("images", "labels")
        if (split, kind) not in found
    ]
    if missing:
        raise DataError(f"{directory}: missing IDX file(s) {', '.join(missing)}")
    return found


def load_idx_set(directory, expected: dict[str, str] | None = None) -> IdxSet:
    """Read the train/t10k images/labels files of an MNIST-style directory.

    Parameters
    ----------
    directory : str, os.PathLike or importlib.resources Traversable
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally ``.gz``
        (the uncompressed copy is used when both exist).
    expected : dict, optional
        ``{uncompressed file name: SHA-256 hex}``.  When given, every one of the four files must
        be listed and match.

    Returns
    -------
    IdxSet
        ``train_images`` (n_train, rows, cols), ``train_labels`` (n_train,), ``test_images``
        (n_test, rows, cols), ``test_labels`` (n_test,).

    Raises
    ------
    DataError
        For a missing file or checksum entry, any error of :func:`read_idx`, images that are not
        3-D, labels that are not 1-D, or image and label counts that disagree.
    """
    found = _find_set_files(directory)
    arrays = {}
    for (split, kind), entry in found.items():
        digest = None
        if expected is not None:
            stem = entry.name.removesuffix(".gz")
            if stem not in expected:
                raise DataError(f"{entry}: no pinned SHA-256 for {stem!r} in the checksum list")
            digest = expected[stem]
        array = read_idx(entry, digest)
        ndim = 3 if kind == "images" else 1
        if array.ndim != ndim:
            raise DataError(
                f"{entry}: {kind} must have {ndim} dimension(s); got shape {array.shape}"
            )
        arrays[split, kind] = array
    for split in ("train", "t10k"):
        n_images, n_labels = len(arrays[split, "images"]), len(arrays[split, "labels"])
        if n_images != n_labels:
            raise DataError(
                f"{found[split, 'images']}: {n_images} images but {found[split, 'labels']} "
                f"has {n_labels} labels"
            )
    return IdxSet(
        arrays["train", "images"],
        arrays["train", "labels"],
        arrays["t10k", "images"],
        arrays["t10k", "labels"],
    )


def load_mnist(data_dir=None) -> IdxSet:
    """MNIST as four read-only arrays, decoded once per process.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        ``None`` loads the copy embedded in the package and verifies each file against the
        pinned SHA-256 in its ``SHA256SUMS``.  A directory (e.g. holding Fashion-MNIST) is read
        the same way; its files are verified only if it has a ``SHA256SUMS`` of its own.

    Returns
    -------
    IdxSet
        uint8 ``train_images`` (60000, 28, 28), ``train_labels`` (60000,), ``test_images``
        (10000, 28, 28), ``test_labels`` (10000,) for MNIST.  The arrays are shared by every
        caller and marked read-only; copy them to modify.
    """
    key = None if data_dir is None else str(Path(data_dir).resolve())
    return _load_mnist_cached(key)


@functools.lru_cache(maxsize=4)
def _load_mnist_cached(directory: str | None) -> IdxSet:
    if directory is None:
        root = files("mlplab.data") / "files"
        expected = read_checksums(root / "SHA256SUMS")
    else:
        root = Path(directory)
        sums = root / "SHA256SUMS"
        expected = read_checksums(sums) if sums.is_file() else None
    data = load_idx_set(root, expected)
    for array in data:
        array.flags.writeable = False
    return data
