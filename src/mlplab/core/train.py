"""The training loop — the only one: mini-batches from a passed Generator, epochs, the
schedule, validation, early stopping, regularizers, clipping, max-norm, divergence handling,
callbacks.  It never prints and never writes files — progress bars, diagnostics and
checkpoints are callbacks supplied from outside the engine.

The loop is engine-independent: what one batch does is a *step* object
(:mod:`mlplab.core.steps`) chosen when training starts — the reference step, the fast step
(:mod:`mlplab.core.fastpath`) or the torch step (:mod:`mlplab.backends.torch_train`, whose
``TorchTrainer`` is this loop with that step).  Every rule below is written here once and
holds for all three.

One optimizer step on a batch (X_b, y_b):

1. forward in training mode (dropout on, batch statistics), ``δ_out`` from the head;
2. backward through every layer, accumulating ∂L/∂θ;
3. regularizers add their gradient (L2: λW, L1: λ·sign W; Dense weights only);
4. optional clipping of the global gradient norm;
5. callbacks see the gradients (``on_batch_end``); the optimizer updates θ in place;
6. optional max-norm: each unit's incoming weight vector is rescaled to norm ≤ c;
7. a non-finite loss, update or validation loss stops the run and puts back the state of the
   last finished epoch (weights, buffers, optimizer state, step counter).  An update that makes
   a parameter inf or NaN is caught by the next step's loss — inf and NaN reach the logits
   through every layer — where the parameters are then checked to name the update as the
   cause, and by a check of every parameter after the epoch's last update; so no callback,
   record or checkpoint ever sees a non-finite state, at the cost of one parameter pass per
   epoch instead of one per step.

Batch norm never sees a batch of one row: the batch size is widened until the last batch of
an epoch has at least two rows (:func:`batch_size_for`).

Everything a run depends on — weights, optimizer state, the Generator's state, counters,
history and the early-stopping memory — is in :meth:`Trainer.state_dict`, so a run resumed from
it continues bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from mlplab.core.fastpath import FastStep, FusedSGDStep, fused_sgd_issue
from mlplab.core.losses import check_sample_weight
from mlplab.core.network import Network
from mlplab.core.optim import Optimizer, Schedule, make_optimizer, make_schedule
from mlplab.core.steps import ReferenceStep, Step, batch_accuracy, eval_logits, params_finite
from mlplab.errors import ConfigError, DataError, check_range

log = logging.getLogger("mlplab.core.train")

__all__ = [
    "TrainConfig",
    "Trainer",
    "Callback",
    "History",
    "fit",
    "fit_arguments",
    "evaluate",
    "metric_name",
    "task_metrics",
    "batch_size_for",
    "params_finite",
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
    """Hooks called by :class:`Trainer`.  Override what you need; each receives the trainer.

    ``reads_gradients`` (default True) says that :meth:`on_batch_end` may look at the
    gradients; a callback that never does can set it False, which lets ``Trainer(fast=
    "fused")`` run its fused SGD step — whose update is then already applied when
    :meth:`on_batch_end` is called.
    """

    reads_gradients: bool = True

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch of a ``fit`` call."""

    def on_epoch_begin(self, trainer: Trainer) -> None:
        """Before an epoch's first batch."""

    def on_batch_end(self, trainer: Trainer, batch_loss: float) -> None:
        """After a batch's gradients (regularized, clipped), before the optimizer's update."""

    def on_epoch_end(self, trainer: Trainer) -> None:
        """After an epoch's record is in the history; may set ``trainer.stop``."""

    def on_train_end(self, trainer: Trainer) -> None:
        """When ``fit`` returns."""


@dataclass
class History:
    """One record per epoch: ``epoch``, ``train_loss``, ``train_<metric>`` (running, from the
    training batches), ``val_loss``, ``val_<metric>``, ``lr``, ``seconds``."""

    records: list[dict] = field(default_factory=list)

    def append(self, rec: dict) -> None:
        """Add one epoch's record."""
        self.records.append(rec)

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def last(self) -> dict:
        """The latest record ({} before the first)."""
        return self.records[-1] if self.records else {}

    def to_dict(self) -> dict:
        """``{"records": [...]}``, JSON-serialisable."""
        return {"records": list(self.records)}


