"""Model files in the playground: what an imported mlplab model file may be, and the page
configuration that draws it.

An imported file comes from anyone who can reach the page, so :func:`check_model_file` reads
it as untrusted input before anything is built from it: the archive's directory (every member's
uncompressed size), each member's ``.npy`` header (its declared shape and type), the network
spec against the playground's limits, and the weights (finite numbers only).  Only then does
:meth:`Network.from_bytes` allocate the network.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.network import Network
from mlplab.errors import CheckpointError
from mlplab.web.schemas import FEATURES, MAX_LAYERS, MAX_NEURONS, PlaygroundConfig

__all__ = [
    "MAX_MEMBER_BYTES",
    "MAX_MEMBERS",
    "MAX_SPEC_BYTES",
    "check_model_file",
    "config_from_model",
    "load_model_file",
]

#: Largest uncompressed array in a playground model file: a 64 × 64 float64 matrix is 32 KiB.
MAX_MEMBER_BYTES = 256 * 1024
#: Largest uncompressed spec (JSON text stored as bytes).
MAX_SPEC_BYTES = 64 * 1024
#: Most members: per layer of 11 at most a weight, a bias and four normalisation arrays, + spec.
MAX_MEMBERS = 6 * (MAX_LAYERS + 1) + 1
#: Layers a spec may list (dense, normalisation, activation, dropout per drawn layer).
MAX_SPEC_LAYERS = 4 * (MAX_LAYERS + 1)
#: Widest output layer (multiclass outputs are at most 8; hidden layers at most MAX_NEURONS).
MAX_OUTPUTS = MAX_NEURONS


def _refuse(name: str, why: str) -> CheckpointError:
    return CheckpointError(f"{name} is not a valid mlplab model file for the playground: {why}")


#: What reading a damaged archive member may raise (zipfile, zlib, numpy's header parser).
_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    ValueError,
    OSError,
    EOFError,
    SyntaxError,
    NotImplementedError,
    RuntimeError,
)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    """One ``.npy`` member, after checking that its header declares no more data than the
    archive says the member holds (numpy would allocate the declared shape first)."""
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except _DAMAGE as exc:
        raise _refuse(name, f"member {info.filename!r} is not a .npy array ({exc})") from None
    if dtype.hasobject:
        raise _refuse(name, f"member {info.filename!r} holds Python objects")
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size:
        raise _refuse(
            name,
            f"member {info.filename!r} declares shape {tuple(shape)} ({declared} bytes) "
            f"but holds {info.file_size} bytes",
        )
    try:
        with zf.open(info) as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)
    except _DAMAGE as exc:
        raise _refuse(name, f"member {info.filename!r} is damaged ({exc})") from None


def _check_spec(spec, name: str) -> None:
    """The spec's layer sizes against the playground's limits (before any network exists)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise _refuse(name, "its spec is not an mlplab network spec")
    n_in = spec.get("input_dim")
    if type(n_in) is not int or not 1 <= n_in <= len(FEATURES):
        raise _refuse(name, f"input_dim must be an integer in [1, {len(FEATURES)}]; got {n_in!r}")
    layers = spec["layers"]
    if len(layers) > MAX_SPEC_LAYERS:
        raise _refuse(name, f"its spec lists {len(layers)} layers; the limit is {MAX_SPEC_LAYERS}")
    dense = [ls for ls in layers if isinstance(ls, dict) and ls.get("type") == "dense"]
    if not dense or len(dense) > MAX_LAYERS + 1:
        raise _refuse(
            name,
            f"it has {len(dense)} dense layers; the playground draws 1 to {MAX_LAYERS + 1} "
            f"({MAX_LAYERS} hidden and the output)",
        )
    for i, ls in enumerate(dense):
        units = ls.get("units")
        top = MAX_OUTPUTS if i == len(dense) - 1 else MAX_NEURONS
        if type(units) is not int or not 1 <= units <= top:
            raise _refuse(
                name, f"dense layer {i} has {units!r} units; the playground draws 1 to {top}"
            )


