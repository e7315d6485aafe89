"""Importing a model file into the playground: the file is untrusted, so its directory, headers,
spec and weights are checked against the playground's limits before anything is built."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplab.core.network import mlp_spec
from mlplab.errors import CheckpointError, MlplabError
from mlplab.web.model_files import MAX_MEMBER_BYTES, check_model_file
from mlplab.web.schemas import PlaygroundConfig
from mlplab.web.sessions import Session

SMALL = {"n_samples": 100, "hidden": [4], "activations": ["tanh"]}


@pytest.fixture(scope="module")
def session():
    return Session(PlaygroundConfig(**SMALL))


def npz(members: dict[str, np.ndarray], compressed: bool = True) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **members)
    return buf.getvalue()


def spec_member(spec: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)


def peak_bytes(fn) -> tuple[int, Exception | None]:
    """Peak traced memory while ``fn`` runs (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    err = None
    try:
        fn()
    except MlplabError as exc:
        err = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, err


def test_a_tiny_file_asking_for_a_huge_layer_is_refused_before_it_is_built(session):
    raw = npz({"__spec__": spec_member(mlp_spec([2, 3000, 3000, 1], head="sigmoid_bce"))})
    assert len(raw) < 1000
    peak, err = peak_bytes(lambda: session.import_model(raw, "huge.npz"))
    assert isinstance(err, CheckpointError)
    assert "huge.npz" in str(err) and "3000 units" in str(err) and "1 to 64" in str(err)
    assert peak < 4_000_000  # a 3000 × 3000 layer alone is 36 MB


def test_a_compressed_member_that_inflates_is_refused_by_its_directory_entry(session):
    spec = mlp_spec([2, 4, 1], head="sigmoid_bce")
    raw = npz({"__spec__": spec_member(spec), "param/0.weight": np.zeros(5_000_000, np.float32)})
    assert len(raw) < 100_000  # 20 MB of zeros
    peak, err = peak_bytes(lambda: session.import_model(raw, "bomb.npz"))
    assert isinstance(err, CheckpointError)
    assert "uncompressed" in str(err) and str(MAX_MEMBER_BYTES) in str(err)
    assert peak < 4_000_000


def test_an_array_header_that_claims_more_than_the_member_holds_is_refused():
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__spec__.npy", _npy(spec_member(mlp_spec([2, 4, 1]))))
        zf.writestr("param/0.weight.npy", head.getvalue() + b"\0" * 64)
    peak, err = peak_bytes(lambda: check_model_file(buf.getvalue(), "liar.npz"))
    assert isinstance(err, CheckpointError) and "declares shape (100000, 100000)" in str(err)
    assert peak < 4_000_000


def _npy(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_weights_are_refused(session, bad):
    raw = session.export_model()
    with np.load(io.BytesIO(raw)) as z:
        members = {k: z[k] for k in z.files}
    members["param/0.weight"] = members["param/0.weight"].copy()
    members["param/0.weight"][0, 0] = bad
    before = session.model.to_bytes()
    with pytest.raises(CheckpointError, match="0.weight holds NaN or infinite"):
        session.import_model(npz(members), "nan.npz")
    assert session.model.to_bytes() == before  # nothing changed
    st_ = session.import_model(raw, "good.npz")  # the same file with finite weights loads
    assert st_["type"] == "state"


def test_a_spec_with_wrong_types_is_refused(session):
    spec = mlp_spec([2, 4, 1], head="sigmoid_bce")
    spec["layers"][0]["units"] = "4"
    with pytest.raises(CheckpointError, match="dense layer 0"):
        check_model_file(npz({"__spec__": spec_member(spec)}), "m.npz")
    spec["input_dim"] = 10**9
    with pytest.raises(CheckpointError, match="input_dim"):
        check_model_file(npz({"__spec__": spec_member(spec)}), "m.npz")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_truncated_and_bit_flipped_model_files_never_escape_as_tracebacks(session, data):
    raw = bytearray(session.export_model())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
    else:
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            i = data.draw(st.integers(0, len(raw) - 1), label="at")
            raw[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    try:
        out = session.import_model(bytes(raw), "fuzz.npz")
    except MlplabError:
        return
    json.dumps(out, allow_nan=False)  # a file that loads gives a state the page can read
