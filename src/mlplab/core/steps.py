"""Step objects: what one batch does, for the one epoch loop of :mod:`mlplab.core.train`.

The loop (batching, shuffling, the schedule, regularizers, clipping, max-norm, callbacks,
early stopping, divergence handling, checkpoints of its state) is written once, in
:class:`mlplab.core.train.Trainer`.  What differs between engines is a *step*, chosen when
training starts:

* :class:`ReferenceStep` — ``Network.zero_grad``/``forward``/``backward`` and
  ``Optimizer.step``: the readable definition of a step;
* :class:`mlplab.core.fastpath.FastStep` — the same numbers, bit for bit, from the fast kernels
  that sit next to each reference (preallocated buffers, fused passes);
* ``mlplab.backends.torch_train.TorchStep`` — the same step on a torch module.

A step owns the training data in its engine's form (:meth:`Step.prepare`), runs one batch
given the batch's row indices (:meth:`Step.train_batch`), updates the parameters
(:meth:`Step.update`), and offers the few array operations the loop's rules are written with
(squares, absolute sums, scaled additions, row-norm caps, a finiteness check), so that L1/L2,
clipping and max-norm have one definition for every engine.  :class:`NumpyStep` implements
those operations on NumPy arrays.
"""

from __future__ import annotations

import abc
import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.optim import Optimizer

__all__ = [
    "Step",
    "NumpyStep",
    "ReferenceStep",
    "batch_accuracy",
    "eval_logits",
    "params_finite",
]


class Step(abc.ABC):
    """The interface the loop drives.  ``Array`` below is the engine's array type.

    Data: :meth:`prepare` (once per ``fit``), :meth:`train_batch`, :meth:`correct`,
    :meth:`validation_logits`.  Update: :meth:`set_lr`, :meth:`update`.  Parameters for the
    loop's rules: :meth:`params`, :meth:`grads`, :meth:`dense_pairs`.  Array operations:
    :meth:`sum_squares`, :meth:`sum_abs`, :meth:`add_scaled`, :meth:`add_scaled_sign`,
    :meth:`scale`, :meth:`cap_row_norms`, :meth:`all_finite`.  State: :meth:`capture`,
    :meth:`restore`, :meth:`finish`, :meth:`reload`.
    """

    # ---------------------------------------------------------------- data and batches
    @abc.abstractmethod
    def prepare(self, X: np.ndarray, y: np.ndarray, weight, X_val) -> None:
        """Keep the validated training arrays (and per-row weights, validation inputs)."""

    @abc.abstractmethod
    def train_batch(self, idx: np.ndarray, rng) -> tuple[float, object]:
        """Forward and backward of the rows ``idx`` in training mode; returns the batch's
        mean loss (before penalties) and its logits; gradients are left in :meth:`grads`."""

    @abc.abstractmethod
    def batch_weight(self, idx: np.ndarray) -> float:
        """What the batch's loss counts for in the epoch's mean: its rows or its weights."""

    @abc.abstractmethod
    def correct(self, z, idx: np.ndarray):
        """The batch's accuracy (a float, or an engine scalar the loop only sums)."""

    @abc.abstractmethod
    def validation_logits(self) -> np.ndarray:
        """Eval-mode logits of the validation inputs, as a NumPy array of the model's dtype."""

    # ---------------------------------------------------------------- update
    def set_lr(self, lr: float) -> None:  # noqa: B027 - optional hook
        """The learning rate of the next :meth:`update`."""

    @abc.abstractmethod
    def update(self) -> None:
        """The optimizer's step on the parameters, in place."""

    # ---------------------------------------------------------------- what the rules act on
    @abc.abstractmethod
    def params(self) -> list:
        """Every trainable array."""

    @abc.abstractmethod
    def grads(self) -> list:
        """The gradient of every trainable array, in :meth:`params` order."""

    @abc.abstractmethod
    def dense_pairs(self) -> list[tuple]:
        """``(W, ∂L/∂W)`` of every Dense layer: what L1, L2 and max-norm act on."""

    # ---------------------------------------------------------------- array operations
    @abc.abstractmethod
    def sum_squares(self, a) -> float:
        """Σ a²."""

    @abc.abstractmethod
    def sum_abs(self, a) -> float:
        """Σ |a|."""

    @abc.abstractmethod
    def add_scaled(self, g, a, c: float) -> None:
        """g ← g + c·a, in place."""

    @abc.abstractmethod
    def add_scaled_sign(self, g, a, c: float) -> None:
        """g ← g + c·sign(a), in place."""

    @abc.abstractmethod
    def scale(self, a, c: float) -> None:
        """a ← c·a, in place."""

    @abc.abstractmethod
    def cap_row_norms(self, W, c: float) -> None:
        """Rescale each row of W whose norm exceeds c to norm c, in place."""

    @abc.abstractmethod
    def all_finite(self, arrays) -> bool:
        """True when no entry of any array is inf or NaN (one reduction per array)."""

    # ---------------------------------------------------------------- state
    @abc.abstractmethod
    def capture(self) -> dict:
        """A copy of the weights, buffers and optimizer state (the last good point)."""

    @abc.abstractmethod
    def restore(self, state: dict) -> None:
        """Put back a :meth:`capture` copy."""

    def finish(self) -> None:  # noqa: B027 - optional hook
        """After the last epoch: bring the engine's weights into the mlplab model."""

    def reload(self) -> None:  # noqa: B027 - optional hook
        """After the model's weights were replaced (best epoch restored): copy them back."""


