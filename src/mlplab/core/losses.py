"""Output heads: an output activation paired with its loss (the GLM view of the last layer).

A head receives the logits ``z_out`` of shape (n, k) and computes, stably and from the logits
(never from a rounded probability):

* ``loss(z, y)``   — the mean over samples of the per-sample negative log-likelihood, where the
  per-sample loss sums over the k outputs;
* ``delta(z, y)``  — ``δ_out = ∂L/∂z_out``, shape (n, k);
* ``output(z)``    — ŷ, the mean of the assumed distribution (probabilities, values, rates);
* ``predict(z)``   — class ids / label sets for classifiers, values for regression.

With per-row sample weights ``w`` (``loss(z, y, weight=w)``) the mean becomes the weighted
mean ``Σ w_i l_i / Σ w_i`` (scikit-learn's semantics) and ``δ_out`` row i is
``w_i ∂l_i/∂z_i / Σ w`` — a batch whose weights are all 0 contributes a loss of 0 and δ = 0.

For the canonical pairs (sigmoid + BCE, softmax + CE, identity + ½·squared error,
exp + Poisson NLL) the per-sample ``δ_out`` is exactly ``ŷ − y``; divided by n because the loss is
a mean.  Identity + MAE is the non-canonical case: δ = sign(ŷ − y)/n.

The squared-error head uses ½(ŷ − y)², the Gaussian NLL with unit variance up to a constant, so
that its δ is ``ŷ − y`` like the others; its reported MSE metric is the usual mean (ŷ − y)².
"""

from __future__ import annotations

import abc
import math

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax

from mlplab.core.kernels import settings_issue
from mlplab.errors import ConfigError, DataError

__all__ = [
    "Head",
    "HEADS",
    "get_head",
    "head_names",
    "head_for_task",
    "heads_for_task",
    "TASKS",
    "check_sample_weight",
    "MAX_LOG_RATE",
]

#: The exponential head caps its log-rate here: exp(80) ≈ 5.5e34 still fits float32.
MAX_LOG_RATE = 80.0


def check_sample_weight(weight, n: int) -> np.ndarray:
    """Per-row sample weights as a float64 array of shape (n,).

    Raises DataError unless ``weight`` has one finite, non-negative entry per row and a
    positive sum.
    """
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("sample_weight must be numeric") from None
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.reshape(-1)
    if w.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), one weight per row; got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise DataError("sample_weight contains NaN or inf")
    if n and w.min() < 0:
        raise DataError(f"sample_weight must be >= 0; got {w.min():g}")
    if not w.sum() > 0:
        raise DataError("sample_weight must have a positive sum")
    return w


def _weighted_mean(per_row: np.ndarray, weight: np.ndarray) -> float:
    """``Σ w_i l_i / Σ w_i`` (0 when every weight is 0)."""
    total = float(np.sum(weight))
    if total == 0.0:
        return 0.0
    return float(np.dot(weight, per_row.astype(np.float64, copy=False)) / total)


