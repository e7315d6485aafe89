"""One playground page's run: its data, its network and its training, driven by the engine.

A :class:`Session` is plain Python (no web framework): the server calls its methods from a
worker thread and sends what they return as JSON.  Every method takes the session's lock, so
a training step, a weight edit and a configuration change never interleave.

Training reuses the engine end to end: the network is :class:`~mlplab.core.network.Network`
built by :func:`~mlplab.core.network.mlp_spec`, each epoch is one
:meth:`~mlplab.core.train.Trainer.fit` call of the same :class:`~mlplab.core.train.Trainer`
(a callback stops it after the epoch and records the per-layer gradient norms it sees), and
the backward view reads δ from :meth:`Network.trace`.  The perceptron mode applies
Rosenblatt's mistake-driven rule (as :class:`mlplab.perceptron.Perceptron` does) one epoch
at a time, so the page can watch it.

Coordinates
-----------
The data live in the page's coordinates, the square ``[−6, 6]²`` of TF Playground: the
built-in sets are drawn from :func:`mlplab.data.load_dataset` unstandardised and, where a set
is generated on a smaller scale (moons, the three-arm spiral, the regression plane), moved and
scaled by a fixed affine map; an uploaded CSV is scaled so that each feature spans
``[−5, 5]``.  The input features (x₁, x₂, x₁², x₂², x₁x₂, sin x₁, sin x₂) are computed from these
coordinates, as in TF Playground.
"""

from __future__ import annotations

import base64
import csv
import math
import os
import shlex
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.losses import get_head, head_for_task
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import make_optimizer, make_schedule
from mlplab.core.train import Callback, TrainConfig, Trainer
from mlplab.errors import CheckpointError, ConfigError, DataError, MlplabError
from mlplab.web.schemas import (
    FEATURES,
    MAX_CSV_ROWS,
    MAX_LAYERS,
    MAX_NEURONS,
    PlaygroundConfig,
)

__all__ = ["Session", "PlayData", "make_data", "feature_matrix", "EXTENT", "cli_command"]

#: Half-width of the drawn square: the map covers [−EXTENT, EXTENT]².
EXTENT = 6.0
#: Output map resolution (GRID × GRID); neuron maps take every other point (GRID/2 square).
GRID = 40
#: Points of the 1-D output curve; neuron curves take every fourth.
GRID_1D = 160
#: Epoch records kept per run (older ones are thinned out).
HISTORY_CAP = 4000
#: Training rows the doctor watches (its fixed probe batch).
DOCTOR_PROBE = 256
#: Most classes a CSV may have (colours on the page).
MAX_CLASSES = 8

FEATURE_LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1sq": "x₁²",
    "x2sq": "x₂²",
    "x1x2": "x₁x₂",
    "sinx1": "sin x₁",
    "sinx2": "sin x₂",
}
_HEADS_BY_TASK = {
    "binary": ["sigmoid_bce", "softmax_ce", "identity_mse"],
    "multiclass": ["softmax_ce", "identity_mse"],
    "regression": ["identity_mse", "identity_mae"],
}


