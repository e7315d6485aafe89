"""Layers: each ``backward`` is written right after its ``forward`` and reads what forward cached.

Batches are rows: an input ``h`` has shape (n, d_in).  In the text's column notation a Dense
layer computes ``z = W h + b``; for a batch of rows that is ``Z = H Wᵀ + b`` with ``W`` stored
(d_out, d_in) exactly as in the text and in PyTorch.

``forward(x, training, rng)`` returns the output and caches what the backward pass needs.
``backward(δ)`` takes ∂L/∂output, *accumulates* ∂L/∂(each parameter) into ``grads`` and returns
∂L/∂input for the layer below.  Parameter and buffer names match PyTorch's ``state_dict``
(``weight``, ``bias``, ``running_mean``, …).

**Fast kernels beside their references.**  Dense, ReLU activation layers, dropout and batch
norm also carry ``forward_into``/``backward_into``: the same numbers as ``forward``/``backward``
(bit for bit, ``tests/core/test_fastpath.py``) written into buffers that
:class:`mlplab.core.fastpath.FastStep` allocates once per batch size (``fast_buffers``), with
parameter gradients *written* rather than accumulated.  ``fast_issue()`` says why a layer's
kernel cannot run it — a subclass that overrides the reference, or a setting in its spec the
kernel does not implement — and the fast step then runs the layer's reference code.
"""

from __future__ import annotations

import numpy as np

from mlplab.core.activations import Activation, get_activation
from mlplab.core.blas import Axpy, GemmTN, GemvT
from mlplab.core.init import init_weight, resolve_init
from mlplab.core.kernels import settings_issue
from mlplab.errors import ConfigError, check_range

__all__ = [
    "Layer",
    "Dense",
    "ActivationLayer",
    "Dropout",
    "BatchNorm",
    "LayerNorm",
    "build_layer",
]


class Layer:
    """Base class.  ``params``/``grads`` are dicts of arrays aligned by name; ``buffers`` hold
    non-trained state (running statistics)."""

    kind = "?"

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.out: np.ndarray | None = None  # output of the last forward pass (for inspection)

    def forward(self, x: np.ndarray, training: bool = False, rng=None) -> np.ndarray:
        """Output of the layer for input ``x`` (n, d_in); caches what ``backward`` needs."""
        return x

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """∂L/∂input from ∂L/∂output ``delta``; adds the parameter gradients into ``grads``."""
        return delta

    def spec(self) -> dict:
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"type": self.kind}

    def zero_grad(self) -> None:
        """Set every parameter gradient to 0 (``backward`` accumulates into them)."""
        for g in self.grads.values():
            g.fill(0)

    # ---------------------------------------------------------------- fast kernel protocol
    #: True when ``backward_into`` writes (not adds) every parameter gradient.
    fast_writes_grads = False

    def fast_issue(self) -> str | None:
        """None when ``forward_into``/``backward_into`` implement this layer as configured;
        else why not (the fast step then runs ``forward``/``backward``)."""
        return f"{type(self).__name__} has no fast kernel"

    def fast_buffers(self, n: int, dim: int, dtype, need_input_delta: bool) -> dict:
        """Arrays for a batch of ``n`` rows of width ``dim`` (the layer's input width)."""
        return {}

    def forward_into(self, x, buf: dict, training: bool, rng=None):
        """``forward`` into ``buf``'s arrays (base: the reference ``forward``)."""
        return self.forward(x, training, rng)

    def backward_into(self, delta, buf: dict, need_input_delta: bool = True):
        """``backward`` into ``buf``'s arrays (base: the reference ``backward``)."""
        return self.backward(delta)

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def __repr__(self) -> str:
        extra = {k: v for k, v in self.spec().items() if k != "type"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in extra.items())})"