def check_model_file(raw: bytes, name: str = "model") -> None:
    """Refuse (:class:`CheckpointError`) a model file that does not fit the playground, reading
    only the archive's directory, the ``.npy`` headers, the spec and the arrays' bytes.

    Checked before anything is allocated from the file's own numbers: the count of members and
    each member's uncompressed size (:data:`MAX_MEMBER_BYTES`, :data:`MAX_SPEC_BYTES`), each
    array's declared shape against its size, the spec's layers against :data:`MAX_LAYERS` and
    :data:`MAX_NEURONS`; then that every weight is a finite number.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _refuse(name, f"it is not an .npz archive ({exc})") from None
    with zf:
        if len(infos) > MAX_MEMBERS:
            raise _refuse(name, f"it has {len(infos)} members; the limit is {MAX_MEMBERS}")
        by_name = {}
        for info in infos:
            limit = MAX_SPEC_BYTES if info.filename == "__spec__.npy" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise _refuse(
                    name,
                    f"member {info.filename!r} is {info.file_size} bytes uncompressed; "
                    f"the limit is {limit}",
                )
            by_name[info.filename] = info
        if "__spec__.npy" not in by_name:
            raise _refuse(name, "it has no network spec (__spec__)")
        spec_bytes = _read_member(zf, by_name.pop("__spec__.npy"), name)
        try:
            spec = json.loads(bytes(np.asarray(spec_bytes, dtype=np.uint8)).decode("utf-8"))
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise _refuse(name, "its spec is not JSON") from None
        _check_spec(spec, name)
        for member, info in by_name.items():
            a = _read_member(zf, info, name)
            if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
                raise _refuse(name, f"{member.removesuffix('.npy')} holds NaN or infinite values")


def load_model_file(raw: bytes, name: str = "model") -> Network:
    """:func:`check_model_file`, then the network (:meth:`Network.from_bytes`)."""
    check_model_file(raw, name)
    return Network.from_bytes(raw, source=name)


def config_from_model(model: Network, config: PlaygroundConfig, dim: int) -> PlaygroundConfig:
    """A copy of ``config`` that describes ``model``'s layers.

    ``dim`` is the number of coordinates of the page's data (1 or 2).  The input features are
    kept when their number matches the model's inputs, else chosen by size (1: x₁, 2: x₁ x₂,
    7: all).  Raises :class:`CheckpointError` if the model has layers the playground does not
    draw or more than it draws.
    """
    hidden, acts, dropout, norm = [], [], 0.0, "none"
    layers = model.spec["layers"]
    for i, ls in enumerate(layers):
        kind = ls["type"]
        if kind == "dense" and i < len(layers) - 1:
            hidden.append(int(ls["units"]))
        elif kind == "activation":
            acts.append(get_activation(ls["activation"]).name)
        elif kind == "dropout":
            if not hidden:
                raise CheckpointError("the model has input dropout, which the playground lacks")
            dropout = float(ls["p"])
        elif kind in ("batchnorm", "layernorm"):
            norm = "batch" if kind == "batchnorm" else "layer"
    if len(hidden) > MAX_LAYERS or any(u > MAX_NEURONS for u in hidden):
        raise CheckpointError(
            f"the model has hidden layers {hidden}; the playground draws at most "
            f"{MAX_LAYERS} layers of {MAX_NEURONS} units"
        )
    n_in = model.input_dim
    feats = list(config.features)
    if n_in != len(feats):
        by_size = {1: ["x1"], 2: ["x1", "x2"], len(FEATURES): list(FEATURES)}
        if n_in not in by_size or (dim == 1 and n_in != 1):
            raise CheckpointError(
                f"the model takes {n_in} inputs but {len(feats)} features are selected; "
                "select that many features first"
            )
        feats = by_size[n_in]
    update = {
        "mode": "mlp",
        "hidden": hidden,
        "activations": acts,
        "features": feats,
        "dropout": dropout,
        "norm": norm,
        "head": model.head.name,
    }
    try:
        return PlaygroundConfig.model_validate({**config.model_dump(), **update})
    except ValueError as exc:
        raise CheckpointError(f"the model does not fit the playground: {exc}") from None