# --------------------------------------------------------------------------------- data
@dataclass
class PlayData:
    """A data set in page coordinates.

    ``X_*`` have shape (n, dim) with dim 1 or 2; ``y_*`` hold class ids (int64) for
    classification and values (float64) for regression.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] | None
    note: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def y_range(self) -> tuple[float, float]:
        y = np.concatenate([self.y_train, self.y_test]).astype(np.float64)
        lo, hi = float(y.min()), float(y.max())
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        return lo - pad, hi + pad


# name → (centre, scale, noise map): page coordinates are (x − centre)·scale, and the page's
# noise slider (0 … 0.5, TF Playground's 0 … 50 %) is turned into the set's own noise option.
_VIEW = {
    "circle": (0.0, 1.0, lambda n: n),
    "xor": (0.0, 1.0, lambda n: n),
    "gauss": (0.0, 1.0, lambda n: n),
    "spiral": (0.0, 1.0, lambda n: n),
    "moons": ((0.5, 0.25), 3.0, lambda n: 0.05 + 0.5 * n),
    "blobs": (0.0, 1.0, lambda n: 0.5 + 4.0 * n),
    "spiral3": (0.0, 5.0, lambda n: 0.05 + 0.6 * n),
    "plane": (0.0, 5.0, lambda n: n),
    "gauss_bump": (0.0, 5.0 / 3.0, lambda n: 0.4 * n),
    "sin": (0.0, 1.0, lambda n: 0.8 * n),
}


def make_data(cfg: PlaygroundConfig, csv_text: tuple[str, str] | None = None) -> PlayData:
    """Build the data of ``cfg`` in page coordinates.

    Built-in sets come from :func:`mlplab.data.load_dataset` (``standardize=False``, no
    validation split, ``test_fraction = 1 − train_ratio``, every draw from ``cfg.seed``).
    ``csv_text`` is ``(file name, text)`` of an uploaded CSV, needed when ``cfg.dataset`` is
    ``"csv"``.
    """
    from mlplab.data import load_dataset

    test_fraction = round(1.0 - cfg.train_ratio, 6)
    if cfg.dataset == "csv":
        if csv_text is None:
            raise DataError("dataset is 'csv' but no CSV file has been uploaded yet")
        return _csv_data(csv_text[0], csv_text[1], cfg.seed, test_fraction)
    centre, scale, noise_of = _VIEW[cfg.dataset]
    options = {"n_classes": cfg.n_classes} if cfg.dataset == "blobs" else {}
    ds = load_dataset(
        cfg.dataset,
        seed=cfg.seed,
        n_samples=cfg.n_samples,
        noise=float(noise_of(cfg.noise)),
        val_fraction=0.0,
        test_fraction=test_fraction,
        standardize=False,
        **options,
    )
    c = np.asarray(centre, dtype=np.float64)
    return PlayData(
        name=cfg.dataset,
        task=ds.task,
        X_train=(ds.X_train - c) * scale,
        y_train=ds.y_train,
        X_test=(ds.X_test - c) * scale,
        y_test=ds.y_test,
        class_names=ds.class_names,
        note="" if scale == 1.0 else f"coordinates = (x − {centre}) × {scale:g}",
    )


def _csv_data(name: str, text: str, seed: int, test_fraction: float) -> PlayData:
    """Read an uploaded CSV with :func:`mlplab.data.load_csv`: one or two feature columns and
    a label (a column named label/y/target/class, else the last one)."""
    from mlplab.data import load_csv

    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{name}: the file is empty (expected a header row and data rows)")
    if len(lines) - 1 > MAX_CSV_ROWS:
        raise DataError(f"{name}: {len(lines) - 1} data rows; the limit is {MAX_CSV_ROWS}")
    header = [h.strip() for h in next(csv.reader([lines[0]]), [])]
    if len(header) not in (2, 3):
        raise DataError(
            f"{name}: the playground needs two feature columns and a label (or one feature "
            f"and a label); the header has {len(header)} columns: {', '.join(header[:8])}"
        )
    target = next((h for h in header if h.lower() in ("label", "y", "target", "class")), None)
    target = target or header[-1]
    with tempfile.TemporaryDirectory(prefix="mlplab-playground-") as tmp:
        path = os.path.join(tmp, "upload.csv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            ds = load_csv(
                path,
                target,
                seed=seed,
                val_fraction=0.0,
                test_fraction=test_fraction,
                standardize=False,
            )
        except MlplabError as exc:
            raise DataError(str(exc).replace(path, name)) from None
    if ds.task not in ("binary", "multiclass", "regression"):
        raise DataError(
            f"{name}: label column {target!r} gives a {ds.task} task; the playground "
            "takes class labels or one numeric target"
        )
    if ds.task == "multiclass" and ds.n_classes > MAX_CLASSES:
        raise DataError(
            f"{name}: {ds.n_classes} classes in {target!r}; the playground draws at most "
            f"{MAX_CLASSES}"
        )
    if ds.n_features == 1 and ds.task == "multiclass":
        raise DataError(f"{name}: a one-feature CSV must be two-class or regression")
    X_all = np.vstack([ds.X_train, ds.X_test])
    lo, hi = X_all.min(axis=0), X_all.max(axis=0)
    centre = (lo + hi) / 2
    half = np.where(hi > lo, (hi - lo) / 2, 1.0)
    scale = 5.0 / half
    return PlayData(
        name=name,
        task=ds.task,
        X_train=(ds.X_train - centre) * scale,
        y_train=ds.y_train,
        X_test=(ds.X_test - centre) * scale,
        y_test=ds.y_test,
        class_names=ds.class_names,
        note=f"features {', '.join(ds.feature_names)} scaled to [−5, 5]; label {target!r}",
        meta={"feature_names": ds.feature_names, "target": target, "rows": len(X_all)},
    )


def feature_matrix(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The input features ``names`` (see :data:`FEATURE_LABELS`) of points X (n, 1 or 2)."""
    x1 = X[:, 0]
    x2 = X[:, 1] if X.shape[1] > 1 else np.zeros_like(x1)
    table = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1sq": lambda: x1 * x1,
        "x2sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sinx1": lambda: np.sin(x1),
        "sinx2": lambda: np.sin(x2),
    }
    return np.column_stack([table[n]() for n in names]).astype(np.float64)


def _grid(dim: int) -> np.ndarray:
    """Centres of the map's cells, row-major from the top-left (x right, y up)."""
    if dim == 1:
        return np.linspace(-EXTENT, EXTENT, GRID_1D)[:, None]
    c = -EXTENT + (np.arange(GRID) + 0.5) * (2 * EXTENT / GRID)
    xx, yy = np.meshgrid(c, c[::-1])
    return np.column_stack([xx.ravel(), yy.ravel()])


