"""The run folder and its file formats: :class:`RunDir`, the checkpoint (npz + JSON, no pickle,
atomic) and :class:`CheckpointCallback`, which writes it while a trainer runs."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import threading
from pathlib import Path

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import Callback, Trainer
from mlplab.errors import CheckpointError, ConfigError, DataError, check_range
from mlplab.io import (
    NPZ_ERRORS,
    atomic_write_bytes,
    atomic_write_json,
    ensure_dir,
    load_network,
    load_npz,
    npz_errors,
    read_bytes,
)
from mlplab.runs.building import fold_target_map
from mlplab.runs.settings import RunConfig

__all__ = [
    "RUN_FORMAT",
    "READABLE_RUN_FORMATS",
    "CHECKPOINT_FORMAT",
    "pack_state",
    "unpack_state",
    "sigint_deferred",
    "RunDir",
    "CheckpointCallback",
]

RUN_FORMAT = "mlplab.run/1"
#: The run formats this version reads (it writes :data:`RUN_FORMAT`).
READABLE_RUN_FORMATS = (RUN_FORMAT,)
CHECKPOINT_FORMAT = "mlplab.checkpoint/1"

_TREE_KEY = "__tree__"


def pack_state(obj) -> bytes:
    """Serialise nested dicts/lists/tuples of arrays and JSON values into ``.npz`` bytes.

    Every NumPy array or scalar becomes its own member of the archive (dtype and bytes kept
    exactly); the rest of the structure is JSON (floats round-trip exactly, NaN/±inf included,
    integers of any size) in the member ``__tree__``, where an array is ``{"__array__": key}``
    and a tuple ``{"__tuple__": [...]}``.  Nothing is pickled: object arrays, other types and
    non-string dict keys raise ``TypeError`` (a programming error, not a user's).
    """
    arrays: dict[str, np.ndarray] = {}

    def enc(x, where: str):
        if isinstance(x, (np.ndarray, np.generic)):
            a = np.asarray(x)
            if a.dtype.hasobject:
                raise TypeError(f"cannot store an object array at {where}")
            key = f"a{len(arrays)}"
            arrays[key] = a
            return {"__array__": key, "scalar": isinstance(x, np.generic)}
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if not isinstance(k, str):
                    raise TypeError(f"dict key {k!r} at {where} is not a string")
                out[k] = enc(v, f"{where}.{k}")
            if "__array__" in out or "__tuple__" in out:
                return {"__dict__": out}
            return out
        if isinstance(x, list):
            return [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, tuple):
            return {"__tuple__": [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"cannot store {type(x).__name__} at {where}")

    tree = json.dumps(enc(obj, "state"), allow_nan=True).encode("utf-8")
    arrays[_TREE_KEY] = np.frombuffer(tree, dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack_state(data: bytes, *, source: str = "state"):
    """Inverse of :func:`pack_state`; a damaged archive raises CheckpointError naming ``source``."""
    what = "is damaged or not an mlplab checkpoint"
    members = load_npz(data, source, what)
    with npz_errors(source, what):  # a missing or undecodable structure
        tree = json.loads(bytes(members.pop(_TREE_KEY)).decode("utf-8"))

    def dec(x):
        if isinstance(x, dict):
            if "__array__" in x:
                a = members[x["__array__"]]
                return a[()] if x.get("scalar") else a
            if "__tuple__" in x:
                return tuple(dec(v) for v in x["__tuple__"])
            if "__dict__" in x:
                x = x["__dict__"]
            return {k: dec(v) for k, v in x.items()}
        if isinstance(x, list):
            return [dec(v) for v in x]
        return x

    try:
        return dec(tree)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{source} has an inconsistent structure ({exc})") from None


@contextlib.contextmanager
def sigint_deferred():
    """Hold back Ctrl-C while a checkpoint is written, then deliver it to the old handler.

    Only in the main thread (elsewhere signal handlers cannot be set); a SIGKILL still stops
    the write at any point, which the atomic rename makes harmless.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])


# ---------------------------------------------------------------------------------------------
# The run folder
# ---------------------------------------------------------------------------------------------


def _leftover_temp(name: str) -> bool:
    """A temporary file of :mod:`mlplab.io` left by a process killed mid-write."""
    return name.startswith(".") and name.endswith(".tmp")


