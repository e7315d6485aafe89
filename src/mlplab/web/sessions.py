"""One playground page's run: its network and its training, driven by the engine.

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

The data live in :mod:`mlplab.web.data`, the encoding of what is sent in
:mod:`mlplab.web.frames`, the metrics and backward view in :mod:`mlplab.web.evaluation`, the
command-line box in :mod:`mlplab.web.commandline` and the model file checks in
:mod:`mlplab.web.model_files`.  What is left here (about 630 lines) is one class whose methods
share the session's lock and run state; splitting it further would pass that state around.
The public names used by callers
(``make_data``, ``PlayData``, ``feature_matrix``, ``EXTENT``, ``FEATURE_LABELS``,
``cli_command``) are importable from here as well.
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

from mlplab.core.losses import head_for_task, heads_for_task
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import make_optimizer, make_schedule
from mlplab.core.train import TrainConfig, Trainer
from mlplab.errors import CheckpointError, ConfigError, DataError
from mlplab.web.commandline import cli_command
from mlplab.web.data import EXTENT, FEATURE_LABELS, PlayData, feature_matrix, make_data
from mlplab.web.evaluation import backward_view, evaluate_run
from mlplab.web.frames import (
    GRID,
    GRID_1D,
    grid_points,
    json_float,
    neuron_maps,
    output_map,
    weights_payload,
)
from mlplab.web.model_files import config_from_model, load_model_file
from mlplab.web.monitors import EpochMonitor, make_doctor, trim_records
from mlplab.web.perceptron_mode import PerceptronRule
from mlplab.web.schemas import PlaygroundConfig

__all__ = [
    "Session",
    "EpochMonitor",
    "trim_records",
    # re-exported for callers of the former single module
    "PlayData",
    "make_data",
    "feature_matrix",
    "EXTENT",
    "FEATURE_LABELS",
    "cli_command",
]

#: Epoch records kept per run (older ones are thinned out).
HISTORY_CAP = 4000
#: Training rows the doctor watches (its fixed probe batch).
DOCTOR_PROBE = 256
#: Batches per piece of a large epoch: the time budget of a frame is checked after each piece.
PIECE_BATCHES = 64

#: Class tasks on which the playground also offers squared error on one-hot labels, so a
#: learner can compare it with the matching cross-entropy head (``targets`` builds the labels).
MSE_ON_CLASSES = ("binary", "multiclass")


def playground_heads(task: str) -> list[str]:
    """The heads the page offers for ``task``: the heads that suit it (``heads_for_task``, the
    canonical one first) and, for class tasks, squared error on one-hot labels."""
    heads = heads_for_task(task)
    if task in MSE_ON_CLASSES and "identity_mse" not in heads:
        heads.append("identity_mse")
    return heads


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
        allowed = playground_heads(data.task)
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
            return {
                "model": model,
                "trainer": None,
                "head": head,
                "monitor": None,
                "doctor": None,
                "piece_rng": None,
            }
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
        monitor = EpochMonitor()
        doctor = make_doctor(
            feature_matrix(data.X_train[:DOCTOR_PROBE], cfg.features), self._on_finding
        )
        trainer = Trainer(
            model,
            self._optimizer_spec(cfg),
            schedule=cfg.schedule,
            config=self._train_config(cfg, len(data.X_train)),
            rng=np.random.default_rng([cfg.seed, 2]),
            callbacks=[monitor, doctor],
        )
        return {
            "model": model,
            "trainer": trainer,
            "head": head,
            "monitor": monitor,
            "doctor": doctor,
            "piece_rng": np.random.default_rng([cfg.seed, 3]),
        }

    @staticmethod
    def pieces_per_epoch(n: int, batch_size: int) -> int:
        """How many ``fit`` calls one epoch over ``n`` rows takes: 1 up to
        :data:`PIECE_BATCHES` batches, else that many batches per piece (rounded up)."""
        return max(1, math.ceil(n / (PIECE_BATCHES * batch_size)))

    def _train_config(self, cfg: PlaygroundConfig, n: int) -> TrainConfig:
        """The trainer's settings; its epochs count pieces, so its schedule spans the run."""
        pieces = self.pieces_per_epoch(n, cfg.batch_size)
        return TrainConfig(
            epochs=cfg.epochs * pieces, batch_size=cfg.batch_size, l1=cfg.l1, l2=cfg.l2
        )

    @staticmethod
    def _optimizer_spec(cfg: PlaygroundConfig) -> dict:
        return {"name": cfg.optimizer, "lr": cfg.lr, "weight_decay": cfg.weight_decay}

    def _install(self, cfg: PlaygroundConfig, data: PlayData, built: dict) -> None:
        """Make ``cfg``, ``data`` and the built model the session's run, all or nothing: if a
        step fails (the data do not suit the head, say), the previous run stays in place."""
        saved = dict(self.__dict__)
        saved["notices"] = list(getattr(self, "notices", []))
        try:
            self._install_run(cfg, data, built)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _install_run(self, cfg: PlaygroundConfig, data: PlayData, built: dict) -> None:
        self.config = cfg
        self.data = data
        self.model: Network = built["model"]
        self.trainer: Trainer | None = built["trainer"]
        self.monitor: EpochMonitor | None = built["monitor"]
        self.doctor = built["doctor"]
        self.piece_rng = built["piece_rng"]
        self.pieces: list[np.ndarray] = []  # the rest of a large epoch under way
        self.n_pieces = 0
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
        self.grid = grid_points(data.dim)
        self.grid_features = feature_matrix(self.grid, cfg.features)
        self.perceptron: PerceptronRule | None = None
        self.probe_point: tuple[float, float] | None = None
        if cfg.mode == "perceptron":
            self.perceptron = PerceptronRule(self.Xf_train, data.y_train)
            self.notices.append(self.perceptron.notice())
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
        tr.config = self._train_config(cfg, len(self.Xf_train))
        if self.finished == "horizon" and cfg.epochs > self.epoch:
            self.finished = None

    def reset(self) -> dict:
        """New weights from the seed, same data; returns the state."""
        with self.lock:
            self.touch()
            self._install(self.config, self.data, self._build(self.config, self.data))
            return self.state()

    def touch(self) -> None:
        """Mark the session as used now (the idle timeout counts from here)."""
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
        """Train up to ``epochs`` epochs; returns a frame.

        Stops early when the run reached ``config.epochs``, diverged or, for the perceptron,
        made no mistake, and as soon as ``budget_s`` has passed.  The budget is checked after
        each piece of :data:`PIECE_BATCHES` batches, so a large epoch (one-row batches of
        thousands of rows) is spread over several frames: the frame's ``epoch_progress`` says
        how much of the current epoch is done.  Where the pieces fall does not depend on the
        budget, so the same configuration trains to the same weights however it is framed.
        """
        with self.lock:
            t0 = time.perf_counter()
            done = 0
            while done < epochs and self.finished is None:
                if self.epoch >= self.config.epochs and not self.pieces:
                    self.finished = "horizon"
                    self.notices.append(
                        f"reached epochs = {self.config.epochs}; raise epochs to train on"
                    )
                    break
                if self.perceptron is not None:
                    self._perceptron_epoch()
                    done += 1
                elif self._mlp_piece():
                    done += 1
                if time.perf_counter() - t0 > budget_s:
                    break
            frame = self.frame()
            frame["step_ms"] = (time.perf_counter() - t0) * 1000.0
            frame["epochs_run"] = done
            return frame

    def _on_finding(self, finding) -> None:
        self.notices.append(f"doctor: {finding.severity}: {finding.summary}")

    def _mlp_piece(self) -> bool:
        """Train the next piece of the current epoch (the whole epoch when it is small);
        True when that finished the epoch."""
        tr = self.trainer
        if not self.pieces:
            n = len(self.Xf_train)
            k = self.pieces_per_epoch(n, self.config.batch_size)
            # a small epoch is one piece that the trainer shuffles itself; a large one is cut
            # from a permutation of the session's own, so each row is seen once per epoch
            self.pieces = [None] if k == 1 else np.array_split(self.piece_rng.permutation(n), k)
            self.n_pieces = len(self.pieces)
        idx = self.pieces.pop(0)
        last = not self.pieces
        X, t = self.Xf_train, self.t_train
        if idx is not None:
            X, t = X[idx], t[idx]
        val = self._val if last else ()  # the test split is the validation, once per epoch
        # the doctor watches the piece that ends the epoch (all of a small epoch): it probes
        # and diagnoses once per epoch, as it would for an unbroken one
        tr.callbacks = (
            [self.monitor] if self.doctor is None or not last else [self.monitor, self.doctor]
        )
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
            tr.fit(X, t, *val)
        trim_records(tr.history.records, 10, HISTORY_CAP)
        if self.doctor is not None and last:
            rec = self.doctor.record
            trim_records(rec["checks"], 30, 150)
            trim_records(rec["activations"], 3, 60)
            trim_records(rec["weights"], 3, 60)
        if tr.stop_reason == "divergence":
            tr.stop_reason = None
            self.pieces = []
            self.monitor.discard()
            self.finished = "diverged"
            self.notices.append(
                "training diverged (the loss became NaN or inf); the weights are back to their "
                "last finite values (at most one epoch back); lower the learning rate"
            )
            return False
        if not last:
            return False
        self.epoch += 1
        self.history.append(self._record(grad=self.monitor.take()))
        self._cap_history()
        return True

    def _cap_history(self) -> None:
        if len(self.history) > HISTORY_CAP:
            # keep the first record and every other one of the older half
            half = len(self.history) // 2
            self.history = self.history[:1] + self.history[1:half:2] + self.history[half:]
            self.sent = min(self.sent, len(self.history))

    def _evaluate_all(self) -> None:
        """Metrics, dead units and confusion matrix for the current weights, kept in
        ``_eval`` (:func:`mlplab.web.evaluation.evaluate_run`)."""
        self._eval = evaluate_run(
            self.model,
            self.head,
            self.data,
            self.perceptron,
            (self.Xf_train, self.t_train),
            (self.Xf_test, self.t_test),
        )

    def _lr(self) -> float | None:
        return json_float(self.trainer.optimizer.lr if self.trainer else self.config.lr)

    def _record(self, grad) -> dict:
        self._evaluate_all()
        rec = {"epoch": self.epoch, **self._eval["metrics"], "lr": self._lr()}
        if grad is not None:
            rec["grad"] = [json_float(g) for g in grad]
        if self.perceptron is not None and self.perceptron.mistakes:
            rec["mistakes"] = self.perceptron.mistakes[-1]
        return rec

    # ------------------------------------------------------------------ perceptron
    def _perceptron_epoch(self) -> None:
        """One pass of Rosenblatt's rule; stops the run at the first epoch without mistakes."""
        mistakes = self.perceptron.epoch(self.Xf_train, self.data.y_train, self.config.lr)
        self.perceptron.copy_into(self.model)
        self.epoch += 1
        self.history.append(self._record(grad=None))
        self._cap_history()
        if mistakes == 0:
            self.finished = "converged"
            self.notices.append(f"converged: epoch {self.epoch} had no mistake")

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
                self.perceptron.copy_from(self.model)
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
        """The probe message for the kept point and the current weights."""
        with self.lock:
            return backward_view(
                self.model,
                self.data,
                self.probe_point,
                (self.Xf_train, self.t_train),
                (self.Xf_test, self.t_test),
            )

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
                "heads": ["auto", *playground_heads(d.task)],
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
                and {"separable": self.perceptron.separable},
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
            weights = weights_payload(model)
            z, blocks = self._forward_grid()
            out = output_map(z, self.head, self.data, hard=self.perceptron is not None)
            neurons = neuron_maps(blocks, self.data.dim)
            frame = {
                "type": "frame",
                "epoch": self.epoch,
                "epoch_progress": 1.0 - len(self.pieces) / self.n_pieces if self.pieces else 0.0,
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
            self._install(cfg, data, built)
            self.csv = (safe, text)
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
            model = load_model_file(raw, name)
            cfg = config_from_model(model, self.config, self.data.dim)
            data = self.data
            head = self._head_name(cfg, data)
            if model.head.name != head:
                raise CheckpointError(
                    f"{name} has head {model.head.name}; this {data.task} data set takes "
                    f"{', '.join(playground_heads(data.task))}"
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
