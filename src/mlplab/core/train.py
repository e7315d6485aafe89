"""The training loop: mini-batches from a passed Generator, epochs, validation, early stopping,
regularizers, callbacks.  It never prints and never writes files — progress bars, diagnostics
and checkpoints are callbacks supplied from outside the engine.

One optimizer step on a batch (X_b, y_b):

1. forward in training mode (dropout on, batch statistics), ``δ_out`` from the head;
2. backward through every layer, accumulating ∂L/∂θ;
3. regularizers add their gradient (L2: λW, L1: λ·sign W; Dense weights only);
4. optional clipping of the global gradient norm;
5. callbacks see the gradients (``on_batch_end``); the optimizer updates θ in place;
6. optional max-norm: each unit's incoming weight vector is rescaled to norm ≤ c.

Everything a run depends on — weights, optimizer state, the Generator's state, counters,
history and the early-stopping memory — is in :meth:`Trainer.state_dict`, so a run resumed from
it continues bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from mlplab.core.fastpath import FastStep
from mlplab.core.losses import check_sample_weight
from mlplab.core.network import Network
from mlplab.core.optim import Optimizer, Schedule, make_optimizer, make_schedule
from mlplab.errors import ConfigError, DataError, check_range

__all__ = [
    "TrainConfig",
    "Trainer",
    "TrainerBase",
    "Callback",
    "History",
    "fit",
    "evaluate",
    "metric_name",
]


@dataclass
class TrainConfig:
    """Settings of the loop (the optimizer and schedule are passed separately)."""

    epochs: int = 10
    batch_size: int = 128
    shuffle: bool = True
    l1: float = 0.0
    l2: float = 0.0
    max_norm: float | None = None
    clip_grad_norm: float | None = None
    early_stopping: int | None = None  # patience in epochs, on validation loss
    restore_best: bool = True
    min_delta: float = 0.0
    stop_on_nonfinite: bool = True

    def __post_init__(self):
        check_range("epochs", self.epochs, 0, None, integer=True)
        check_range("batch_size", self.batch_size, 1, None, integer=True)
        check_range("l1", self.l1, 0.0, None)
        check_range("l2", self.l2, 0.0, None)
        if self.max_norm is not None:
            check_range("max_norm", self.max_norm, 0.0, None, lo_open=True)
        if self.clip_grad_norm is not None:
            check_range("clip_grad_norm", self.clip_grad_norm, 0.0, None, lo_open=True)
        if self.early_stopping is not None:
            check_range("early_stopping", self.early_stopping, 1, None, integer=True)
        check_range("min_delta", self.min_delta, 0.0, None)


class Callback:
    """Hooks called by :class:`Trainer`.  Override what you need; each receives the trainer."""

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_epoch_begin(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer, batch_loss: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


@dataclass
class History:
    """One record per epoch: ``epoch``, ``train_loss``, ``train_<metric>`` (running, from the
    training batches), ``val_loss``, ``val_<metric>``, ``lr``, ``seconds``."""

    records: list[dict] = field(default_factory=list)

    def append(self, rec: dict) -> None:
        self.records.append(rec)

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def last(self) -> dict:
        return self.records[-1] if self.records else {}

    def to_dict(self) -> dict:
        return {"records": list(self.records)}


def metric_name(task: str) -> str:
    return {
        "binary": "accuracy",
        "multiclass": "accuracy",
        "multilabel": "accuracy",
        "regression": "r2",
        "count": "deviance",
    }[task]


def _metrics(head, z: np.ndarray, y: np.ndarray) -> dict:
    """Task metrics from logits and validated labels."""
    task = head.task
    if task == "multiclass":
        return {"accuracy": float(np.mean(z.argmax(1) == y))}
    if task in ("binary", "multilabel"):
        return {"accuracy": float(np.mean((z >= 0) == (y >= 0.5)))}
    yhat = head.output(z).astype(np.float64)
    y = y.astype(np.float64)
    if task == "regression":
        res = yhat - y
        ss_tot = float(np.sum((y - y.mean(0)) ** 2))
        return {
            "r2": 1.0 - float(np.sum(res**2)) / ss_tot if ss_tot > 0 else float("nan"),
            "rmse": float(np.sqrt(np.mean(res**2))),
            "mae": float(np.mean(np.abs(res))),
        }
    # count: mean Poisson deviance 2·[y log(y/ŷ) − (y − ŷ)]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / yhat), 0.0)
    return {
        "deviance": float(np.mean(2 * (term - (y - yhat)))),
        "rmse": float(np.sqrt(np.mean((yhat - y) ** 2))),
    }


def evaluate(model: Network, X, y, *, batch_size: int = 4096) -> dict:
    """Loss and task metrics in eval mode; labels validated against the model's head."""
    y = model.head.validate(y, model.output_dim, dtype=model.dtype)
    X = model._as_input(X)
    zs = [model.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    z = np.concatenate(zs) if zs else np.zeros((0, model.output_dim), model.dtype)
    out = {"loss": model.head.loss(z, y)}
    out.update(_metrics(model.head, z, y))
    return out


class TrainerBase:
    """The engine-independent bookkeeping of a training loop, shared by :class:`Trainer` and
    :class:`mlplab.backends.torch.TorchTrainer`.

    It holds the optimizer and schedule specs, the :class:`TrainConfig`, the batch-order
    Generator, the callbacks, the counters (``epoch``, ``step``), the :class:`History` and the
    early-stopping memory (``best``, ``wait``, ``stop``, ``stop_reason``).  Subclasses provide
    ``model`` (a :class:`Network` holding the current weights) and the arithmetic of a step.
    """

    def _init_loop(self, model: Network, optimizer, schedule, config, rng, callbacks) -> None:
        """Check that ``model`` can be trained and set up the loop's state (nothing done yet)."""
        if not model.trainable:
            raise ConfigError(
                "this network contains a 'step' activation, which has no gradient; "
                "gradient training needs differentiable activations"
            )
        self.optimizer: Optimizer = make_optimizer(optimizer)
        self.schedule: Schedule = make_schedule(schedule)
        self.config = config or TrainConfig()
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(0 if rng is None else rng)
        self.rng = rng
        self.callbacks = list(callbacks)
        self.history = History()
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps taken
        self.best: dict | None = None  # {"epoch", "val_loss", "state"}
        self.wait = 0
        self.stop = False
        self.stop_reason: str | None = None
        self.last_good_state: dict | None = None
        self.total_steps = 0
        self.metric = metric_name(model.head.task)

    # ------------------------------------------------------------------ state
    def _loop_state(self) -> dict:
        """The loop's part of a ``state_dict``: Generator, counters, history, stopping memory."""
        return {
            "rng": self.rng.bit_generator.state,
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history.to_dict(),
            "best": self.best,
            "wait": self.wait,
            "stop_reason": self.stop_reason,
            "config": asdict(self.config),
            "schedule": self.schedule.spec(),
        }

    def _load_loop_state(self, sd: dict) -> None:
        """Inverse of :meth:`_loop_state` (the config and schedule stay those given)."""
        self.rng.bit_generator.state = sd["rng"]
        self.epoch = int(sd["epoch"])
        self.step = int(sd["step"])
        self.history = History(list(sd["history"]["records"]))
        self.best = sd.get("best")
        self.wait = int(sd.get("wait", 0))
        self.stop_reason = sd.get("stop_reason")

    # ------------------------------------------------------------------ loop
    def _fit_data(self, X, y, X_val, y_val):
        """Validate the training (and optional validation) arrays against the model.

        Returns ``(X, y, X_val, y_val, has_val)``; raises DataError for mismatched or empty
        data and ConfigError when early stopping has no validation set.
        """
        model = self.model
        X = model._as_input(X)
        y = model.head.validate(y, model.output_dim, dtype=model.dtype)
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        if len(X) == 0:
            raise DataError("the training set is empty")
        has_val = X_val is not None and y_val is not None and len(X_val) > 0
        if has_val:
            X_val = model._as_input(X_val)
            y_val = model.head.validate(y_val, model.output_dim, dtype=model.dtype)
        if self.config.early_stopping and not has_val:
            raise ConfigError("early_stopping needs a validation set")
        return X, y, X_val, y_val, has_val

    def _clip_scale(self, squares) -> float | None:
        """The factor c/(‖g‖ + 1e-12) that brings the global gradient norm ‖g‖ = √Σ squares
        down to ``clip_grad_norm`` = c, or None when ‖g‖ ≤ c (``squares``: Σg² per array)."""
        norm = math.sqrt(sum(squares))
        if norm > self.config.clip_grad_norm:
            return self.config.clip_grad_norm / (norm + 1e-12)
        return None

    def _mark_diverged(self, loss) -> None:
        """Stop the run and record the epoch whose loss turned non-finite."""
        self.stop = True
        self.stop_reason = "divergence"
        self.history.append(
            {
                "epoch": self.epoch + 1,
                "train_loss": float(loss),
                "diverged": True,
                "restored_epoch": self.epoch,
            }
        )

    def _early_stopping(self, rec) -> None:
        val = rec["val_loss"]
        if self.best is None or val < self.best["val_loss"] - self.config.min_delta:
            self.best = {"epoch": rec["epoch"], "val_loss": val, "state": self.model.state_dict()}
            self.wait = 0
        else:
            self.wait += 1
            if self.config.early_stopping and self.wait >= self.config.early_stopping:
                self.stop = True
                self.stop_reason = "early_stopping"

    def _restore_best(self) -> bool:
        """After early stopping with ``restore_best``, load the best epoch's weights into
        ``model``; returns whether it did."""
        if self.stop_reason == "early_stopping" and self.config.restore_best and self.best:
            self.model.load_state_dict(self.best["state"])
            return True
        return False


class Trainer(TrainerBase):
    """Runs the loop.  Create it, optionally ``load_state_dict`` a checkpoint, call ``fit``."""

    def __init__(
        self,
        model: Network,
        optimizer="adam",
        *,
        schedule=None,
        config: TrainConfig | None = None,
        rng=None,
        callbacks=(),
        fast: bool = True,
    ):
        self._init_loop(model, optimizer, schedule, config, rng, callbacks)
        self.model = model
        # True: each step runs core.fastpath.FastStep (same numbers, preallocated buffers)
        self.fast = bool(fast)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self._loop_state(),
        }

    def load_state_dict(self, sd: dict) -> None:
        self.model.load_state_dict(sd["model"])
        self.optimizer.load_state_dict(sd["optimizer"])
        self._load_loop_state(sd)

    # ------------------------------------------------------------------ loop
    def _penalty(self) -> float:
        """Add the L1/L2 gradients to the Dense weights; return the penalty's value."""
        c = self.config
        if not (c.l1 or c.l2):
            return 0.0
        total = 0.0
        for _, layer in self.model.dense_layers():
            W, G = layer.params["weight"], layer.grads["weight"]
            if c.l2:
                total += 0.5 * c.l2 * float(np.sum(W * W))
                G += W.dtype.type(c.l2) * W
            if c.l1:
                total += c.l1 * float(np.sum(np.abs(W)))
                G += W.dtype.type(c.l1) * np.sign(W)
        return total

    def _clip(self) -> None:
        grads = self.model.named_gradients().values()
        scale = self._clip_scale(float(np.sum(g * g)) for g in grads)
        if scale is not None:
            for g in grads:
                g *= g.dtype.type(scale)

    def _max_norm(self) -> None:
        c = self.config.max_norm
        for _, layer in self.model.dense_layers():
            W = layer.params["weight"]
            # ‖w_j‖² of every unit in one pass; only the rows over the limit are rescaled
            sq = np.einsum("ij,ij->i", W, W)
            over = np.flatnonzero(sq > W.dtype.type(c) ** 2)
            if over.size:
                scale = W.dtype.type(c) / np.sqrt(sq[over])
                W[over] *= scale[:, None]

    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None) -> History:
        """Train for ``config.epochs`` epochs in total (a resumed trainer continues its count).

        ``sample_weight`` (one non-negative weight per training row) makes each batch's loss
        the weighted mean ``Σ w_i l_i / Σ w_i`` of its rows; the epoch's ``train_loss`` is then
        weighted too.
        """
        model, cfg = self.model, self.config
        X, y, X_val, y_val, has_val = self._fit_data(X, y, X_val, y_val)
        w = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
        n, bs = len(X), cfg.batch_size
        while model.has_batchnorm() and n % bs == 1 and bs < n:
            bs += 1  # never leave a batch of one row for batch norm (n = 7, bs = 2 needs 4)
        steps_per_epoch = math.ceil(n / bs)
        self.total_steps = cfg.epochs * steps_per_epoch
        self.stop = False
        params, grads = model.named_parameters(), model.named_gradients()
        fast = FastStep(model, self.optimizer) if self.fast else None
        for cb in self.callbacks:
            cb.on_train_begin(self)
        import time

        while self.epoch < cfg.epochs and not self.stop:
            t0 = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(self)
            if cfg.stop_on_nonfinite:
                self.last_good_state = {k: v.copy() for k, v in params.items()}
            order = self.rng.permutation(n) if cfg.shuffle else np.arange(n)
            loss_sum, metric_sum, seen, weight_seen = 0.0, 0.0, 0, 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                Xb, yb = X[idx], y[idx]
                wb = None if w is None else w[idx]
                self.optimizer.lr = self.optimizer.base_lr * self.schedule(
                    self.step, self.total_steps
                )
                # A diverging run overflows before its loss turns non-finite; the trainer
                # detects that below and reports it, so NumPy's warnings would only be noise.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    if fast is None:  # the reference path
                        model.zero_grad()
                        z = model.forward(Xb, training=True, rng=self.rng)
                        loss = model.backward(yb, validated=True, weight=wb) + self._penalty()
                    else:
                        z, loss = fast.forward_backward(Xb, yb, self.rng, weight=wb)
                        loss += self._penalty()
                if not math.isfinite(loss):
                    self._diverged(params, loss)
                    break
                if cfg.clip_grad_norm:
                    self._clip()
                for cb in self.callbacks:
                    cb.on_batch_end(self, loss)
                if fast is None:
                    self.optimizer.step(params, grads)
                else:
                    fast.update()
                if cfg.max_norm:
                    self._max_norm()
                self.step += 1
                m = len(idx)
                loss_sum += loss * (m if wb is None else float(wb.sum()))
                if self.metric == "accuracy":
                    metric_sum += _metrics(model.head, z, yb)["accuracy"] * m
                seen += m
                weight_seen += m if wb is None else float(wb.sum())
            if self.stop:
                break
            rec = {"epoch": self.epoch + 1, "train_loss": loss_sum / weight_seen}
            if self.metric == "accuracy":
                rec["train_accuracy"] = metric_sum / seen
            if has_val:
                ev = evaluate(model, X_val, y_val)
                rec["val_loss"] = ev.pop("loss")
                rec.update({f"val_{k}": v for k, v in ev.items()})
            rec["lr"] = self.optimizer.lr
            rec["seconds"] = time.perf_counter() - t0
            self.epoch += 1
            self.history.append(rec)
            if has_val:
                self._early_stopping(rec)
            for cb in self.callbacks:
                cb.on_epoch_end(self)
        self._restore_best()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _diverged(self, params, loss) -> None:
        """Stop, put back the weights of the last finished epoch, record the divergence."""
        self._mark_diverged(loss)
        if self.last_good_state is not None:
            for k, v in params.items():
                v[...] = self.last_good_state[k]


