"""IDX reader, checksums and the embedded MNIST copy."""

from __future__ import annotations

import gzip
import hashlib
import struct
from importlib.resources import files

import numpy as np
import pytest

from mlplab.data import load_mnist, read_idx
from mlplab.data.idx import load_idx_set, read_checksums
from mlplab.errors import ConfigError, DataError

EMBEDDED = files("mlplab.data") / "files"
TYPE_CODES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.int16,
    0x0C: np.int32,
    0x0D: np.float32,
    0x0E: np.float64,
}


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encode ``array`` as IDX, written out independently of the reader."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = array.astype(np.dtype(TYPE_CODES[code]).newbyteorder(">"))
    return header + big_endian.tobytes()


def write(path, data: bytes, compress: bool = False):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture(scope="module")
def labels_raw() -> bytes:
    """The uncompressed bytes of the embedded t10k labels (10008 bytes)."""
    return gzip.decompress((EMBEDDED / "t10k-labels-idx1-ubyte.gz").read_bytes())


@pytest.fixture(scope="module")
def sums() -> dict[str, str]:
    return read_checksums(EMBEDDED / "SHA256SUMS")


# --- well-formed files ----------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(TYPE_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type_code(tmp_path, code, compress):
    rng = np.random.default_rng(code)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(TYPE_CODES[code])
    path = write(tmp_path / ("a.idx.gz" if compress else "a.idx"), idx_bytes(array, code), compress)
    out = read_idx(path)
    assert out.dtype == np.dtype(TYPE_CODES[code])  # native byte order
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # writable


def test_checksum_is_of_uncompressed_bytes(tmp_path):
    data = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08)
    digest = hashlib.sha256(data).hexdigest()
    raw = write(tmp_path / "x", data)
    packed = write(tmp_path / "x.gz", data, compress=True)
    assert read_idx(raw, digest).shape == (2, 3)
    assert read_idx(packed, digest.upper()).shape == (2, 3)


# --- embedded MNIST -------------------------------------------------------------------------


def test_embedded_mnist_shapes_dtypes_and_cache():
    data = load_mnist()
    assert data.train_images.shape == (60000, 28, 28)
    assert data.train_labels.shape == (60000,)
    assert data.test_images.shape == (10000, 28, 28)
    assert data.test_labels.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in data)
    assert set(np.unique(data.train_labels)) == set(range(10))
    assert data.train_images.max() == 255
    assert load_mnist() is data  # decoded once per process
    with pytest.raises(ValueError):
        data.train_labels[0] = 3  # shared arrays are read-only


def test_embedded_checksums_are_pinned_and_match(sums, labels_raw):
    assert set(sums) == {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    }
    assert hashlib.sha256(labels_raw).hexdigest() == sums["t10k-labels-idx1-ubyte"]
    labels = read_idx(EMBEDDED / "t10k-labels-idx1-ubyte.gz", sums["t10k-labels-idx1-ubyte"])
    np.testing.assert_array_equal(labels, load_mnist().test_labels)


# --- corrupted copies -----------------------------------------------------------------------


def corrupt_raw(raw: bytes, kind: str) -> bytes:
    if kind == "flip":
        return raw[:5000] + bytes([raw[5000] ^ 0xFF]) + raw[5001:]
    if kind == "truncate":
        return raw[:-10]
    if kind == "trailing":
        return raw + b"\x00\x01"
    if kind == "magic":
        return b"\x08\x03" + raw[2:]
    if kind == "type":
        return raw[:2] + b"\x0a" + raw[3:]
    if kind == "dims":  # 10000 → 9999 labels
        return raw[:4] + struct.pack(">I", 9999) + raw[8:]
    if kind == "header":
        return raw[:6]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("flip", "SHA-256"),
        ("truncate", "truncated payload"),
        ("trailing", "trailing bytes"),
        ("magic", "magic number"),
        ("type", "type code 0x0A"),
        ("dims", "trailing bytes"),
        ("header", "truncated IDX header"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_corrupted_copy_names_file_and_fault(tmp_path, labels_raw, sums, kind, message, compress):
    name = "t10k-labels-idx1-ubyte" + (".gz" if compress else "")
    path = write(tmp_path / name, corrupt_raw(labels_raw, kind), compress)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path, sums["t10k-labels-idx1-ubyte"])
    assert str(path) in str(info.value)