class Dense(Layer):
    r"""Affine map ``z = W h + b``;  W: (d_out, d_in), b: (d_out,).

    Backward (the text's equations 3 and 4, summed over the batch):
    ``∂L/∂W = δᵀ h_prev``  (d_out, d_in),  ``∂L/∂b = Σ_n δ``,  and ``δ_prev = δ W`` (n, d_in).
    """

    kind = "dense"

    def __init__(
        self,
        in_dim: int,
        units: int,
        *,
        init: str = "auto",
        activation="identity",
        std: float = 1.0,
        bias_init: float = 0.0,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_dim = check_range("dense.in_dim", in_dim, 1, None, integer=True)
        self.units = check_range("dense.units", units, 1, None, integer=True)
        self.init = resolve_init(init, activation)
        self.init_activation = get_activation(activation).spec()
        self.std = float(check_range("dense.std", std, 0.0, None))
        self.bias_init = float(check_range("dense.bias_init", bias_init))
        rng = rng if rng is not None else np.random.default_rng(0)
        W = init_weight(self.init, self.in_dim, self.units, rng, activation=activation, std=std)
        self.params = {
            "weight": W.astype(dtype),
            "bias": np.full(self.units, self.bias_init, dtype=dtype),
        }
        self._alloc_grads()
        self.h_prev = None

    def forward(self, x, training=False, rng=None):
        """``Z = H Wᵀ + b``; caches ``h_prev``."""
        self.h_prev = x  # (n, d_in): what backward needs for ∂L/∂W
        self.out = x @ self.params["weight"].T + self.params["bias"]
        return self.out

    def backward(self, delta):
        """Adds ``δᵀ h_prev`` and ``Σ_n δ`` to the gradients; returns ``δ W``."""
        self.grads["weight"] += delta.T @ self.h_prev
        self.grads["bias"] += delta.sum(axis=0)
        return delta @ self.params["weight"]

    # The fast kernel: ``Z = H Wᵀ`` into a buffer, ``b`` added in place; ``∂L/∂W = δᵀ H``
    # written straight into ``grads`` (the reference zeroes, then adds: 0 + x = x exactly);
    # ``δ W`` only when a layer below needs it.
    fast_writes_grads = True

    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(self, Dense, ("type", "units", "init", "std", "bias_init"))

    def fast_buffers(self, n, dim, dtype, need_input_delta):
        """The fast kernel's arrays for a batch of ``n`` rows."""
        return {
            "out": np.empty((n, self.units), dtype),
            "din": np.empty((n, dim), dtype) if need_input_delta else None,
        }

    def forward_into(self, x, buf, training, rng=None):
        """``forward`` into the buffers (the same numbers)."""
        self.h_prev = x
        z = np.matmul(x, self.params["weight"].T, out=buf["out"])  # Z = H Wᵀ  (n, d_out)
        z += self.params["bias"]  # + b
        self.out = z
        return z

    def backward_into(self, delta, buf, need_input_delta=True):
        """``backward`` into the buffers, parameter gradients written rather than added."""
        np.matmul(delta.T, self.h_prev, out=self.grads["weight"])  # δᵀ H  (d_out, d_in)
        np.sum(delta, axis=0, out=self.grads["bias"])  # Σ_n δ
        if not need_input_delta:
            return None
        return np.matmul(delta, self.params["weight"], out=buf["din"])  # δ W

    def backward_sgd_into(
        self,
        delta,
        buf,
        need_input_delta,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        velocity: tuple | None = None,
    ):
        """``backward_into`` fused with SGD's update, on NumPy's own BLAS
        (:mod:`mlplab.core.blas`); the parameter gradients are never written.

        ``δ W`` comes first (with the old W).  Plain SGD: ``W ← W − η δᵀH`` is one GEMM with
        β = 1 and ``b ← b − η δᵀ1`` one GEMV.  With momentum μ (``velocity`` = the momentum
        buffers of W and b, the optimizer's own state): the GEMM writes ``v ← μ v + δᵀH``
        (β = μ; a zero buffer gives the reference's first ``v = g``), then one axpy
        ``W ← W − η v``.  Nesterov's ``W ← W − η (g + μ v)`` with ``g = v − μ v_old`` is
        ``W ← W + η μ v_old`` before the GEMM and ``W ← W − η (1 + μ) v`` after it.

        Equal to ``backward_into`` followed by :meth:`SGD.update_into` within rounding, not
        bit for bit: the update is added inside the BLAS accumulation.
        """
        W, b = self.params["weight"], self.params["bias"]
        din = None
        if need_input_delta:
            din = np.matmul(delta, W, out=buf["din"])  # δ W (old W)
        H = self.h_prev if self.h_prev.flags.c_contiguous else np.ascontiguousarray(self.h_prev)
        delta = delta if delta.flags.c_contiguous else np.ascontiguousarray(delta)
        targets = (W, b) if velocity is None else velocity
        # the BLAS calls are planned once per (target, δ buffer, H buffer): the fast step
        # reuses its buffers, so after the first step of a batch size each is one call
        plans = buf.get("sgd_plans")
        if plans is None or not (
            plans[0].uses(targets[0], delta, H)
            and plans[1].uses(targets[1], delta)
            and (velocity is None or plans[2].uses(W, targets[0]))
        ):
            ones = np.ones(delta.shape[0], delta.dtype)
            plans = (GemmTN(targets[0], delta, H), GemvT(targets[1], delta, ones))
            if velocity is not None:
                plans += (Axpy(W, velocity[0]), Axpy(b, velocity[1]))
            buf["sgd_plans"] = plans
        if velocity is None:
            plans[0](-lr)  # W ← W − η δᵀH
            plans[1](-lr)  # b ← b − η Σ_n δ
            return din
        if nesterov:
            plans[2](lr * momentum)  # W ← W + η μ v_old
            plans[3](lr * momentum)
        plans[0](1.0, momentum)  # v ← μ v + δᵀH
        plans[1](1.0, momentum)
        step = lr * (1.0 + momentum) if nesterov else lr
        plans[2](-step)  # W ← W − η v  (Nesterov: − η (1 + μ) v)
        plans[3](-step)
        return din

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {
            "type": self.kind,
            "units": self.units,
            "init": self.init,
            "std": self.std,
            "bias_init": self.bias_init,
        }


class ActivationLayer(Layer):
    r"""``h = φ(z)`` element-wise;  backward ``δ_z = δ_h ⊙ φ′(z)`` (the text's equation 2).

    For PReLU the slope ``a`` is a parameter named ``weight`` (as in ``torch.nn.PReLU``), one per
    unit, with ``∂L/∂a = Σ_n δ_h ⊙ ∂φ/∂a``.
    """

    kind = "activation"

    def __init__(self, activation, units: int | None = None, *, dtype=np.float32):
        super().__init__()
        self.activation: Activation = get_activation(activation)
        self.units = units
        if self.activation.learnable:
            if units is None:
                raise ConfigError("prelu needs the number of units of its layer")
            self.params = {"weight": np.full(units, self.activation.alpha, dtype=dtype)}
            self._alloc_grads()
        self.z = None

    def forward(self, x, training=False, rng=None):
        """``h = φ(z)``; caches ``z``."""
        self.z = x  # pre-activation: what φ′ is evaluated at
        if self.activation.learnable:
            self.out = self.activation.f(x, self.params["weight"])
        else:
            self.out = self.activation.f(x)
        return self.out

    def backward(self, delta):
        """``δ ⊙ φ′(z)`` (and, for PReLU, the slope's gradient)."""
        act = self.activation
        if act.learnable:
            a = self.params["weight"]
            self.grads["weight"] += (delta * act.dalpha(self.z)).sum(axis=0)
            return delta * act.df(self.z, a)
        return delta * act.df(self.z)

    # The fast kernel is the activation's own (``f_into``/``df_mul_into``, next to f and df).
    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        issue = settings_issue(self, ActivationLayer, ("type", "activation"))
        return issue or self.activation.fast_issue()

    def fast_buffers(self, n, dim, dtype, need_input_delta):
        """The fast kernel's arrays for a batch of ``n`` rows."""
        return {
            "out": np.empty((n, dim), dtype),
            "din": np.empty((n, dim), dtype),
            "mask": np.empty((n, dim), bool),
            "zeros": np.zeros((n, dim), dtype),  # read, never written (ReLU's kernel)
        }

    def forward_into(self, x, buf, training, rng=None):
        """``forward`` into the buffers (the same numbers)."""
        self.z = x
        self.out = self.activation.f_into(x, buf["out"], buf["zeros"])
        return self.out

    def backward_into(self, delta, buf, need_input_delta=True):
        """``backward`` into the buffers, parameter gradients written rather than added."""
        return self.activation.df_mul_into(self.z, delta, buf["mask"], buf["din"])

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"type": self.kind, "activation": self.activation.spec()}