class RunDir:
    """The files of one run folder (see the module docstring for the layout)."""

    MODEL = "model.npz"
    SPEC = "spec.json"
    CHECKPOINT = "checkpoint.npz"
    SCALER = "scaler.npz"
    HISTORY_JSON = "history.json"
    HISTORY_CSV = "history.csv"
    CURVES = "curves.png"
    METRICS = "metrics.json"

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """The path of file ``name`` in the run folder."""
        return self.path / name

    @property
    def spec_path(self) -> Path:
        """The path of ``spec.json``."""
        return self.file(self.SPEC)

    @property
    def checkpoint_path(self) -> Path:
        """The path of ``checkpoint.npz``."""
        return self.file(self.CHECKPOINT)

    @property
    def model_path(self) -> Path:
        """The path of ``model.npz``."""
        return self.file(self.MODEL)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path, *, force: bool = False) -> RunDir:
        """Make (or reuse an empty) folder for a new run.

        ConfigError if it cannot be written, already holds a run, or holds other files — the
        run would replace files such as ``metrics.json`` or ``model.npz`` — unless ``force``
        (then files of the same names are replaced and the others left alone).
        """
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise ConfigError(f"--out {str(p)!r} is a file, not a folder")
        if (p / cls.SPEC).exists() or (p / cls.CHECKPOINT).exists():
            raise ConfigError(
                f"--out {str(p)!r} already holds a run; continue it with --resume {p} "
                "or choose another --out"
            )
        if not force and p.is_dir() and any(not _leftover_temp(e.name) for e in p.iterdir()):
            raise ConfigError(
                f"--out {str(p)!r} is a folder with other files in it, not an mlplab run; "
                "choose an empty or new folder, or add --force to write the run there anyway"
            )
        ensure_dir(p)
        return cls(p)

    @classmethod
    def open(cls, path) -> RunDir:
        """An existing run folder (one with ``spec.json``); CheckpointError otherwise."""
        p = Path(path)
        if not p.is_dir():
            raise CheckpointError(f"run folder {str(p)!r} does not exist")
        if not (p / cls.SPEC).is_file():
            raise CheckpointError(f"{str(p)!r} is not a run folder (no {cls.SPEC})")
        return cls(p)

    # -- spec and scaler ----------------------------------------------------------------------
    def write_spec(self, spec: dict) -> None:
        """Write ``spec.json`` atomically."""
        atomic_write_json(self.spec_path, spec)

    def read_spec(self) -> dict:
        """``spec.json`` as a dict; CheckpointError if it is unreadable, of another format or
        version, or incomplete."""
        text = read_bytes(self.spec_path)
        try:
            spec = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.spec_path} is not valid JSON ({exc})") from None
        found = spec.get("format") if isinstance(spec, dict) else None
        if isinstance(found, str) and found.startswith("mlplab.run/") and found != RUN_FORMAT:
            raise CheckpointError(
                f"{self.spec_path} is in run format {found}; this mlplab reads "
                f"{', '.join(READABLE_RUN_FORMATS)} (a newer or older mlplab wrote it)"
            )
        if found != RUN_FORMAT:
            raise CheckpointError(f"{self.spec_path} is not an mlplab run spec ({RUN_FORMAT})")
        for key in ("config", "model", "data"):
            if key not in spec:
                raise CheckpointError(f"{self.spec_path} lacks the field {key!r}")
        return spec

    def config(self) -> RunConfig:
        """The saved :class:`RunConfig` (types checked, not yet resolved)."""
        return RunConfig.from_dict(self.read_spec()["config"], source=str(self.spec_path))

    def write_scaler(self, dataset, tmap=None) -> None:
        """Write the input map (``mean``, ``scale``) and, given ``tmap = (μ, σ)``, the target
        map (``target_mean``, ``target_scale``, ``target_folded`` = True: folded into
        ``model.npz``, kept here for the record and for the checkpoint's weights)."""
        arrays = {}
        if dataset.mean_ is not None:
            arrays = {"mean": np.asarray(dataset.mean_), "scale": np.asarray(dataset.scale_)}
        if tmap is not None:
            arrays["target_mean"] = np.asarray(tmap[0], dtype=np.float64)
            arrays["target_scale"] = np.asarray(tmap[1], dtype=np.float64)
            arrays["target_folded"] = np.array(True)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(self.file(self.SCALER), buf.getvalue())

    def read_scaler(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(mean, scale)`` of the input map, or ``(None, None)`` when inputs are raw."""
        data = read_bytes(self.file(self.SCALER))
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if "mean" not in z.files:
                    return None, None
                return z["mean"], z["scale"]
        except NPZ_ERRORS as exc:
            raise CheckpointError(f"{self.file(self.SCALER)} is damaged ({exc})") from None

    def read_target_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(μ, σ)`` of the target map the checkpoint's weights were trained with, or None."""
        path = self.file(self.SCALER)
        if not path.is_file():
            return None
        try:
            with np.load(io.BytesIO(read_bytes(path)), allow_pickle=False) as z:
                if "target_mean" not in z.files:
                    return None
                return z["target_mean"], z["target_scale"]
        except NPZ_ERRORS as exc:
            raise CheckpointError(f"{path} is damaged ({exc})") from None

    def transform(self, X) -> np.ndarray:
        """Apply the saved input map to raw inputs: ``(X − mean) / scale``, float64."""
        mean, scale = self.read_scaler()
        X = np.array(X, dtype=np.float64)
        if mean is not None:
            if X.shape[-1] != len(mean):
                raise DataError(f"inputs have {X.shape[-1]} features; the run has {len(mean)}")
            X -= mean
            X /= scale
        return X

    # -- checkpoint -----------------------------------------------------------------------------
    def save_checkpoint(self, trainer: Trainer, *, finished: bool = False) -> None:
        """Write ``trainer.state_dict()`` atomically; the previous checkpoint survives any
        failure (disk full, crash, kill) during the write."""
        data = pack_state(
            {"format": CHECKPOINT_FORMAT, "finished": finished, "trainer": trainer.state_dict()}
        )
        try:
            with sigint_deferred():
                atomic_write_bytes(self.checkpoint_path, data)
        except OSError as exc:  # OutputError from mlplab.io names the path and the cause
            raise CheckpointError(f"{exc}; the previous checkpoint is intact") from None

    def load_checkpoint(self) -> dict:
        """``{"format", "finished", "trainer": state}``; CheckpointError if missing or damaged."""
        if not self.checkpoint_path.is_file():
            raise CheckpointError(
                f"{str(self.path)!r} has no {self.CHECKPOINT}: nothing to resume from"
            )
        ck = unpack_state(read_bytes(self.checkpoint_path), source=str(self.checkpoint_path))
        found = ck.get("format") if isinstance(ck, dict) else None
        if (
            isinstance(found, str)
            and found.startswith("mlplab.checkpoint/")
            and (found != CHECKPOINT_FORMAT)
        ):
            raise CheckpointError(
                f"{self.checkpoint_path} is in checkpoint format {found}; this mlplab reads "
                f"{CHECKPOINT_FORMAT}"
            )
        if found != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{self.checkpoint_path} is not an mlplab checkpoint")
        state = ck.get("trainer")
        need = ("model", "optimizer", "rng", "epoch", "step", "history")
        if not isinstance(state, dict) or any(k not in state for k in need):
            raise CheckpointError(f"{self.checkpoint_path} lacks parts of the trainer state")
        return ck

    def load_model(self) -> tuple[Network, str]:
        """The run's model and where it came from: ``model.npz``, else the checkpoint (with
        the target map folded in, so that it too predicts raw targets)."""
        if self.model_path.is_file():
            return load_network(self.model_path), self.MODEL
        spec = self.read_spec()
        ck = self.load_checkpoint()
        try:
            model = Network(spec["model"])
        except ConfigError as exc:
            raise CheckpointError(f"{self.spec_path} holds an invalid model spec: {exc}") from None
        model.load_state_dict(ck["trainer"]["model"])
        tmap = self.read_target_map()
        if tmap is not None:
            model = fold_target_map(model, *tmap)
        return model, f"{self.CHECKPOINT} (epoch {ck['trainer']['epoch']})"


class CheckpointCallback(Callback):
    """Writes ``RunDir.checkpoint.npz`` at the start (if none), after every ``every`` epochs
    and at the end (marked finished).  A resumed trainer whose run had already stopped early
    is kept from training further."""

    reads_gradients = False  # saves state at epoch ends: the fused step may run

    def __init__(self, run_dir: RunDir, every: int = 1):
        self.run_dir = run_dir
        self.every = check_range("checkpoint every", every, 1, None, integer=True)
        self.saved_epoch: int | None = None

    def _save(self, trainer, finished=False):
        with sigint_deferred():  # a Ctrl-C lands after both lines, never between them
            self.run_dir.save_checkpoint(trainer, finished=finished)
            self.saved_epoch = trainer.epoch

    def on_train_begin(self, trainer):
        """Keep a run that had already stopped from training on; write a first checkpoint."""
        if trainer.stop_reason is not None:
            trainer.stop = True  # the run already ended (early stopping, divergence)
        if not self.run_dir.checkpoint_path.exists():
            self._save(trainer)

    def on_epoch_end(self, trainer):
        """Write the checkpoint every ``every`` epochs and when training stops."""
        if trainer.epoch % self.every == 0 or trainer.stop:
            self._save(trainer)

    def on_train_end(self, trainer):
        """Write the final checkpoint, marked finished."""
        self._save(trainer, finished=True)