def metric_name(task: str) -> str:
    """The task's headline metric: accuracy, r2 or deviance."""
    return {
        "binary": "accuracy",
        "multiclass": "accuracy",
        "multilabel": "accuracy",
        "regression": "r2",
        "count": "deviance",
    }[task]


def task_metrics(head, z: np.ndarray, y: np.ndarray) -> dict:
    """Task metrics from logits and validated labels."""
    task = head.task
    if task in ("multiclass", "binary", "multilabel"):
        return {"accuracy": batch_accuracy(head, z, y)}
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
    z = eval_logits(model, model.as_input(X), batch_size)
    return logits_metrics(model.head, z, y)


def logits_metrics(head, z: np.ndarray, y: np.ndarray) -> dict:
    """``{"loss": …, <task metrics>}`` of eval-mode logits against validated labels."""
    out = {"loss": head.loss(z, y)}
    out.update(task_metrics(head, z, y))
    return out


def batch_size_for(n: int, batch_size: int, needs_two_rows: bool) -> int:
    """The batch size the loop uses for ``n`` rows: ``batch_size``, widened — when the network
    has batch norm — until no batch of one row is left (n = 7, batch 2 → 4)."""
    bs = batch_size
    while needs_two_rows and n % bs == 1 and bs < n:
        bs += 1
    return bs