def _weighted_delta(per_row: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Row i of ``per_row`` (∂l_i/∂z_i) times ``w_i / Σ w`` (all 0 when every weight is 0)."""
    total = float(np.sum(weight))
    scale = weight / total if total > 0 else np.zeros_like(weight)
    return per_row * scale.astype(per_row.dtype, copy=False)[:, None]


class Head(abc.ABC):
    """Base class.  ``task`` is one of binary, multiclass, multilabel, regression, count."""

    name: str = "?"
    activation: str = "?"
    loss_name: str = "?"
    distribution: str = "?"
    task: str = "?"
    canonical: bool = True
    #: Tasks whose labels this head can fit; its own ``task`` (where it is the default) first.
    tasks: tuple[str, ...] = ()

    def n_outputs(self, y: np.ndarray) -> int:
        """Number of output units this head needs for label array ``y``."""
        return 1 if y.ndim == 1 else y.shape[1]

    def validate(self, y, n_out: int | None = None, dtype=np.float64) -> np.ndarray:
        """Check labels and return them as a 2-D array (n, k) (int ids (n,) for softmax)."""
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2:
            raise DataError(f"y must have shape (n,) or (n, k) for head {self.name}; got {y.shape}")
        if n_out is not None and y.shape[1] != n_out:
            raise DataError(
                f"y has {y.shape[1]} column(s) but head {self.name} has {n_out} output(s)"
            )
        try:
            y = y.astype(dtype)
        except (TypeError, ValueError):
            raise DataError(f"y must be numeric for head {self.name}") from None
        if not np.all(np.isfinite(y)):
            raise DataError(f"y contains NaN or inf (head {self.name})")
        return y

    @abc.abstractmethod
    def loss(self, z: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> float:
        """Mean over the n samples of the per-sample loss (summed over outputs); with
        ``weight`` (n,) the weighted mean ``Σ w_i l_i / Σ w_i``."""

    @abc.abstractmethod
    def delta(self, z: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
        """δ_out = ∂L/∂z, shape (n, k), of :meth:`loss` with the same ``weight``."""

    @abc.abstractmethod
    def output(self, z: np.ndarray) -> np.ndarray:
        """ŷ: the mean of the head's distribution given the logits."""

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Predictions from logits (the base: ŷ itself)."""
        return self.output(z)

    def output_vjp(self, z: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``Jᵀ v`` row by row, J = ∂ŷ/∂z the output Jacobian (the base: element-wise heads,
        ``v ⊙ dŷ/dz``); with ``v = e_k`` it is ∂ŷ_k/∂z."""
        return v * self.output_derivative(z)

    def output_derivative(self, z: np.ndarray) -> np.ndarray:
        """dŷ/dz element-wise (for heads whose output is an element-wise map of z)."""
        return np.ones_like(z)

    def spec(self) -> str:
        """The name :func:`get_head` turns back into this head."""
        return self.name

    def fast_issue(self) -> str | None:
        """None when :meth:`loss_and_delta_into` implements this head (the fast step's fused
        kernel); else why not — the fast step then calls :meth:`loss` and :meth:`delta`."""
        return f"head {self.name!r} has no fused kernel"

    def fast_buffers(self, n: int, k: int, dtype) -> dict:
        """Scratch arrays of :meth:`loss_and_delta_into` for ``n`` rows and ``k`` outputs."""
        return {}

    def loss_and_delta_into(self, z, y, buf: dict) -> tuple[float, np.ndarray]:
        """``(loss(z, y), delta(z, y))`` with ``buf``'s arrays (base: the reference pair)."""
        return self.loss(z, y), self.delta(z, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.activation} + {self.loss_name})"


class SigmoidBCE(Head):
    r"""Binary classification: ŷ = σ(z),  L = −[y log ŷ + (1 − y) log(1 − ŷ)],  δ = ŷ − y.

    Bernoulli likelihood, logit link.  Computed as ``−y·logσ(z) − (1−y)·logσ(−z)`` so large |z|
    never takes the log of 0.
    """

    name = "sigmoid_bce"
    activation = "sigmoid"
    loss_name = "binary cross-entropy"
    distribution = "Bernoulli"
    task = "binary"
    tasks = ("binary",)

    def validate(self, y, n_out=None, dtype=np.float64):
        """Labels checked as :meth:`Head.validate` does, plus this head's own constraint."""
        y = super().validate(y, n_out, dtype)
        if not np.all((y == 0) | (y == 1)):
            raise DataError(f"y for head {self.name} must be 0 or 1")
        return y

    def loss(self, z, y, weight=None):
        """Mean (or weighted mean) binary cross-entropy, summed over the outputs."""
        per = -(y * log_expit(z) + (1 - y) * log_expit(-z))
        if weight is not None:
            return _weighted_mean(per.sum(axis=1), weight)
        return float(per.sum() / z.shape[0])

    def delta(self, z, y, weight=None):
        """δ = (σ(z) − y)/n, or row i scaled by w_i/Σw."""
        if weight is not None:
            return _weighted_delta(expit(z) - y, weight)
        return (expit(z) - y) / z.shape[0]

    def output(self, z):
        """σ(z)."""
        return expit(z)

    def output_derivative(self, z):
        """σ′(z) = ŷ(1 − ŷ)."""
        yhat = expit(z)
        return yhat * (1 - yhat)

    def predict(self, z):
        """1 where z ≥ 0."""
        return (z >= 0).astype(np.int64)