class NumpyStep(Step):
    """The NumPy engine's data handling, array operations and state for both NumPy steps."""

    def __init__(self, model: Network, optimizer: Optimizer):
        self.model = model
        self.optimizer = optimizer
        self.named_params = model.named_parameters()
        self.named_grads = model.named_gradients()
        self.X = self.y = self.weight = self.X_val = None
        self._xb: dict[int, np.ndarray] = {}  # gathered batches, one buffer per batch size

    def prepare(self, X, y, weight, X_val):
        """Keep the arrays (already of the model's dtype and validated by the loop)."""
        self.X, self.y, self.weight, self.X_val = X, y, weight, X_val

    @abc.abstractmethod
    def forward_backward(self, X, y, rng=None, weight=None) -> tuple[np.ndarray, float]:
        """Logits and mean loss of a batch of arrays; gradients left in the model."""

    def train_batch(self, idx, rng):
        """Gather the rows ``idx`` (into a buffer kept per batch size) and run
        :meth:`forward_backward` on them."""
        n = len(idx)
        buf = self._xb.get(n)
        if buf is None:
            if len(self._xb) >= 4:
                self._xb.clear()
            buf = self._xb[n] = np.empty((n, *self.X.shape[1:]), self.X.dtype)
        # mode "clip" writes straight into the buffer ("raise" would copy twice); the indices
        # come from a permutation of the rows, so none is out of range
        Xb = np.take(self.X, idx, axis=0, out=buf, mode="clip")
        yb = self.y[idx]
        wb = None if self.weight is None else self.weight[idx]
        z, loss = self.forward_backward(Xb, yb, rng, wb)
        return loss, z

    def batch_weight(self, idx):
        """The number of rows, or the sum of their weights."""
        return len(idx) if self.weight is None else float(self.weight[idx].sum())

    def correct(self, z, idx):
        """Accuracy of the batch's logits against its labels."""
        return batch_accuracy(self.model.head, z, self.y[idx])

    def validation_logits(self):
        """Eval-mode logits in chunks of 4096 rows (as :func:`mlplab.core.train.evaluate`)."""
        return eval_logits(self.model, self.X_val)

    def update(self):
        """The optimizer's reference step."""
        self.optimizer.step(self.named_params, self.named_grads)

    def params(self):
        """The model's parameter arrays."""
        return list(self.named_params.values())

    def grads(self):
        """The model's gradient arrays."""
        return list(self.named_grads.values())

    def dense_pairs(self):
        """``(W, ∂L/∂W)`` of the Dense layers."""
        return [(la.params["weight"], la.grads["weight"]) for _, la in self.model.dense_layers()]

    def sum_squares(self, a):
        """Σ a² as a Python float."""
        return float(np.sum(a * a))

    def sum_abs(self, a):
        """Σ |a| as a Python float."""
        return float(np.sum(np.abs(a)))

    def add_scaled(self, g, a, c):
        """g += c·a with c in the array's dtype."""
        g += a.dtype.type(c) * a

    def add_scaled_sign(self, g, a, c):
        """g += c·sign(a) with c in the array's dtype."""
        g += a.dtype.type(c) * np.sign(a)

    def scale(self, a, c):
        """a *= c with c in the array's dtype."""
        a *= a.dtype.type(c)

    def cap_row_norms(self, W, c):
        """‖w_j‖² of every row in one pass; only the rows over c² are rescaled."""
        sq = np.einsum("ij,ij->i", W, W)
        over = np.flatnonzero(sq > W.dtype.type(c) ** 2)
        if over.size:
            W[over] *= (W.dtype.type(c) / np.sqrt(sq[over]))[:, None]

    def all_finite(self, arrays):
        """:func:`params_finite` of the arrays."""
        return params_finite(arrays)

    def capture(self):
        """Copies of the model's weights and buffers and of the optimizer's state."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def restore(self, state):
        """Put back a :meth:`capture` copy."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


class ReferenceStep(NumpyStep):
    """The reference step: ``zero_grad``, ``forward``, ``backward``, ``Optimizer.step``."""

    def forward_backward(self, X, y, rng=None, weight=None):
        """The documented reference pass (the definition the fast step must equal)."""
        model = self.model
        model.zero_grad()
        z = model.forward(X, training=True, rng=rng)
        loss = model.backward(y, validated=True, weight=weight)
        return z, loss


def batch_accuracy(head, z: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of logits ``z`` against validated labels ``y`` (multiclass: argmax;
    binary and multilabel: ``z ≥ 0`` against ``y ≥ 0.5``)."""
    hit = z.argmax(1) == y if head.task == "multiclass" else (z >= 0) == (y >= 0.5)
    # the mean of a boolean array, without np.mean's Python-level overhead (same value)
    return np.count_nonzero(hit) / hit.size if hit.size else float("nan")


def eval_logits(model: Network, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Eval-mode logits of ``X`` (already of the model's dtype) in chunks of ``batch_size``."""
    zs = [model.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    return np.concatenate(zs) if zs else np.zeros((0, model.output_dim), model.dtype)


def params_finite(arrays) -> bool:
    """True when every entry of every NumPy array is finite.

    One reduction per array: a sum is finite exactly when no entry is inf or NaN (or the
    entries are so large that their sum overflows, which counts as diverged too).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(sum(float(np.sum(a)) for a in arrays))