class Trainer:
    """Runs the loop.  Create it, optionally ``load_state_dict`` a checkpoint, call ``fit``.

    Parameters
    ----------
    model : Network
    optimizer : str, dict or Optimizer
    schedule : str, dict or Schedule, optional
    config : TrainConfig, optional
    rng : numpy.random.Generator or int, optional
        Draws the batch order (and the dropout masks of the NumPy steps).
    callbacks : sequence of Callback
    fast : bool or "fused"
        True: the fast step (:class:`~mlplab.core.fastpath.FastStep`, the same numbers);
        False: the reference step; ``"fused"``: plain SGD folded into the weight-gradient
        products (:class:`~mlplab.core.fastpath.FusedSGDStep`, equal within rounding) where
        :func:`~mlplab.core.fastpath.fused_sgd_issue` allows, else the fast step.  Its
        products run on NumPy's own BLAS through :mod:`mlplab.core.blas` (the same library
        and thread pool as ``np.matmul``); where that cannot be called it is not used.

    The state the loop keeps — the Generator, the counters (``epoch``, ``step``), the
    :class:`History`, the early-stopping memory (``best``, ``wait``, ``stop``,
    ``stop_reason``) — is engine-independent; subclasses (``TorchTrainer``) choose another
    step through :meth:`make_step` and keep the same loop.
    """

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
        if fast not in (True, False, "fused"):
            raise ConfigError(f"fast must be True, False or 'fused'; got {fast!r}")
        self.fast = fast

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
    def state_dict(self) -> dict:
        """Everything a bit-exact resume needs: weights, optimizer state, loop state."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self._loop_state(),
        }

    def load_state_dict(self, sd: dict) -> None:
        """Resume from :meth:`state_dict` (the config and schedule stay those given)."""
        self.model.load_state_dict(sd["model"])
        self.optimizer.load_state_dict(sd["optimizer"])
        self._load_loop_state(sd)

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

    # ------------------------------------------------------------------ the step
    def make_step(self) -> Step:
        """The step object of this run, chosen when ``fit`` starts: the fast step (which
        runs the reference code of whatever its kernels do not implement, see
        :func:`mlplab.core.fastpath.fast_issues`) or, with ``fast=False``, the reference."""
        if self.fast == "fused":
            why = fused_sgd_issue(self.model, self.optimizer, self.config, self.callbacks)
            if why is None:
                return FusedSGDStep(self.model, self.optimizer)
            log.debug("fused SGD step not used (%s); the fast step runs", why)
        if self.fast:
            return FastStep(self.model, self.optimizer)
        return ReferenceStep(self.model, self.optimizer)

    # ------------------------------------------------------------------ the loop's rules
    def _fit_data(self, X, y, X_val, y_val, sample_weight=None):
        """Validate the training (and optional validation) arrays against the model.

        Returns ``(X, y, X_val, y_val, has_val, weight)``; raises DataError for mismatched,
        empty or badly weighted data and ConfigError when early stopping has no validation set.
        """
        model = self.model
        X = model.as_input(X)
        y = model.head.validate(y, model.output_dim, dtype=model.dtype)
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        if len(X) == 0:
            raise DataError("the training set is empty")
        w = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
        has_val = X_val is not None and y_val is not None and len(X_val) > 0
        if has_val:
            X_val = model.as_input(X_val)
            y_val = model.head.validate(y_val, model.output_dim, dtype=model.dtype)
        if self.config.early_stopping and not has_val:
            raise ConfigError("early_stopping needs a validation set")
        return X, y, X_val, y_val, has_val, w

    def _penalty(self, step: Step) -> float:
        """Add the L1/L2 gradients (λ₁·sign W, λ₂W) to the Dense weights' gradients; return
        the penalty's value ½λ₂‖W‖² + λ₁‖W‖₁."""
        c = self.config
        if not (c.l1 or c.l2):
            return 0.0
        total = 0.0
        for W, G in step.dense_pairs():
            if c.l2:
                total += 0.5 * c.l2 * step.sum_squares(W)
                step.add_scaled(G, W, c.l2)
            if c.l1:
                total += c.l1 * step.sum_abs(W)
                step.add_scaled_sign(G, W, c.l1)
        return total

    def _clip(self, step: Step) -> None:
        """Rescale all gradients by c/(‖g‖ + 1e-12) when the global norm ‖g‖ exceeds c."""
        grads = step.grads()
        norm = math.sqrt(sum(step.sum_squares(g) for g in grads))
        if norm > self.config.clip_grad_norm:
            scale = self.config.clip_grad_norm / (norm + 1e-12)
            for g in grads:
                step.scale(g, scale)

    def _max_norm(self, step: Step) -> None:
        """Rescale each unit's incoming weight vector (a row of each Dense W) to norm ≤ c."""
        for W, _ in step.dense_pairs():
            step.cap_row_norms(W, self.config.max_norm)

    def _mark_diverged(self, loss, step: int, cause: str) -> None:
        """Stop the run and record where it diverged: the epoch, the optimizer ``step``
        (1-based, counted over the whole run) whose loss or update turned non-finite, the
        ``cause`` (``"loss"``, ``"parameters"``, or ``"validation"`` when finite weights give
        a non-finite validation loss) and the epoch whose end state is kept."""
        self.stop = True
        self.stop_reason = "divergence"
        self.history.append(
            {
                "epoch": self.epoch + 1,
                "train_loss": float(loss),
                "diverged": True,
                "restored_epoch": self.epoch,
                "step": int(step),
                "cause": cause,
            }
        )

    def _diverged(self, step: Step, loss, cause: str, at: int | None = None) -> None:
        """Stop, put back the state of the last finished epoch (weights, buffers, optimizer
        state and step counter) and record the divergence at step ``at`` (default: the step
        being taken)."""
        if at is None:
            at = self.step + (cause != "validation")
        self._mark_diverged(loss, at, cause)
        if self.last_good_state is not None:
            step.restore(self.last_good_state["engine"])
            self.step = self.last_good_state["step"]

    def _early_stopping(self, rec) -> None:
        """Remember the best validation loss; stop after ``early_stopping`` epochs without."""
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

    # ------------------------------------------------------------------ the loop
    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None) -> History:  # noqa: C901
        """Train for ``config.epochs`` epochs in total (a resumed trainer continues its count).

        ``sample_weight`` (one non-negative weight per training row) makes each batch's loss
        the weighted mean ``Σ w_i l_i / Σ w_i`` of its rows; the epoch's ``train_loss`` is then
        weighted too.
        """
        cfg = self.config
        X, y, X_val, y_val, has_val, w = self._fit_data(X, y, X_val, y_val, sample_weight)
        n = len(X)
        bs = batch_size_for(n, cfg.batch_size, self.model.has_batchnorm())
        self.total_steps = cfg.epochs * math.ceil(n / bs)
        self.stop = False
        step = self.make_step()
        step.prepare(X, y, w, X_val if has_val else None)
        head = self.model.head
        last_loss = math.nan
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while self.epoch < cfg.epochs and not self.stop:
            t0 = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(self)
            if cfg.stop_on_nonfinite:
                self.last_good_state = {"engine": step.capture(), "step": self.step}
            order = self.rng.permutation(n) if cfg.shuffle else np.arange(n)
            loss_sum, metric_sum, seen, weight_seen = 0.0, 0.0, 0, 0.0
            # A diverging run overflows before its loss turns non-finite; the trainer detects
            # that below and reports it, so NumPy's warnings would only be noise.  One errstate
            # for the epoch's batches (entering it per batch cost more than a small step's
            # element-wise work).
            user_errors = np.geterr()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for start in range(0, n, bs):
                    idx = order[start : start + bs]
                    self.optimizer.lr = self.optimizer.base_lr * self.schedule(
                        self.step, self.total_steps
                    )
                    step.set_lr(self.optimizer.lr)
                    loss, z = step.train_batch(idx, self.rng)
                    loss += self._penalty(step)
                    if not math.isfinite(loss):
                        # an update that made the parameters non-finite shows here, in the next
                        # step's loss (inf and NaN reach the logits through every layer): then
                        # the update is what diverged, and the step it happened in is recorded
                        if self.step > 0 and not step.all_finite(step.params()):
                            self._diverged(step, last_loss, "parameters", self.step)
                        else:
                            self._diverged(step, loss, "loss")
                        break
                    if cfg.clip_grad_norm:
                        self._clip(step)
                    if self.callbacks:
                        with np.errstate(**user_errors):  # callbacks see the caller's settings
                            for cb in self.callbacks:
                                cb.on_batch_end(self, loss)
                    step.update()
                    if cfg.max_norm:
                        self._max_norm(step)
                    self.step += 1
                    last_loss = loss  # the loss of the batch whose update is the latest
                    m, bw = len(idx), step.batch_weight(idx)
                    loss_sum += loss * bw
                    if self.metric == "accuracy":
                        metric_sum += step.correct(z, idx) * m
                    seen += m
                    weight_seen += bw
            if self.stop:
                break
            if not step.all_finite(step.params()):  # the epoch's last update (nothing after it)
                self._diverged(step, last_loss, "parameters", self.step)
                break
            rec = {"epoch": self.epoch + 1, "train_loss": loss_sum / weight_seen}
            if self.metric == "accuracy":
                rec["train_accuracy"] = float(metric_sum) / seen
            if has_val:
                # finite weights can still overflow the validation logits: detected just
                # below and reported as divergence, so NumPy's warnings would only be noise
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    ev = logits_metrics(head, step.validation_logits(), y_val)
                rec["val_loss"] = ev.pop("loss")
                rec.update({f"val_{k}": v for k, v in ev.items()})
                if not math.isfinite(rec["val_loss"]):  # finite weights whose outputs overflow
                    self._diverged(step, rec["val_loss"], "validation")
                    break
            rec["lr"] = self.optimizer.lr
            rec["seconds"] = time.perf_counter() - t0
            self.epoch += 1
            self.history.append(rec)
            if has_val:
                self._early_stopping(rec)
            for cb in self.callbacks:
                cb.on_epoch_end(self)
        step.finish()
        if self._restore_best():
            step.reload()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history


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
    trainer=None,
    caller: str = "fit",
    **config,
) -> History:
    """Train ``model`` in place and return its :class:`History`.

    ``optimizer`` is a name, a dict or an :class:`Optimizer`; ``lr`` overrides its learning
    rate; ``validation`` is an ``(X_val, y_val)`` pair; ``fast=False`` runs the reference path
    instead of :class:`~mlplab.core.fastpath.FastStep` (same numbers); remaining keywords go to
    :class:`TrainConfig` (``epochs``, ``batch_size``, ``l2``, ``early_stopping`` …);
    ``sample_weight`` weights the training rows (see :meth:`Trainer.fit`).  ``trainer`` (a
    callable taking the arguments of :class:`Trainer` but ``fast``) builds another trainer of
    the same loop — ``torch_fit`` passes ``TorchTrainer`` — and ``caller`` names the function
    in argument errors.
    """
    optimizer, cfg, (X_val, y_val) = fit_arguments(optimizer, lr, config, validation, caller)
    kw = dict(schedule=schedule, config=cfg, rng=rng, callbacks=callbacks)
    if trainer is None:
        run = Trainer(model, optimizer, fast=fast, **kw)
    else:
        run = trainer(model, optimizer, **kw)
    return run.fit(X, y, X_val, y_val, sample_weight=sample_weight)


def fit_arguments(optimizer, lr, config: dict, validation, caller: str):
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