class Dropout(Layer):
    r"""Inverted dropout: training ``h = x ⊙ m / (1 − p)``, m ~ Bernoulli(1 − p); eval ``h = x``.

    Backward ``δ_x = δ_h ⊙ m / (1 − p)``.  ``fixed_mask`` (same shape as x) replaces the random
    draw — used by the gradient check so both sides see the same mask.
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = float(check_range("dropout.p", p, 0.0, 1.0, hi_open=True))
        self.fixed_mask: np.ndarray | None = None
        self.scale = None

    def forward(self, x, training=False, rng=None):
        """Training: ``x ⊙ m/(1 − p)`` with a fresh (or fixed) keep-mask; eval: ``x``."""
        if not training or self.p == 0.0:
            self.scale = None
            self.out = x
            return x
        if self.fixed_mask is not None:
            keep = self.fixed_mask
        else:
            if rng is None:
                raise ConfigError("dropout in training mode needs a random Generator (rng)")
            keep = rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
            keep = keep >= self.p
        self.scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self.out = x * self.scale
        return self.out

    def backward(self, delta):
        """``δ ⊙ m/(1 − p)`` (``δ`` after an eval-mode pass)."""
        return delta if self.scale is None else delta * self.scale

    # The fast kernel (training mode, random masks): the same ``rng.random`` draw into a
    # buffer, ``keep = u ≥ p``, ``scale = keep/(1 − p)``, ``h = x ⊙ scale``.  Eval mode, p = 0
    # and fixed masks run the reference.
    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(self, Dropout, ("type", "p"))

    def fast_buffers(self, n, dim, dtype, need_input_delta):
        """The fast kernel's arrays for a batch of ``n`` rows."""
        draw = np.float32 if dtype == np.float32 else np.float64
        return {
            "out": np.empty((n, dim), dtype),
            "din": np.empty((n, dim), dtype) if need_input_delta else None,
            "keep": np.empty((n, dim), bool),
            "draw": np.empty((n, dim), draw),
            "scale": np.empty((n, dim), dtype),
        }

    def forward_into(self, x, buf, training, rng=None):
        """``forward`` into the buffers (the same numbers)."""
        if not training or self.p == 0.0 or self.fixed_mask is not None or rng is None:
            return self.forward(x, training, rng)  # (the reference raises without an rng)
        u = buf["draw"]
        rng.random(out=u, dtype=u.dtype.type)
        keep = np.greater_equal(u, self.p, out=buf["keep"])
        self.scale = np.divide(keep, x.dtype.type(1.0 - self.p), out=buf["scale"])
        self.out = np.multiply(x, self.scale, out=buf["out"])
        return self.out

    def backward_into(self, delta, buf, need_input_delta=True):
        """``backward`` into the buffers, parameter gradients written rather than added."""
        if not need_input_delta:
            return None
        if self.scale is None:
            return delta
        return np.multiply(delta, self.scale, out=buf["din"])  # δ ⊙ m/(1 − p)

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"type": self.kind, "p": self.p}