def test_structural_faults_found_without_checksum(tmp_path, labels_raw):
    path = write(tmp_path / "labels", corrupt_raw(labels_raw, "truncate"))
    with pytest.raises(DataError, match="truncated payload"):
        read_idx(path)


def test_flipped_byte_in_gzip_stream(tmp_path):
    packed = bytearray((EMBEDDED / "t10k-labels-idx1-ubyte.gz").read_bytes())
    packed[len(packed) // 2] ^= 0xFF
    path = write(tmp_path / "t10k-labels-idx1-ubyte.gz", bytes(packed))
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path):
    packed = (EMBEDDED / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = write(tmp_path / "t10k-labels-idx1-ubyte.gz", packed[: len(packed) // 2])
    with pytest.raises(DataError, match="truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gz_name_without_gzip_stream(tmp_path, labels_raw):
    path = write(tmp_path / "labels.gz", labels_raw)
    with pytest.raises(DataError, match="not a gzip stream"):
        read_idx(path)


def test_wrong_checksum(tmp_path, labels_raw):
    path = write(tmp_path / "labels", labels_raw)
    with pytest.raises(DataError, match=r"labels: SHA-256 .* expected 0{64}"):
        read_idx(path, "0" * 64)


def test_missing_file_and_bad_digest_argument(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "nope")
    with pytest.raises(ConfigError, match="expected_sha256"):
        read_idx(tmp_path / "nope", "abc")


def test_empty_and_zero_dimension_files(tmp_path):
    with pytest.raises(DataError, match="too short"):
        read_idx(write(tmp_path / "empty", b""))
    with pytest.raises(DataError, match="0 dimensions"):
        read_idx(write(tmp_path / "nodims", b"\x00\x00\x08\x00"))


def test_malformed_checksum_file(tmp_path):
    path = write(tmp_path / "SHA256SUMS", b"# comment\n\n" + b"a" * 64 + b"  f\nnot a line\n")
    with pytest.raises(DataError, match="SHA256SUMS, line 4"):
        read_checksums(path)


# --- MNIST-style directories ----------------------------------------------------------------


def make_set(directory, n_train=5, n_test=3, compress=True, n_train_labels=None):
    """A tiny MNIST-style directory with 2 × 3 images; returns ``{file name: sha256}``."""
    directory.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 2, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train_labels or n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 2, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    digests = {}
    for stem, array in arrays.items():
        data = idx_bytes(array, 0x08)
        write(directory / (stem + (".gz" if compress else "")), data, compress)
        digests[stem] = hashlib.sha256(data).hexdigest()
    return digests


def test_load_idx_set_reads_a_directory(tmp_path):
    digests = make_set(tmp_path)
    data = load_idx_set(tmp_path, digests)
    assert data.train_images.shape == (5, 2, 3)
    assert data.train_labels.shape == (5,)
    assert data.test_images.shape == (3, 2, 3)
    assert data.test_labels.shape == (3,)


def test_load_idx_set_faults(tmp_path):
    make_set(tmp_path / "short", n_train_labels=4)
    with pytest.raises(DataError, match="5 images but .*train-labels.* has 4 labels"):
        load_idx_set(tmp_path / "short")

    digests = make_set(tmp_path / "missing")
    (tmp_path / "missing" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing IDX file.*t10k-labels-idx1-ubyte"):
        load_idx_set(tmp_path / "missing")

    del digests["t10k-labels-idx1-ubyte"]
    make_set(tmp_path / "unpinned")
    with pytest.raises(DataError, match="no pinned SHA-256"):
        load_idx_set(tmp_path / "unpinned", digests)

    with pytest.raises(DataError, match="not a directory"):
        load_idx_set(tmp_path / "nowhere")


def test_uncompressed_copy_wins(tmp_path):
    make_set(tmp_path, compress=True)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: .*magic"):
        load_idx_set(tmp_path)


def test_load_mnist_from_a_directory(tmp_path):
    digests = make_set(tmp_path, compress=False)
    assert load_mnist(tmp_path).train_images.shape == (5, 2, 3)

    pinned = tmp_path / "pinned"
    digests = make_set(pinned)
    digests["train-labels-idx1-ubyte"] = "f" * 64
    lines = "".join(f"{digest}  {stem}\n" for stem, digest in digests.items())
    (pinned / "SHA256SUMS").write_text(lines)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: SHA-256"):
        load_mnist(pinned)