class MultilabelBCE(SigmoidBCE):
    r"""Multi-label: an independent sigmoid + BCE per label (Bernoulli × K); δ = ŷ − y per label."""

    name = "multilabel_bce"
    distribution = "Bernoulli x K"
    task = "multilabel"
    tasks = ("multilabel",)


class SoftmaxCE(Head):
    r"""Multi-class: ŷ = softmax(z),  L = −log ŷ_y,  δ = ŷ − onehot(y).

    Categorical likelihood; computed with log-softmax (max subtracted) so it never overflows.
    Labels are integer class ids 0 … K−1 of shape (n,), or one-hot rows of shape (n, K).
    """

    name = "softmax_ce"
    activation = "softmax"
    loss_name = "categorical cross-entropy"
    distribution = "Categorical"
    task = "multiclass"
    tasks = ("multiclass", "binary")

    def n_outputs(self, y):
        """The number of classes: the columns of one-hot ``y``, else max id + 1."""
        y = np.asarray(y)
        return y.shape[1] if y.ndim == 2 else int(y.max()) + 1

    def validate(self, y, n_out=None, dtype=np.float64):
        """Labels checked as :meth:`Head.validate` does, plus this head's own constraint."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
            if n_out is not None and y.shape[1] != n_out:
                raise DataError(f"y has {y.shape[1]} columns but head {self.name} has {n_out}")
            if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1)):
                raise DataError(f"one-hot y for head {self.name} must have one 1 per row")
            return y.argmax(1)
        y = y.reshape(-1)
        if y.size and not np.all(np.isfinite(y.astype(np.float64, copy=False))):
            raise DataError(f"y contains NaN or inf (head {self.name})")
        if y.size and not np.all(y == np.round(y)):
            raise DataError(f"y for head {self.name} must be integer class ids")
        y = y.astype(np.int64)
        if y.size and y.min() < 0:
            raise DataError(f"class ids for head {self.name} must be >= 0; got {y.min()}")
        if n_out is not None and y.size and y.max() >= n_out:
            raise DataError(
                f"class ids for head {self.name} must be in [0, {n_out - 1}]; got {y.max()}"
            )
        return y

    def loss(self, z, y, weight=None):
        """Mean (or weighted mean) of −log softmax(z)_y."""
        lp = log_softmax(z, axis=1)
        picked = lp[np.arange(z.shape[0]), y]
        if weight is not None:
            return _weighted_mean(-picked, weight)
        return float(-picked.sum() / z.shape[0])

    def delta(self, z, y, weight=None):
        """δ = (softmax(z) − onehot y)/n, or row i scaled by w_i/Σw."""
        p = softmax(z, axis=1)
        p[np.arange(z.shape[0]), y] -= 1.0
        if weight is not None:
            return _weighted_delta(p, weight)
        p /= z.shape[0]
        return p

    def output(self, z):
        """softmax(z) row by row."""
        return softmax(z, axis=1)

    def output_vjp(self, z, v):
        """``ŷ ⊙ (v − ⟨v, ŷ⟩)``: the softmax Jacobian ∂ŷ_i/∂z_j = ŷ_i(δ_ij − ŷ_j) is symmetric."""
        yhat = softmax(z, axis=1)
        return yhat * (v - np.sum(v * yhat, axis=1, keepdims=True))

    def predict(self, z):
        """The class with the largest logit."""
        return z.argmax(axis=1)

    # The fused kernel, the same numbers as loss and delta: one exp(z − max z) gives the loss
    # (as log_softmax: −(z_y − m − log Σ e^{z−m}), averaged) and δ = (ŷ − onehot y)/n.
    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(self, SoftmaxCE, (), ("loss", "delta", "validate"))

    def fast_buffers(self, n, k, dtype):
        """The fast kernel's arrays for a batch of ``n`` rows."""
        return {
            "row_starts": np.arange(n) * k,  # where each row starts in the flattened (n·k)
            "flat": np.empty(n, np.intp),  # flat index of each row's label
            "zmax": np.empty((n, 1), dtype),
            "shifted": np.empty((n, k), dtype),  # z − max z
            "expz": np.empty((n, k), dtype),
            "sumexp": np.empty((n, 1), dtype),
            "logsum": np.empty(n, dtype),
            "picked": np.empty(n, dtype),
            "delta": np.empty((n, k), dtype),
        }

    def loss_and_delta_into(self, z, y, buf):
        """The fused loss and δ_out, with the same numbers as :meth:`loss` and :meth:`delta`.

        The same operations in the same order as the reference; ufunc reductions are called
        directly and the label entries are reached through flat indices, which saves most of
        the per-call overhead on a (128, 10) batch.
        """
        n = z.shape[0]
        zmax, shifted, expz, sumexp = buf["zmax"], buf["shifted"], buf["expz"], buf["sumexp"]
        np.maximum.reduce(z, axis=1, keepdims=True, out=zmax)  # m = max_k z_k
        np.subtract(z, zmax, out=shifted)  # z − m
        np.exp(shifted, out=expz)  # e^{z − m}
        np.add.reduce(expz, axis=1, keepdims=True, out=sumexp)  # Σ_k e^{z_k − m}
        flat = np.add(buf["row_starts"], y, out=buf["flat"])
        picked = np.take(shifted.reshape(-1), flat, out=buf["picked"])  # z_y − m
        np.subtract(picked, np.log(sumexp[:, 0], out=buf["logsum"]), out=picked)  # log ŷ_y
        loss = float(-picked.sum() / n)
        if not math.isfinite(loss):  # non-finite logits: report the reference's exact value
            loss = self.loss(z, y)
        delta = np.divide(expz, sumexp, out=buf["delta"])  # ŷ
        flat_delta = delta.reshape(-1)
        flat_delta[flat] -= 1.0  # ŷ − onehot(y)
        np.divide(delta, n, out=delta)  # the loss is a mean
        return loss, delta