class BatchNorm(Layer):
    r"""Batch normalisation over the batch axis (Ioffe & Szegedy 2015).

    Training: ``μ, σ²`` = mean and biased variance of the batch per feature,
    ``x̂ = (x − μ)/√(σ² + ε)``, ``h = γ x̂ + β``; running statistics follow
    ``r ← (1 − m) r + m·stat`` with the unbiased variance (as PyTorch).  Eval: uses the running
    statistics.  Backward (training):
    ``δ_x = (1/n)·(1/√(σ²+ε))·(n δ̂ − Σ δ̂ − x̂ Σ(δ̂ ⊙ x̂))`` with ``δ̂ = δ_h ⊙ γ``.
    """

    kind = "batchnorm"

    def __init__(self, units: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.units = check_range("batchnorm.units", units, 1, None, integer=True)
        self.momentum = float(check_range("batchnorm.momentum", momentum, 0.0, 1.0))
        self.eps = float(check_range("batchnorm.eps", eps, 0.0, None, lo_open=True))
        self.params = {"weight": np.ones(units, dtype=dtype), "bias": np.zeros(units, dtype=dtype)}
        self.buffers = {
            "running_mean": np.zeros(units, dtype=dtype),
            "running_var": np.ones(units, dtype=dtype),
            "num_batches_tracked": np.zeros((), dtype=np.int64),
        }
        self._alloc_grads()
        self.x_hat = self.inv_std = None
        self.trained_pass = False

    def forward(self, x, training=False, rng=None):
        """Normalise with the batch's statistics (training) or the running ones (eval)."""
        if training:
            n = x.shape[0]
            if n < 2:
                raise ConfigError("batchnorm in training mode needs a batch of at least 2 rows")
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            self.track(mu, var, n)
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.trained_pass = training
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.out = self.params["weight"] * self.x_hat + self.params["bias"]
        return self.out

    def track(self, mu, var, n: int) -> None:
        """Running statistics ``r ← (1 − m) r + m·stat`` (the unbiased variance, as PyTorch)."""
        m = self.momentum
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        rm *= 1 - m
        rm += m * mu
        rv *= 1 - m
        rv += m * var * (n / (n - 1))
        self.buffers["num_batches_tracked"] += 1

    def backward(self, delta):
        """The batch-norm backward of the class docstring; adds γ's and β's gradients."""
        self.grads["weight"] += (delta * self.x_hat).sum(axis=0)
        self.grads["bias"] += delta.sum(axis=0)
        d_hat = delta * self.params["weight"]
        if not self.trained_pass:
            return d_hat * self.inv_std
        n = delta.shape[0]
        return (self.inv_std / n) * (
            n * d_hat - d_hat.sum(axis=0) - self.x_hat * (d_hat * self.x_hat).sum(axis=0)
        )

    # The fast kernel: the reference's operations — numpy's own mean and var reductions
    # (``add.reduce`` then a division by the count) included — into reused buffers.
    fast_writes_grads = True

    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(self, BatchNorm, ("type", "momentum", "eps"))

    def fast_buffers(self, n, dim, dtype, need_input_delta):
        """The fast kernel's arrays for a batch of ``n`` rows."""
        return {
            "out": np.empty((n, dim), dtype),
            "din": np.empty((n, dim), dtype),
            "xhat": np.empty((n, dim), dtype),
            "work": np.empty((n, dim), dtype),
        }

    def forward_into(self, x, buf, training, rng=None):
        """``forward`` into the buffers (the same numbers)."""
        n = x.shape[0]
        if not training or n < 2:
            return self.forward(x, training)  # eval statistics; n < 2 raises its error
        count = np.intp(n)
        mu = np.add.reduce(x, axis=0)  # μ = Σ x / n   (as x.mean(axis=0))
        np.true_divide(mu, count, out=mu, casting="unsafe")
        x_hat = np.subtract(x, mu, out=buf["xhat"])  # x − μ, kept: x̂ is (x − μ)/√(σ² + ε)
        dev = np.square(x_hat, out=buf["work"])  # (x − μ)²  (as x.var(axis=0))
        var = np.add.reduce(dev, axis=0)
        np.true_divide(var, count, out=var, casting="unsafe")
        self.track(mu, var, n)
        self.trained_pass = True
        self.inv_std = inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat *= inv_std
        self.x_hat = x_hat
        out = np.multiply(self.params["weight"], x_hat, out=buf["out"])  # γ x̂ + β
        out += self.params["bias"]
        self.out = out
        return out

    def backward_into(self, delta, buf, need_input_delta=True):
        """``δ_x = (1/n)(1/√(σ²+ε))(n δ̂ − Σ δ̂ − x̂ Σ(δ̂ ⊙ x̂))``, gradients written."""
        x_hat, work, din = self.x_hat, buf["work"], buf["din"]
        np.multiply(delta, x_hat, out=work)
        np.add.reduce(work, axis=0, out=self.grads["weight"])  # Σ δ ⊙ x̂
        np.add.reduce(delta, axis=0, out=self.grads["bias"])  # Σ δ
        d_hat = np.multiply(delta, self.params["weight"], out=work)  # δ̂
        if not self.trained_pass:  # eval-mode statistics: a per-feature affine map
            return np.multiply(d_hat, self.inv_std, out=din)
        n = delta.shape[0]
        scale = self.inv_std / n
        np.multiply(n, d_hat, out=din)  # n δ̂
        din -= np.add.reduce(d_hat, axis=0)  # − Σ δ̂
        np.multiply(d_hat, x_hat, out=work)  # δ̂ ⊙ x̂   (δ̂ is not needed any more)
        s = np.add.reduce(work, axis=0)
        np.multiply(x_hat, s, out=work)  # x̂ Σ(δ̂ ⊙ x̂)
        din -= work
        np.multiply(scale, din, out=din)
        return din

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"type": self.kind, "momentum": self.momentum, "eps": self.eps}