def _sub(values: np.ndarray, dim: int) -> np.ndarray:
    """The neuron-map subset of grid values (n_grid, k) → (n_small, k)."""
    if dim == 1:
        return values[::4]
    return values.reshape(GRID, GRID, -1)[::2, ::2].reshape(-1, values.shape[-1])


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _q8(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Quantise to uint8 over [lo, hi]."""
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.round((a - lo) / span * 255.0), 0, 255).astype(np.uint8)


def _num(v) -> float | None:
    """A float JSON can hold (None for NaN/inf)."""
    if v is None:
        return None
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


# --------------------------------------------------------------------------------- training
class _EpochMonitor(Callback):
    """Stops ``fit`` after one epoch and keeps the mean gradient norm ‖∂L/∂W_ℓ‖ per dense
    layer over that epoch's batches (read in ``on_batch_end``, before the optimizer step)."""

    def __init__(self):
        self.sums: np.ndarray | None = None
        self.batches = 0
        self.grad_norms: list[float] = []

    def on_epoch_begin(self, trainer):
        self.sums = np.zeros(len(trainer.model.dense_layers()))
        self.batches = 0

    def on_batch_end(self, trainer, batch_loss):
        for j, (_, layer) in enumerate(trainer.model.dense_layers()):
            g = layer.grads["weight"]
            self.sums[j] += math.sqrt(float(np.sum(g.astype(np.float64) ** 2)))
        self.batches += 1

    def on_epoch_end(self, trainer):
        self.grad_norms = (self.sums / max(self.batches, 1)).tolist()
        trainer.stop = True


def _trim(records: list, head: int, tail: int) -> None:
    """Keep the first ``head`` and last ``tail`` items of a growing list, in place (a long
    run's memory stays bounded; the doctor looks at the start and the recent past)."""
    if len(records) > head + tail:
        del records[head : len(records) - tail]


def _make_doctor(probe: np.ndarray, on_finding):
    """mlplab's doctor (:class:`mlplab.diagnostics.Doctor`) as a training callback.

    The page runs ``fit`` for one epoch at a time, so the doctor's end-of-epoch and
    end-of-training diagnoses would fall on the same moment: only the second one (which also
    sees a divergence) is kept.
    """
    from mlplab.diagnostics import DiagnosticsRecorder, Doctor

    class EpochDoctor(Doctor):
        def on_epoch_end(self, trainer) -> None:
            DiagnosticsRecorder.on_epoch_end(self, trainer)

    return EpochDoctor(probe, on_finding=on_finding)


def _targets(y: np.ndarray, task: str, head: str, n_classes: int) -> np.ndarray:
    """Labels in the form ``head`` trains on (one-hot rows for squared error on classes)."""
    if task == "multiclass" and head == "identity_mse":
        return np.eye(n_classes)[y]
    if task == "binary" and head == "identity_mse":
        return y.astype(np.float64)
    return y


def _changed(new: PlaygroundConfig, old: PlaygroundConfig) -> set[str]:
    return {k for k in PlaygroundConfig.model_fields if getattr(new, k) != getattr(old, k)}


_LIVE = ("lr", "schedule", "epochs", "batch_size", "l1", "l2", "weight_decay", "optimizer")
_VIEW_ONLY = ("speed", "discretize", "show_test")
_DATA = ("dataset", "n_samples", "noise", "train_ratio", "n_classes", "seed")


class Session:
    """The state behind one page.

    Parameters
    ----------
    config : PlaygroundConfig, optional
        Start from this configuration (default: TF Playground's opening screen).
    sid : str
        The session id the server gave it.
    """

    def __init__(self, config: PlaygroundConfig | None = None, *, sid: str = "local"):
        self.sid = sid
        self.lock = threading.RLock()
        self.csv: tuple[str, str] | None = None
        self.last_active = time.monotonic()
        self.notices: list[str] = []
        cfg = config or PlaygroundConfig()
        data = make_data(cfg, self.csv)
        cfg = self._fit_features(cfg, data)
        self._install(cfg, data, self._build(cfg, data))

    # ------------------------------------------------------------------ building
    @staticmethod
    def _fit_features(cfg: PlaygroundConfig, data: PlayData) -> PlaygroundConfig:
        """Drop x₂ features for 1-D data (keeping at least x₁)."""
        if data.dim == 2:
            return cfg
        feats = [f for f in cfg.features if "2" not in f] or ["x1"]
        return cfg.model_copy(update={"features": feats})

    def _head_name(self, cfg: PlaygroundConfig, data: PlayData) -> str:
        if cfg.mode == "perceptron":
            return "sigmoid_bce"
        if cfg.head == "auto":
            return head_for_task(data.task)
        allowed = _HEADS_BY_TASK[data.task]
        if cfg.head not in allowed:
            raise ConfigError(
                f"head {cfg.head} does not fit a {data.task} data set; use one of "
                f"{', '.join(allowed)}"
            )
        return cfg.head

    def _n_out(self, head: str, data: PlayData) -> int:
        if data.task == "binary":
            return 2 if head == "softmax_ce" else 1
        if data.task == "multiclass":
            return data.n_classes
        return 1

    def _build(self, cfg: PlaygroundConfig, data: PlayData) -> dict:
        """A fresh model (and trainer or perceptron state) for ``cfg`` and ``data``; raises
        :class:`MlplabError` without touching the session when something does not fit."""
        head = self._head_name(cfg, data)
        n_in, n_out = len(cfg.features), self._n_out(head, data)
        if cfg.mode == "perceptron":
            if data.task != "binary":
                raise ConfigError(
                    f"perceptron mode needs a two-class data set; {data.name} is {data.task}"
                )
            spec = mlp_spec([n_in, 1], head="sigmoid_bce", init="zeros")
            model = Network(spec, rng=np.random.default_rng([cfg.seed, 1]))
            return {"model": model, "trainer": None, "head": head, "monitor": None, "doctor": None}
        if "step" in cfg.activations:
            raise ConfigError(
                "activation step has no gradient (φ′ = 0 almost everywhere), so backpropagation "
                "cannot train it; pick another activation or switch to perceptron mode"
            )
        spec = mlp_spec(
            [n_in, *cfg.hidden, n_out],
            activations=list(cfg.activations),
            head=head,
            init=cfg.init,
            dropout=cfg.dropout,
            norm=cfg.norm,
        )
        model = Network(spec, rng=np.random.default_rng([cfg.seed, 1]))
        monitor = _EpochMonitor()
        doctor = _make_doctor(
            feature_matrix(data.X_train[:DOCTOR_PROBE], cfg.features), self._on_finding
        )
        trainer = Trainer(
            model,
            self._optimizer_spec(cfg),
            schedule=cfg.schedule,
            config=TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, l1=cfg.l1, l2=cfg.l2),
            rng=np.random.default_rng([cfg.seed, 2]),
            callbacks=[monitor, doctor],
        )
        return {
            "model": model,
            "trainer": trainer,
            "head": head,
            "monitor": monitor,
            "doctor": doctor,
        }

    @staticmethod
    def _optimizer_spec(cfg: PlaygroundConfig) -> dict:
        return {"name": cfg.optimizer, "lr": cfg.lr, "weight_decay": cfg.weight_decay}

    def _install(self, cfg: PlaygroundConfig, data: PlayData, built: dict) -> None:
        self.config = cfg
        self.data = data
        self.model: Network = built["model"]
        self.trainer: Trainer | None = built["trainer"]
        self.monitor: _EpochMonitor | None = built["monitor"]
        self.doctor = built["doctor"]
        self.head = built["head"]
        self.epoch = 0
        self.history: list[dict] = []
        self.sent = 0  # history records already sent
        self.finished: str | None = None
        self.Xf_train = feature_matrix(data.X_train, cfg.features)
        self.Xf_test = feature_matrix(data.X_test, cfg.features)
        n_cls = data.n_classes
        self.t_train = _targets(data.y_train, data.task, self.head, n_cls)
        self.t_test = _targets(data.y_test, data.task, self.head, n_cls)
        self._val = (self.Xf_test, self.t_test) if len(self.Xf_test) else ()
        self.grid = _grid(data.dim)
        self.grid_features = feature_matrix(self.grid, cfg.features)
        self.perceptron = None
        self.probe_point: tuple[float, float] | None = None
        if cfg.mode == "perceptron":
            self._perceptron_start()
        self.history.append(self._record(grad=None))

    # ------------------------------------------------------------------ configuration
    def apply_config(self, cfg: PlaygroundConfig) -> dict:
        """Move to ``cfg``: training settings change live (the weights stay), anything about
        the data or the network rebuilds.  Returns ``{"reset": bool, "state": ...}``."""
        with self.lock:
            self.touch()
            old = self.config
            changed = _changed(cfg, old)
            if cfg.dataset == "csv" and self.csv is None:
                raise DataError("upload a CSV file first (dataset 'csv' has no data yet)")
            if changed & set(_DATA):
                data = make_data(cfg, self.csv)
            else:
                data = self.data
            cfg = self._fit_features(cfg, data)
            changed = _changed(cfg, old)
            rebuild = bool(changed - set(_LIVE) - set(_VIEW_ONLY))
            if rebuild:
                self._install(cfg, data, self._build(cfg, data))
                return {"reset": True, "state": self.state()}
            if changed & set(_LIVE):
                self._apply_live(cfg, changed)
            self.config = cfg
            return {"reset": False, "state": None}

    def _apply_live(self, cfg: PlaygroundConfig, changed: set) -> None:
        """Change learning settings of the running trainer without touching the weights."""
        tr = self.trainer
        if tr is None:  # perceptron: only η matters
            return
        make_schedule(cfg.schedule)  # validate before changing anything
        if "optimizer" in changed:
            opt = make_optimizer(self._optimizer_spec(cfg))
            opt.t = 0
            tr.optimizer = opt
        else:
            tr.optimizer.base_lr = float(cfg.lr)
            tr.optimizer.lr = float(cfg.lr)
            tr.optimizer.weight_decay = float(cfg.weight_decay)
        tr.schedule = make_schedule(cfg.schedule)
        tr.config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, l1=cfg.l1, l2=cfg.l2)
        if self.finished == "horizon" and cfg.epochs > self.epoch:
            self.finished = None

    def reset(self) -> dict:
        """New weights from the seed, same data; returns the state."""
        with self.lock:
            self.touch()
            self._install(self.config, self.data, self._build(self.config, self.data))
            return self.state()

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def _csv_label(self) -> tuple[str, str] | None:
        if self.csv is None:
            return None
        return self.csv[0], self.data.meta.get("target", "label")

    def cli(self) -> dict:
        """The ``mlplab train`` command of the current configuration."""
        with self.lock:
            return cli_command(self.config, self.head, self._csv_label())

    # ------------------------------------------------------------------ training
    def advance(self, epochs: int, budget_s: float = 0.5) -> dict:
        """Train up to ``epochs`` epochs (at least one, stopping early when ``budget_s`` has
        passed, the run reached ``config.epochs``, diverged or, for the perceptron, made no
        mistake); returns a frame."""
        with self.lock:
            t0 = time.perf_counter()
            done = 0
            while done < epochs and self.finished is None:
                if self.epoch >= self.config.epochs:
                    self.finished = "horizon"
                    self.notices.append(
                        f"reached epochs = {self.config.epochs}; raise epochs to train on"
                    )
                    break
                if self.perceptron is not None:
                    self._perceptron_epoch()
                else:
                    self._mlp_epoch()
                done += 1
                if time.perf_counter() - t0 > budget_s:
                    break
            frame = self.frame()
            frame["step_ms"] = (time.perf_counter() - t0) * 1000.0
            frame["epochs_run"] = done
            return frame

    def _on_finding(self, finding) -> None:
        self.notices.append(f"doctor: {finding.severity}: {finding.summary}")

    def _mlp_epoch(self) -> None:
        tr = self.trainer
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
            tr.fit(self.Xf_train, self.t_train, *self._val)  # the test split is the validation
        _trim(tr.history.records, 10, HISTORY_CAP)
        if self.doctor is not None:
            rec = self.doctor.record
            _trim(rec["checks"], 30, 150)
            _trim(rec["activations"], 3, 60)
            _trim(rec["weights"], 3, 60)
        if tr.stop_reason == "divergence":
            tr.stop_reason = None
            self.finished = "diverged"
            self.notices.append(
                "training diverged (the loss became NaN or inf); the weights are back to the "
                "start of that epoch; lower the learning rate"
            )
            return
        self.epoch = tr.epoch
        self.history.append(self._record(grad=self.monitor.grad_norms))
        self._cap_history()

    def _cap_history(self) -> None:
        if len(self.history) > HISTORY_CAP:
            # keep the first record and every other one of the older half
            half = len(self.history) // 2
            self.history = self.history[:1] + self.history[1:half:2] + self.history[half:]
            self.sent = min(self.sent, len(self.history))

    def _evaluate(self, X: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple:
        """(loss, accuracy or None, predicted classes or None) in eval mode."""
        if len(X) == 0:
            return None, None, None
        if self.perceptron is not None:
            pred = (X @ self.perceptron["w"] + self.perceptron["b"] >= 0).astype(np.int64)
            err = float(np.mean(pred != y))
            return err, 1.0 - err, pred
        model = self.model
        z = model.forward(X)
        h = get_head(self.head)
        loss = h.loss(z, h.validate(t, model.output_dim, dtype=model.dtype))
        pred = self._classes(z)
        acc = None if pred is None else float(np.mean(pred == y))
        return loss, acc, pred

    def _classes(self, z: np.ndarray) -> np.ndarray | None:
        task = self.data.task
        if task == "regression":
            return None
        yhat = get_head(self.head).output(z)
        if yhat.shape[1] > 1:
            return yhat.argmax(axis=1)
        return (yhat[:, 0] >= 0.5).astype(np.int64)

    def _evaluate_all(self) -> None:
        """Loss and accuracy on both splits, dead units (training set) and the confusion
        matrix (test set, else training set) for the current weights, kept in ``_eval``."""
        d = self.data
        tr_loss, tr_acc, _ = self._evaluate(self.Xf_train, self.t_train, d.y_train)
        dead = self._dead_units()  # reads the caches of the training-set forward just run
        te_loss, te_acc, te_pred = self._evaluate(self.Xf_test, self.t_test, d.y_test)
        confusion = None
        if d.task != "regression":
            split, y, pred = "test", d.y_test, te_pred
            if pred is None:
                _, _, pred = self._evaluate(self.Xf_train, self.t_train, d.y_train)
                split, y = "train", d.y_train
            k = d.n_classes
            m = np.zeros((k, k), dtype=np.int64)
            np.add.at(m, (y, pred), 1)
            confusion = {"split": split, "labels": d.class_names, "matrix": m.tolist()}
        self._eval = {
            "metrics": {
                "train_loss": _num(tr_loss),
                "test_loss": _num(te_loss),
                "train_acc": _num(tr_acc),
                "test_acc": _num(te_acc),
            },
            "dead": dead,
            "confusion": confusion,
        }

    def _lr(self) -> float | None:
        return _num(self.trainer.optimizer.lr if self.trainer else self.config.lr)

    def _record(self, grad) -> dict:
        self._evaluate_all()
        rec = {"epoch": self.epoch, **self._eval["metrics"], "lr": self._lr()}
        if grad is not None:
            rec["grad"] = [_num(g) for g in grad]
        if self.perceptron is not None and self.perceptron["mistakes"]:
            rec["mistakes"] = self.perceptron["mistakes"][-1]
        return rec

    # ------------------------------------------------------------------ perceptron
    def _perceptron_start(self) -> None:
        """Rosenblatt's rule from w = 0, b = 0, points in a fixed order (as
        :class:`mlplab.perceptron.Perceptron` without shuffling)."""
        from mlplab.perceptron import is_linearly_separable

        X, y = self.Xf_train, self.data.y_train
        separable, _ = is_linearly_separable(X, y)
        order = np.arange(len(X))  # the data's (already shuffled) order, as Perceptron uses
        self.perceptron = {
            "w": np.zeros(X.shape[1]),
            "b": 0.0,
            "order": order,
            "mistakes": [],
            "separable": bool(separable),
        }
        self.notices.append(
            "these points are linearly separable in the chosen features: the perceptron rule "
            "will stop once an epoch has no mistake (Novikoff)"
            if separable
            else "these points are not linearly separable in the chosen features: the "
            "perceptron rule will never settle; its line keeps jumping"
        )

    def _perceptron_epoch(self) -> None:
        """One pass: on each mistake (y·z ≤ 0 with y ∈ {−1, +1}) ``w ← w + η y x, b ← b + η y``."""
        p = self.perceptron
        X, s = self.Xf_train, np.where(self.data.y_train == 1, 1.0, -1.0)
        w, b, lr = p["w"], p["b"], self.config.lr
        mistakes = 0
        for i in p["order"]:
            z = float(X[i] @ w) + b
            if (z >= 0) != (s[i] > 0):
                w += lr * s[i] * X[i]
                b += lr * s[i]
                mistakes += 1
        p["b"] = b
        p["mistakes"].append(mistakes)
        self._sync_perceptron()
        self.epoch += 1
        self.history.append(self._record(grad=None))
        self._cap_history()
        if mistakes == 0:
            self.finished = "converged"
            self.notices.append(f"converged: epoch {self.epoch} had no mistake")

    def _sync_perceptron(self) -> None:
        """Copy (w, b) into the drawn network (one dense layer, step read as z ≥ 0)."""
        dense = self.model.dense_layers()[0][1]
        dense.params["weight"][0, :] = self.perceptron["w"]
        dense.params["bias"][0] = self.perceptron["b"]

    # ------------------------------------------------------------------ edits and probes
    def set_weight(self, layer: int, row: int, col: int, value: float) -> dict:
        """Set one weight (``col = −1``: the bias) of dense layer ``layer``; returns a frame."""
        with self.lock:
            self.touch()
            dense = self.model.dense_layers()
            if layer >= len(dense):
                raise ConfigError(f"layer must be in [0, {len(dense) - 1}]; got {layer}")
            W = dense[layer][1].params["weight"]
            if row >= W.shape[0]:
                raise ConfigError(f"row must be in [0, {W.shape[0] - 1}]; got {row}")
            if col >= W.shape[1]:
                raise ConfigError(f"col must be in [-1, {W.shape[1] - 1}]; got {col}")
            if col < 0:
                dense[layer][1].params["bias"][row] = value
            else:
                W[row, col] = value
            if self.perceptron is not None:
                self.perceptron["w"] = W[0].astype(np.float64).copy()
                self.perceptron["b"] = float(dense[layer][1].params["bias"][0])
                self.finished = None
            self._evaluate_all()
            return self.frame()

    def probe(self, x: float, y: float) -> dict:
        """δ = ∂L/∂z of every unit for the data point nearest (x, y), from one forward and
        backward pass in eval mode (no weight changes); read with :meth:`Network.trace`.
        The point is kept: every later frame carries its δ for the current weights."""
        with self.lock:
            self.touch()
            if self.perceptron is not None:
                raise ConfigError(
                    "the backward view needs a network trained by gradients (MLP mode); the "
                    "perceptron rule uses no δ"
                )
            self.probe_point = (float(x), float(y))
            return self._probe()

    def _probe(self) -> dict:
        with self.lock:
            x, y = self.probe_point
            X = np.vstack([self.data.X_train, self.data.X_test])
            target = np.array([x, y][: self.data.dim])
            i = int(np.argmin(np.sum((X - target) ** 2, axis=1)))
            n_train = len(self.data.X_train)
            split, j = ("train", i) if i < n_train else ("test", i - n_train)
            Xf = self.Xf_train if split == "train" else self.Xf_test
            t = self.t_train if split == "train" else self.t_test
            yv = (self.data.y_train if split == "train" else self.data.y_test)[j]
            model = self.model
            model.zero_grad()
            model.forward(Xf[j : j + 1])
            loss = model.backward(t[j : j + 1])
            blocks = model.trace()
            model.zero_grad()
            layers = []
            for b in blocks:
                layers.append(
                    {
                        "activation": b["activation"],
                        "z": [_num(v) for v in np.asarray(b["z"])[0]],
                        "h": [_num(v) for v in np.asarray(b["h"])[0]],
                        "delta": [_num(v) for v in np.asarray(b["delta"])[0]],
                    }
                )
            return {
                "type": "probe",
                "point": [_num(v) for v in X[i]],
                "split": split,
                "label": _num(yv),
                "loss": _num(loss),
                "layers": layers,
            }

    # ------------------------------------------------------------------ views
    def state(self) -> dict:
        """Everything a page draws once per run: config, data points, layout, feature maps."""
        with self.lock:
            d = self.data
            cfg = self.config
            return {
                "type": "state",
                "session": self.sid,
                "config": cfg.model_dump(),
                "task": d.task,
                "dim": d.dim,
                "extent": EXTENT,
                "grid": GRID if d.dim == 2 else GRID_1D,
                "classes": d.class_names,
                "dataset_note": d.note,
                "head": self.head,
                "heads": ["auto", *_HEADS_BY_TASK[d.task]],
                "sizes": [self.model.input_dim] + [la.units for _, la in self.model.dense_layers()],
                "activations": [
                    la.activation.name for la in self.model.layers if la.kind == "activation"
                ],
                "features": [{"id": f, "label": FEATURE_LABELS[f]} for f in cfg.features],
                "train": {"x": np.round(d.X_train, 4).tolist(), "y": d.y_train.tolist()},
                "test": {"x": np.round(d.X_test, 4).tolist(), "y": d.y_test.tolist()},
                "y_range": list(d.y_range()) if d.task == "regression" else None,
                "n_parameters": self.model.n_parameters,
                "cli": cli_command(cfg, self.head, self._csv_label()),
                "perceptron": self.perceptron is not None
                and {"separable": self.perceptron["separable"]},
                "frame": self.frame(full=True),
            }

    def frame(self, *, full: bool = False) -> dict:
        """What changes while training: metrics, weights, maps, dead units, confusion."""
        with self.lock:
            model = self.model
            if full:
                self.sent = 0
            new = self.history[self.sent :]
            self.sent = len(self.history)
            dense = model.dense_layers()
            weights = [
                {
                    "shape": list(la.params["weight"].shape),
                    "w": _b64(la.params["weight"].astype(np.float32)),
                    "b": _b64(la.params["bias"].astype(np.float32)),
                }
                for _, la in dense
            ]
            z, blocks = self._forward_grid()
            out = self._output_map(z)
            neurons = self._neuron_maps(blocks)
            frame = {
                "type": "frame",
                "epoch": self.epoch,
                "step": self.trainer.step if self.trainer else self.epoch,
                "lr": self._lr(),
                "history": new,
                "full_history": full,
                "metrics": {"epoch": self.epoch, **self._eval["metrics"], "lr": self._lr()},
                "weights": weights,
                "output": out,
                "neurons": neurons,
                "dead": self._eval["dead"],
                "confusion": self._eval["confusion"],
                "finished": self.finished,
                "notices": self.notices,
                "findings": [f.to_dict() for f in self.doctor.findings] if self.doctor else [],
            }
            if self.probe_point is not None and self.perceptron is None:
                frame["probe"] = self._probe()
            self.notices = []
            return frame

    def _forward_grid(self) -> tuple[np.ndarray, list[dict]]:
        z = self.model.forward(self.grid_features)
        return z, self.model.trace()

    def _output_map(self, z: np.ndarray) -> dict:
        d = self.data
        if self.perceptron is not None:
            score = np.where(z[:, 0] >= 0, 1.0, -1.0)
            return {"kind": "score", "data": _b64(_q8(score, -1.0, 1.0)), "hard": True}
        yhat = get_head(self.head).output(z).astype(np.float64)
        if d.task == "regression":
            lo, hi = d.y_range()
            if d.dim == 1:
                return {"kind": "curve", "y": [_num(v) for v in yhat[:, 0]], "lo": lo, "hi": hi}
            return {"kind": "value", "data": _b64(_q8(yhat[:, 0], lo, hi)), "lo": lo, "hi": hi}
        if yhat.shape[1] == 1 or (d.task == "binary" and yhat.shape[1] == 2):
            p1 = yhat[:, -1]
            score = np.clip(2 * p1 - 1, -1, 1)
            if d.dim == 1:
                return {
                    "kind": "curve",
                    "y": [_num(v) for v in np.clip(p1, 0, 1)],
                    "lo": 0,
                    "hi": 1,
                }
            return {"kind": "score", "data": _b64(_q8(score, -1.0, 1.0))}
        k = yhat.argmax(axis=1).astype(np.uint8)
        conf = np.clip(yhat.max(axis=1), 0, 1)
        return {
            "kind": "class",
            "data": _b64(k),
            "conf": _b64(_q8(conf, 1.0 / yhat.shape[1], 1.0)),
        }

    def _neuron_maps(self, blocks: list[dict]) -> list[dict]:
        """Per hidden layer: uint8 maps (units × cells) of h / max|h| and the scales."""
        maps = []
        for b in blocks[:-1]:
            h = _sub(np.asarray(b["h"], dtype=np.float64), self.data.dim)
            scale = np.maximum(np.abs(h).max(axis=0), 1e-9)
            maps.append(
                {"data": _b64(_q8((h / scale).T, -1.0, 1.0)), "scale": [_num(s) for s in scale]}
            )
        return maps

    def _dead_units(self) -> list[list[bool]]:
        """Per hidden layer: units whose φ′(z) is 0 for every point of the last forward pass
        (the training set, see :meth:`_evaluate_all`) — a dead ReLU."""
        out = []
        for la in self.model.layers:
            if la.kind != "activation" or la.z is None:
                continue
            act = la.activation
            if not act.can_die:
                out.append([False] * la.z.shape[1])
                continue
            out.append(np.all(act.df(la.z) == 0, axis=0).tolist())
        return out

    # ------------------------------------------------------------------ files
    def upload_csv(self, name: str, text: str) -> dict:
        """Switch to an uploaded CSV (validated by :func:`make_data`); returns the state."""
        with self.lock:
            self.touch()
            safe = os.path.basename(name.replace("\\", "/")) or "upload.csv"
            cfg = self.config.model_copy(update={"dataset": "csv", "head": "auto"})
            data = make_data(cfg, (safe, text))
            cfg = cfg.model_copy(update={"features": ["x1", "x2"] if data.dim == 2 else ["x1"]})
            if cfg.mode == "perceptron" and data.task != "binary":
                cfg = cfg.model_copy(update={"mode": "mlp"})
            built = self._build(cfg, data)
            self.csv = (safe, text)
            self._install(cfg, data, built)
            self.notices.append(f"loaded {safe}: {data.meta['rows']} rows, {data.task}")
            return self.state()

    def export_model(self) -> bytes:
        """The network as an mlplab model file (:meth:`Network.to_bytes`)."""
        with self.lock:
            self.touch()
            return self.model.to_bytes()

    def export_json(self) -> dict:
        """Config, spec and weights as plain JSON."""
        with self.lock:
            self.touch()
            return {
                "format": "mlplab.playground/1",
                "config": self.config.model_dump(),
                "features": list(self.config.features),
                "head": self.head,
                "epoch": self.epoch,
                "metrics": self.history[-1],
                "spec": self.model.spec,
                "weights": {k: v.tolist() for k, v in self.model.state_dict().items()},
            }

    def import_model(self, raw: bytes, name: str = "model") -> dict:
        """Load an mlplab model file: its layers become the config, its weights the model."""
        with self.lock:
            self.touch()
            model = Network.from_bytes(raw, source=name)
            cfg = self._config_from_spec(model)
            data = self.data
            head = self._head_name(cfg, data)
            if model.head.name != head:
                raise CheckpointError(
                    f"{name} has head {model.head.name}; this {data.task} data set takes "
                    f"{', '.join(_HEADS_BY_TASK[data.task])}"
                )
            n_out = self._n_out(head, data)
            if model.output_dim != n_out:
                raise CheckpointError(
                    f"{name} has {model.output_dim} output(s); this data set needs {n_out}"
                )
            built = self._build(cfg, data)
            built["model"].load_state_dict(model.state_dict())
            self._install(cfg, data, built)
            self.notices.append(f"imported {name}: {model.n_parameters} parameters")
            return self.state()

    def _config_from_spec(self, model: Network) -> PlaygroundConfig:
        """A config describing ``model``'s layers; raises CheckpointError if it has layers the
        playground does not draw."""
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
        feats = list(self.config.features)
        if n_in != len(feats):
            by_size = {1: ["x1"], 2: ["x1", "x2"], len(FEATURES): list(FEATURES)}
            if n_in not in by_size or (self.data.dim == 1 and n_in != 1):
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
            return PlaygroundConfig.model_validate({**self.config.model_dump(), **update})
        except ValueError as exc:
            raise CheckpointError(f"the model does not fit the playground: {exc}") from None


def cli_command(cfg: PlaygroundConfig, head: str, csv: tuple[str, str] | None = None) -> dict:
    """The equivalent ``mlplab train`` command line, with what it cannot reproduce.

    ``csv`` is ``(file name, label column)`` of an uploaded file.
    """
    noise = _VIEW[cfg.dataset][2](cfg.noise) if cfg.dataset in _VIEW else None
    parts = ["mlplab train"]
    if cfg.dataset == "csv":
        name, target = csv or ("your.csv", "label")
        parts += [f"--dataset {shlex.quote(name)}", f"--target {shlex.quote(target)}"]
    else:
        parts += [f"--dataset {cfg.dataset}", f"--subset {cfg.n_samples}", f"--noise {noise:g}"]
    parts += [
        "--val-fraction 0",
        f"--test-fraction {round(1 - cfg.train_ratio, 6):g}",
        f"--hidden {','.join(str(h) for h in cfg.hidden) or 'none'}",
    ]
    if cfg.hidden:
        parts.append(f"--activations {','.join(cfg.activations)}")
    parts += [
        f"--head {head}",
        f"--init {cfg.init}",
        f"--optimizer {cfg.optimizer}",
        f"--lr {cfg.lr:g}",
        f"--schedule {cfg.schedule}",
        f"--epochs {cfg.epochs}",
        f"--batch-size {cfg.batch_size}",
        f"--weight-decay {cfg.weight_decay:g}",
        f"--l1 {cfg.l1:g}",
        f"--l2 {cfg.l2:g}",
        f"--dropout {cfg.dropout:g}",
        f"--norm {cfg.norm}",
        f"--seed {cfg.seed}",
    ]
    notes = [
        "mlplab train standardises the inputs and draws its own weights and batch order, "
        "so its numbers differ a little from the page's"
    ]
    if set(cfg.features) - {"x1", "x2"}:
        notes.append("the extra input features (x₁², x₁x₂, sin …) have no command-line flag")
    if cfg.mode == "perceptron":
        data = (
            f"load_dataset({cfg.dataset!r}, seed={cfg.seed}, n_samples={cfg.n_samples}, "
            f"noise={_VIEW[cfg.dataset][2](cfg.noise) if cfg.dataset in _VIEW else 0:g}, "
            f"val_fraction=0, test_fraction={round(1 - cfg.train_ratio, 6):g}, "
            "standardize=False)"
        )
        code = (
            "from mlplab.data import load_dataset; from mlplab.perceptron import Perceptron; "
            f"d = {data}; "
            f"r = Perceptron(lr={cfg.lr:g}, epochs={cfg.epochs})"
            ".fit(d.X_train, d.y_train).result_; "
            "print(r.converged, r.epochs, r.mistakes_per_epoch[-5:])"
        )
        notes = [
            "the same rule, order and data as the page (for x₁, x₂ inputs of the sets drawn "
            "unscaled: circle, xor, gauss, spiral)"
        ]
        if set(cfg.features) - {"x1", "x2"}:
            notes.append("the extra input features (x₁², x₁x₂, sin …) are not in this snippet")
        return {"command": f'python -c "{code}"', "notes": notes}
    return {"command": " ".join(parts), "notes": notes}