class IdentityMSE(Head):
    r"""Regression: ŷ = z,  L = ½‖ŷ − y‖²,  δ = ŷ − y.  Gaussian likelihood, identity link."""

    name = "identity_mse"
    activation = "identity"
    loss_name = "squared error (1/2)"
    distribution = "Gaussian"
    task = "regression"
    tasks = ("regression", "count")

    def loss(self, z, y, weight=None):
        """Mean (or weighted mean) of ½‖z − y‖²."""
        r = z - y
        if weight is not None:
            return _weighted_mean(0.5 * np.sum(r * r, axis=1), weight)
        return float(0.5 * np.sum(r * r) / z.shape[0])

    def delta(self, z, y, weight=None):
        """δ = (z − y)/n, or row i scaled by w_i/Σw."""
        if weight is not None:
            return _weighted_delta(z - y, weight)
        return (z - y) / z.shape[0]

    def output(self, z):
        """ŷ = z."""
        return z


class IdentityMAE(IdentityMSE):
    r"""Robust regression: ŷ = z,  L = ‖ŷ − y‖₁,  δ = sign(ŷ − y).  Laplace likelihood.

    Not a canonical pair: δ is the sign of the residual, not the residual (sign(0) = 0).
    """

    name = "identity_mae"
    loss_name = "absolute error"
    distribution = "Laplace"
    canonical = False

    def loss(self, z, y, weight=None):
        """Mean (or weighted mean) of ‖z − y‖₁."""
        if weight is not None:
            return _weighted_mean(np.sum(np.abs(z - y), axis=1), weight)
        return float(np.sum(np.abs(z - y)) / z.shape[0])

    def delta(self, z, y, weight=None):
        """δ = sign(z − y)/n, or row i scaled by w_i/Σw."""
        if weight is not None:
            return _weighted_delta(np.sign(z - y), weight)
        return np.sign(z - y) / z.shape[0]