def fit(
    model: Network,
    X,
    y,
    *,
    optimizer="adam",
    lr: float | None = None,
    schedule=None,
    validation=None,
    rng=None,
    callbacks=(),
    fast: bool = True,
    sample_weight=None,
    **config,
) -> History:
    """Train ``model`` in place and return its :class:`History`.

    ``optimizer`` is a name, a dict or an :class:`Optimizer`; ``lr`` overrides its learning
    rate; ``validation`` is an ``(X_val, y_val)`` pair; ``fast=False`` runs the reference path
    instead of :class:`~mlplab.core.fastpath.FastStep` (same numbers); remaining keywords go to
    :class:`TrainConfig` (``epochs``, ``batch_size``, ``l2``, ``early_stopping`` …);
    ``sample_weight`` weights the training rows (see :meth:`Trainer.fit`).
    """
    optimizer, cfg, (X_val, y_val) = _fit_arguments(optimizer, lr, config, validation, "fit")
    trainer = Trainer(
        model, optimizer, schedule=schedule, config=cfg, rng=rng, callbacks=callbacks, fast=fast
    )
    return trainer.fit(X, y, X_val, y_val, sample_weight=sample_weight)


def _fit_arguments(optimizer, lr, config: dict, validation, caller: str):
    """The keyword handling shared by :func:`fit` and ``torch_fit``.

    Returns ``(optimizer, TrainConfig, (X_val, y_val))``: ``lr`` merged into a named or dict
    optimizer spec (an :class:`Optimizer` object keeps its own), the config built from the
    remaining keywords (an unknown one is a ConfigError naming ``caller``) and the validation
    pair (``(None, None)`` without one).
    """
    if lr is not None:
        if isinstance(optimizer, str):
            optimizer = {"name": optimizer, "lr": lr}
        elif isinstance(optimizer, dict):
            optimizer = {**optimizer, "lr": lr}
    try:
        cfg = TrainConfig(**config)
    except TypeError as exc:
        raise ConfigError(f"{caller}: {exc}") from None
    X_val, y_val = validation if validation is not None else (None, None)
    return optimizer, cfg, (X_val, y_val)