class LayerNorm(Layer):
    r"""Layer normalisation over the features of each row (Ba et al. 2016), with affine γ, β.

    ``x̂ = (x − μ_row)/√(σ²_row + ε)``, ``h = γ x̂ + β``; the same in training and eval.
    Backward: ``δ_x = (1/d)·(1/√(σ²+ε))·(d δ̂ − Σ_j δ̂ − x̂ Σ_j(δ̂ ⊙ x̂))`` per row, ``δ̂ = δ_h ⊙ γ``.
    """

    kind = "layernorm"

    def __init__(self, units: int, *, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.units = check_range("layernorm.units", units, 1, None, integer=True)
        self.eps = float(check_range("layernorm.eps", eps, 0.0, None, lo_open=True))
        self.params = {"weight": np.ones(units, dtype=dtype), "bias": np.zeros(units, dtype=dtype)}
        self._alloc_grads()
        self.x_hat = self.inv_std = None

    def forward(self, x, training=False, rng=None):
        """Normalise each row over its features, then ``γ x̂ + β``."""
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.out = self.params["weight"] * self.x_hat + self.params["bias"]
        return self.out

    def backward(self, delta):
        """The layer-norm backward of the class docstring; adds γ's and β's gradients."""
        self.grads["weight"] += (delta * self.x_hat).sum(axis=0)
        self.grads["bias"] += delta.sum(axis=0)
        d_hat = delta * self.params["weight"]
        d = delta.shape[1]
        return (self.inv_std / d) * (
            d * d_hat
            - d_hat.sum(axis=1, keepdims=True)
            - self.x_hat * (d_hat * self.x_hat).sum(axis=1, keepdims=True)
        )

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"type": self.kind, "eps": self.eps}


LAYER_TYPES = ("dense", "activation", "dropout", "batchnorm", "layernorm")


def build_layer(spec: dict, in_dim: int, *, rng, dtype, next_activation="identity", where=""):
    """Build one layer from its spec dict; returns (layer, out_dim).

    ``next_activation`` is the activation that follows a Dense layer (it sets the init gain).
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"{where} must be a dict with a 'type'; got {spec!r}")
    kind = spec["type"]
    opts = {k: v for k, v in spec.items() if k != "type"}
    try:
        if kind == "dense":
            layer = Dense(in_dim, activation=next_activation, rng=rng, dtype=dtype, **opts)
            return layer, layer.units
        if kind == "activation":
            return ActivationLayer(opts.get("activation", "identity"), in_dim, dtype=dtype), in_dim
        if kind == "dropout":
            return Dropout(**opts), in_dim
        if kind == "batchnorm":
            return BatchNorm(in_dim, dtype=dtype, **opts), in_dim
        if kind == "layernorm":
            return LayerNorm(in_dim, dtype=dtype, **opts), in_dim
    except TypeError as exc:
        raise ConfigError(f"{where}: bad options for layer type {kind!r}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}.type must be one of {', '.join(LAYER_TYPES)}; got {kind!r}")