class ExpPoisson(Head):
    r"""Counts: ŷ = e^z (log link),  L = ŷ − y·z (Poisson NLL less log y!),  δ = ŷ − y.

    z is capped at 80 inside the exponential so float32 cannot overflow.
    """

    name = "exp_poisson"
    activation = "exp"
    loss_name = "Poisson NLL"
    distribution = "Poisson"
    task = "count"
    tasks = ("count",)

    def validate(self, y, n_out=None, dtype=np.float64):
        """Labels checked as :meth:`Head.validate` does, plus this head's own constraint."""
        y = super().validate(y, n_out, dtype)
        if np.any(y < 0):
            raise DataError(f"counts for head {self.name} must be >= 0; got {y.min()}")
        return y

    def loss(self, z, y, weight=None):
        """Mean (or weighted mean) Poisson NLL e^z − y z (log y! left out)."""
        per = np.exp(np.minimum(z, MAX_LOG_RATE)) - y * z
        if weight is not None:
            return _weighted_mean(np.sum(per, axis=1), weight)
        return float(np.sum(per) / z.shape[0])

    def delta(self, z, y, weight=None):
        """δ = (e^z − y)/n, or row i scaled by w_i/Σw."""
        if weight is not None:
            return _weighted_delta(np.exp(np.minimum(z, MAX_LOG_RATE)) - y, weight)
        return (np.exp(np.minimum(z, MAX_LOG_RATE)) - y) / z.shape[0]

    def output(self, z):
        """ŷ = e^z (z capped at MAX_LOG_RATE)."""
        return np.exp(np.minimum(z, MAX_LOG_RATE))

    def output_derivative(self, z):
        """dŷ/dz = ŷ."""
        return self.output(z)


HEADS: dict[str, type[Head]] = {
    c.name: c for c in (SigmoidBCE, SoftmaxCE, IdentityMSE, IdentityMAE, MultilabelBCE, ExpPoisson)
}
_ALIASES = {
    "binary": "sigmoid_bce",
    "bce": "sigmoid_bce",
    "softmax": "softmax_ce",
    "ce": "softmax_ce",
    "multiclass": "softmax_ce",
    "mse": "identity_mse",
    "regression": "identity_mse",
    "mae": "identity_mae",
    "multilabel": "multilabel_bce",
    "poisson": "exp_poisson",
    "count": "exp_poisson",
}
TASKS = ("binary", "multiclass", "multilabel", "regression", "count")


def head_names() -> list[str]:
    """Every head's name, in registry order."""
    return list(HEADS)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}")


def head_for_task(task: str) -> str:
    """The canonical head name for a task (what ``--head auto`` picks): the head whose own
    ``task`` it is."""
    _check_task(task)
    return next(name for name, cls in HEADS.items() if cls.task == task)


def heads_for_task(task: str) -> list[str]:
    """Every head whose ``tasks`` include ``task``; the canonical one first."""
    default = head_for_task(task)
    return [default, *(n for n, c in HEADS.items() if task in c.tasks and n != default)]


def get_head(spec) -> Head:
    """Build a head from its name or an alias (``softmax``, ``mse``, ``poisson`` …)."""
    if isinstance(spec, Head):
        return spec
    name = _ALIASES.get(str(spec).lower(), str(spec).lower())
    if name not in HEADS:
        raise ConfigError(
            f"head must be one of {', '.join(HEADS)} (or {', '.join(_ALIASES)}); got {spec!r}"
        )
    return HEADS[name]()
