"""Helpers shared by the experiments: MNIST at a budget, loss recording, per-layer norms.

Everything here is a thin layer over the engine (``Network``, ``fit``, ``trace``); none of it
re-implements training or backpropagation.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import Callback

__all__ = [
    "mnist",
    "LossRecorder",
    "smooth",
    "dense_grad_norms",
    "delta_norms",
    "loglinear_factor",
    "ACTIVATION_COLORS",
    "torch_default_init",
    "prior_entropy",
]

ACTIVATION_COLORS = {
    "sigmoid": "tab:red",
    "tanh": "tab:orange",
    "relu": "tab:blue",
    "gelu": "tab:green",
}


def mnist(subset: int | None, test: int | None = None):
    """MNIST inputs in [0, 1]: ``(X_train, y_train, X_test, y_test)`` (see :func:`load_mnist`).

    Kept in memory per process (read-only arrays), so the many cells of a claim that run in
    one worker process read the files once.
    """
    return _mnist_cached(subset, test)


@functools.lru_cache(maxsize=4)
def _mnist_cached(subset, test):
    out = load_mnist(subset, test)
    for a in out:
        a.setflags(write=False)
    return out


def load_mnist(subset: int | None, test: int | None = None):
    """MNIST inputs in [0, 1]: ``(X_train, y_train, X_test, y_test)``.

    ``subset`` keeps the first N training images (None: all 60000; a tenth of them is held out
    as the loader's validation split and not used here); ``test`` keeps the first images of the
    fixed 10000-image test set (None: all).  The split is fixed (seed 0) so that seeds vary only
    the weights and the batch order.
    """
    from mlplab.data import load_dataset

    ds = load_dataset("mnist", subset=subset, seed=0)
    X_test, y_test = ds.X_test, ds.y_test
    if test is not None:
        X_test, y_test = X_test[:test], y_test[:test]
    f32 = np.float32
    return ds.X_train.astype(f32), ds.y_train, X_test.astype(f32), y_test


class LossRecorder(Callback):
    """Records the mini-batch loss after every step (``losses``), before the optimizer step."""

    def __init__(self):
        self.losses: list[float] = []

    def on_batch_end(self, trainer, batch_loss: float) -> None:
        self.losses.append(float(batch_loss))


def smooth(values, points: int = 60) -> list[float]:
    """Average a long per-step curve into at most ``points`` consecutive windows (NaN-safe)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return []
    k = max(1, math.ceil(v.size / points))
    out = []
    for i in range(0, v.size, k):
        w = v[i : i + k]
        w = w[np.isfinite(w)]
        out.append(float(w.mean()) if w.size else float("nan"))
    return out


def dense_grad_norms(model: Network) -> list[float]:
    """Frobenius norm ‖∂L/∂W_ℓ‖ of each dense layer's weight gradient, input side first.

    Reads the live gradients (``named_gradients``) after a backward pass.
    """
    grads = model.named_gradients()
    return [float(np.linalg.norm(grads[f"{i}.weight"])) for i, _ in model.dense_layers()]


def delta_norms(model: Network) -> list[float]:
    """RMS of δ^(ℓ) = ∂L/∂z^(ℓ) per hidden block after a backward pass (from ``trace()``).

    ``√(mean δ²)`` over the batch and units, input side first; the output block is left out.
    """
    out = []
    for block in model.trace()[:-1]:
        d = block["delta"]
        out.append(float(np.sqrt(np.mean(np.asarray(d, dtype=np.float64) ** 2))))
    return out


def loglinear_factor(norms) -> dict:
    """Fit ``log g_ℓ = a + ℓ·log r`` by least squares; ``r`` is the per-layer factor.

    ``norms`` run from the input side (ℓ = 1) to the output side (ℓ = L), so a gradient that
    shrinks towards the input has ``r > 1`` in this direction; the returned ``factor`` is the
    backward factor ``1/r`` — the ratio g_ℓ / g_{ℓ+1} of one layer to the one above it.  Also
    returns ``r2`` of the fit.  Non-positive or non-finite norms make the factor None.
    """
    g = np.asarray(norms, dtype=np.float64)
    if g.size < 2 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        return {"factor": None, "r2": None}
    ell = np.arange(1, g.size + 1, dtype=np.float64)
    y = np.log(g)
    slope, intercept = np.polyfit(ell, y, 1)
    pred = intercept + slope * ell
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    return {"factor": float(np.exp(-slope)), "r2": r2}


def torch_default_init(model: Network, rng: np.random.Generator) -> Network:
    """Re-draw every dense layer as ``torch.nn.Linear`` does by default, in place.

    ``W, b ~ U(−1/√fan_in, 1/√fan_in)`` — the init the text's PyTorch code gets without asking.
    Unlike the engine's constant bias init it spreads the biases, which matters for a 1-D
    input: with b = 0 every ReLU unit would have its kink at x = 0.
    """
    for _, layer in model.dense_layers():
        a = 1.0 / math.sqrt(layer.in_dim)
        for name in ("weight", "bias"):
            p = layer.params[name]
            p[...] = rng.uniform(-a, a, size=p.shape).astype(p.dtype)
    return model


def prior_entropy(y, k: int) -> float:
    """Cross-entropy of the best constant prediction (the class frequencies): H = −Σ p log p."""
    p = np.bincount(np.asarray(y, dtype=np.int64), minlength=k) / len(y)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))
