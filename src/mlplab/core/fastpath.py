"""The fast path of one training step: the same numbers as the reference path, fewer passes.

The reference path — ``Network.zero_grad``, ``Network.forward``, ``Network.backward`` and
``Optimizer.step`` — is the documented, readable definition of a step and stays unchanged.
:class:`FastStep` computes the *same numbers, bit for bit* (``tests/core/test_fastpath.py``
checks every piece against the reference) while allocating nothing per step:

1. **Buffers** for every layer's output, every δ, the ReLU masks and the optimizer's scratch are
   allocated once per batch size and reused by every later step of that size.
2. **Dense**: ``Z = H Wᵀ`` is written into its buffer and ``b`` added in place.  The weight
   gradient ``∂L/∂W = δᵀ H`` is written straight into ``grads["weight"]``: the reference zeroes
   the gradient and then accumulates, and ``0 + x = x`` exactly, so one pass replaces three.
   Below the lowest layer with parameters nothing needs a δ: the first Dense layer's
   ``δ_prev = δ W`` (the gradient with respect to the input batch, which nobody reads) and an
   input dropout's backward are not computed at all — for 784-1024-1024-10 that alone is 14 %
   of the flops — and ``Network.deltas`` of those layers is ``None``.
3. **ReLU**: ``h = max(z, 0)`` into its buffer; backward ``δ_z = δ_h ⊙ 1[z > 0]`` multiplies by
   a reused boolean mask (the reference builds ``(z > 0).astype(dtype)`` each step).
   **Dropout** (training mode) draws its uniforms into a reused buffer with the same
   ``Generator.random`` call (so the same masks) and keeps its mask and scale in buffers.
   **Batch norm** (training mode) runs the reference's operations — numpy's own ``mean`` and
   ``var`` reductions included — into reused buffers.
4. **Softmax + cross-entropy, fused**: one ``exp(z − max z)`` gives both the loss (as
   ``log_softmax``: ``L = −(z_y − m − log Σ e^{z−m})``, averaged) and ``δ_out = (ŷ − onehot y)/n``.
5. **Optimizers**: SGD (momentum, Nesterov, weight decay), Adam and AdamW run their exact
   ``torch.optim`` update rules with ``out=`` scratch buffers instead of temporaries, on the
   optimizer's own state (so checkpoints and resume are unaffected).

Any other layer (layer norm, other activations, PReLU, dropout with a fixed mask), any
other head and any other optimizer runs its reference code inside the fast step, so every
network is supported.

After a step, the layer caches (``h_prev``, ``z``, ``out``) and ``Network.deltas`` /
``delta_out`` / ``z_out`` are set exactly as the reference path sets them, so
:meth:`Network.trace` and callbacks see the same values.  They are views of the reused buffers:
they stay valid until the next step — copy them to keep them longer.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.activations import ReLU
from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout
from mlplab.core.losses import SoftmaxCE
from mlplab.core.network import Network
from mlplab.core.optim import SGD, Adam, AdamW, Optimizer

__all__ = ["FastStep", "fast_optimizer_step", "model_lowest"]

#: At most this many batch sizes keep their buffers (training uses two: full and last batch).
_MAX_CACHED_SIZES = 4


def _is_fast_dense(layer) -> bool:
    return type(layer) is Dense


def _is_fast_relu(layer) -> bool:
    return type(layer) is ActivationLayer and type(layer.activation) is ReLU


def _is_fast_batchnorm(layer) -> bool:
    return type(layer) is BatchNorm


def _is_fast_dropout(layer) -> bool:
    return type(layer) is Dropout and layer.p > 0.0


def model_lowest(model: Network) -> int:
    """Index of the lowest layer with parameters: the backward pass stops there."""
    return min((i for i, la in enumerate(model.layers) if la.params), default=0)


class _Buffers:
    """Arrays for one batch size ``n``: outputs, δs, masks, head scratch."""

    def __init__(self, model: Network, n: int):
        dt = model.dtype
        self.out: list[np.ndarray | None] = []  # output of layer i, shape (n, d_out_i)
        self.din: list[np.ndarray | None] = []  # δ with respect to the input of layer i
        self.mask: list[np.ndarray | None] = []  # 1[z > 0] of ReLU layer i
        self.xhat: dict[int, np.ndarray] = {}  # x̂ of batch-norm layer i
        self.draw: dict[int, np.ndarray] = {}  # uniforms of dropout layer i
        self.scale: dict[int, np.ndarray] = {}  # mask / (1 − p) of dropout layer i
        self.work: dict[int, np.ndarray] = {}  # scratch of batch-norm layer i
        dim = model.input_dim
        for i, layer in enumerate(model.layers):
            d_in = dim
            if _is_fast_dense(layer):
                dim = layer.units
                self.out.append(np.empty((n, dim), dt))
                # no buffer for ∂L/∂X of the first layer: it is never computed
                self.din.append(np.empty((n, d_in), dt) if i > model_lowest(model) else None)
                self.mask.append(None)
            elif _is_fast_relu(layer):
                self.out.append(np.empty((n, dim), dt))
                self.din.append(np.empty((n, dim), dt))
                self.mask.append(np.empty((n, dim), bool))
            elif _is_fast_batchnorm(layer):
                self.out.append(np.empty((n, dim), dt))
                self.din.append(np.empty((n, dim), dt))
                self.mask.append(None)
                self.xhat[i] = np.empty((n, dim), dt)
                self.work[i] = np.empty((n, dim), dt)
            elif _is_fast_dropout(layer):
                self.out.append(np.empty((n, dim), dt))
                self.din.append(np.empty((n, dim), dt) if i > model_lowest(model) else None)
                self.mask.append(np.empty((n, dim), bool))
                self.draw[i] = np.empty((n, dim), np.float32 if dt == np.float32 else np.float64)
                self.scale[i] = np.empty((n, dim), dt)
            else:
                self.out.append(None)
                self.din.append(None)
                self.mask.append(None)
        k = model.output_dim
        self.rows = np.arange(n)
        self.zmax = np.empty((n, 1), dt)
        self.shifted = np.empty((n, k), dt)  # z − max z
        self.expz = np.empty((n, k), dt)
        self.sumexp = np.empty((n, 1), dt)
        self.delta_out = np.empty((n, k), dt)


class FastStep:
    """Forward, backward and optimizer update of one batch, with preallocated buffers.

    Parameters
    ----------
    model : Network
    optimizer : Optimizer
        SGD, Adam and AdamW take the in-place update; any other optimizer runs its own ``step``.

    Examples
    --------
    >>> fast = FastStep(model, optimizer)              # doctest: +SKIP
    >>> z, loss = fast.forward_backward(Xb, yb, rng)   # gradients now in model.grads
    >>> fast.update()                                  # optimizer step, in place
    """

    def __init__(self, model: Network, optimizer: Optimizer):
        self.model = model
        self.optimizer = optimizer
        self.params = model.named_parameters()
        self.grads = model.named_gradients()
        self._buffers: dict[int, _Buffers] = {}
        self._scratch: dict[str, np.ndarray] = {}
        # gradients the fast kernels do not overwrite must be zeroed before each backward
        # below the lowest layer with parameters no δ is needed (input dropout, the input)
        self._lowest = model_lowest(model)
        self._zero_layers = [
            la
            for la in model.layers
            if la.grads and not (_is_fast_dense(la) or _is_fast_batchnorm(la))
        ]

    def buffers(self, n: int) -> _Buffers:
        buf = self._buffers.get(n)
        if buf is None:
            if len(self._buffers) >= _MAX_CACHED_SIZES:
                self._buffers.clear()
            buf = self._buffers[n] = _Buffers(self.model, n)
        return buf

    # ------------------------------------------------------------------ forward
    def forward(self, X: np.ndarray, *, training: bool = True, rng=None) -> np.ndarray:
        """Logits of a batch ``X`` (n, input_dim), already of the model's dtype; caches as the
        reference ``Network.forward`` does (the returned array is a reused buffer)."""
        model = self.model
        buf = self.buffers(X.shape[0])
        h = X
        for i, layer in enumerate(model.layers):
            if _is_fast_dense(layer):
                layer.h_prev = h
                z = buf.out[i]
                np.matmul(h, layer.params["weight"].T, out=z)  # Z = H Wᵀ   (n, d_out)
                z += layer.params["bias"]  # + b
                layer.out = h = z
            elif _is_fast_relu(layer):
                layer.z = h
                layer.out = h = np.maximum(h, 0, out=buf.out[i])
            elif _is_fast_batchnorm(layer) and training:
                h = _batchnorm_forward(layer, h, buf.out[i], buf.xhat[i], buf.work[i])
            elif _is_fast_dropout(layer) and training and layer.fixed_mask is None:
                h = self._dropout_forward(layer, h, rng, buf, i)
            else:
                h = layer.forward(h, training, rng)
        model.z_out = h
        return h

    # ------------------------------------------------------------------ head
    def _head(self, z, y, buf: _Buffers, weight=None) -> tuple[float, np.ndarray]:
        head = self.model.head
        if type(head) is not SoftmaxCE or weight is not None:
            loss = head.loss(z, y, weight)
            return loss, head.delta(z, y, weight).astype(self.model.dtype, copy=False)
        n = z.shape[0]
        np.max(z, axis=1, keepdims=True, out=buf.zmax)  # m = max_k z_k
        np.subtract(z, buf.zmax, out=buf.shifted)  # z − m
        np.exp(buf.shifted, out=buf.expz)  # e^{z − m}
        np.sum(buf.expz, axis=1, keepdims=True, out=buf.sumexp)  # Σ_k e^{z_k − m}
        picked = buf.shifted[buf.rows, y] - np.log(buf.sumexp[:, 0])  # log ŷ_y (as log_softmax)
        loss = float(-picked.sum() / n)
        if not math.isfinite(loss):  # non-finite logits: report the reference's exact value
            loss = head.loss(z, y)
        delta = np.divide(buf.expz, buf.sumexp, out=buf.delta_out)  # ŷ
        delta[buf.rows, y] -= 1.0  # ŷ − onehot(y)
        delta /= n  # the loss is a mean
        return loss, delta

    # ------------------------------------------------------------------ backward
    def forward_backward(
        self, X: np.ndarray, y: np.ndarray, rng=None, weight=None
    ) -> tuple[np.ndarray, float]:
        """One training pass: logits and mean loss; gradients left in the model's ``grads``.

        ``X`` must be of the model's dtype and ``y`` validated by the head (as the trainer
        does), ``weight`` (optional per-row weights) checked; training mode (dropout, batch
        statistics) is on.  With weights the head runs its reference loss and δ.
        """
        model = self.model
        for layer in self._zero_layers:
            layer.zero_grad()
        z = self.forward(X, training=True, rng=rng)
        buf = self.buffers(X.shape[0])
        loss, delta = self._head(z, y, buf, weight)
        model.delta_out = delta
        for i in range(len(model.layers) - 1, -1, -1):
            layer = model.layers[i]
            model.deltas[i] = delta  # ∂L/∂(output of layer i)
            if _is_fast_dense(layer):
                np.matmul(delta.T, layer.h_prev, out=layer.grads["weight"])  # δᵀ H (d_out, d_in)
                np.sum(delta, axis=0, out=layer.grads["bias"])  # Σ_n δ
                if i == self._lowest:
                    break  # nothing below has parameters: ∂L/∂(input) is not needed
                delta = np.matmul(delta, layer.params["weight"], out=buf.din[i])  # δ W
            elif _is_fast_relu(layer):
                mask = np.greater(layer.z, 0, out=buf.mask[i])  # 1[z > 0]
                delta = np.multiply(delta, mask, out=buf.din[i])
            elif _is_fast_batchnorm(layer):
                delta = _batchnorm_backward(layer, delta, buf.din[i], buf.work[i])
            elif _is_fast_dropout(layer) and layer.scale is not None:
                delta = np.multiply(delta, layer.scale, out=buf.din[i])  # δ ⊙ m/(1 − p)
            else:
                delta = layer.backward(delta)
            if i == self._lowest:
                break
        for i in range(self._lowest):
            model.deltas[i] = None  # not computed (the reference computes them, unused)
        return z, loss

    # ------------------------------------------------------------------ update
    def update(self) -> None:
        """The optimizer's step on the model's parameters, in place (``optimizer.t`` += 1)."""
        fast_optimizer_step(self.optimizer, self.params, self.grads, self._scratch)

    def _dropout_forward(self, layer: Dropout, x, rng, buf: _Buffers, i: int):
        """:meth:`Dropout.forward` in training mode into buffers: the same ``rng.random`` draw
        (into a buffer), ``keep = u ≥ p``, ``scale = keep / (1 − p)``,
        ``h = x ⊙ scale``."""
        if rng is None:
            return layer.forward(x, True, rng)  # the reference raises its error
        u = buf.draw[i]
        rng.random(out=u, dtype=u.dtype.type)
        keep = np.greater_equal(u, layer.p, out=buf.mask[i])
        layer.scale = np.divide(keep, x.dtype.type(1.0 - layer.p), out=buf.scale[i])
        layer.out = np.multiply(x, layer.scale, out=buf.out[i])
        return layer.out


def _batchnorm_forward(layer: BatchNorm, x, out, x_hat, work):
    """:meth:`BatchNorm.forward` in training mode into buffers, with the same numpy reductions
    (``mean`` and ``var`` are ``add.reduce`` then a division by the count, as numpy's own)."""
    n = x.shape[0]
    if n < 2:
        return layer.forward(x, True)  # the reference raises its error
    count = np.intp(n)
    mu = np.add.reduce(x, axis=0)  # μ = Σ x / n   (as x.mean(axis=0))
    np.true_divide(mu, count, out=mu, casting="unsafe")
    dev = np.subtract(x, mu, out=work)  # (x − μ)²  (as x.var(axis=0))
    np.square(dev, out=dev)
    var = np.add.reduce(dev, axis=0)
    np.true_divide(var, count, out=var, casting="unsafe")
    m = layer.momentum
    rm, rv = layer.buffers["running_mean"], layer.buffers["running_var"]
    rm *= 1 - m
    rm += m * mu
    rv *= 1 - m
    rv += m * var * (n / (n - 1))
    layer.buffers["num_batches_tracked"] += 1
    layer.trained_pass = True
    layer.inv_std = inv_std = 1.0 / np.sqrt(var + layer.eps)
    np.subtract(x, mu, out=x_hat)  # x̂ = (x − μ)/√(σ² + ε)
    x_hat *= inv_std
    layer.x_hat = x_hat
    np.multiply(layer.params["weight"], x_hat, out=out)  # γ x̂ + β
    out += layer.params["bias"]
    layer.out = out
    return out


def _batchnorm_backward(layer: BatchNorm, delta, din, work):
    """:meth:`BatchNorm.backward` after a training-mode pass, gradients written (not added):
    ``δ_x = (1/n)(1/√(σ²+ε))(n δ̂ − Σ δ̂ − x̂ Σ(δ̂ ⊙ x̂))``, ``δ̂ = δ ⊙ γ``."""
    x_hat = layer.x_hat
    np.multiply(delta, x_hat, out=work)
    np.add.reduce(work, axis=0, out=layer.grads["weight"])  # Σ δ ⊙ x̂
    np.add.reduce(delta, axis=0, out=layer.grads["bias"])  # Σ δ
    d_hat = np.multiply(delta, layer.params["weight"], out=work)  # δ̂
    if not layer.trained_pass:  # eval-mode statistics: a per-feature affine map
        return np.multiply(d_hat, layer.inv_std, out=din)
    n = delta.shape[0]
    scale = layer.inv_std / n
    np.multiply(n, d_hat, out=din)  # n δ̂
    din -= d_hat.sum(axis=0)  # − Σ δ̂
    np.multiply(d_hat, x_hat, out=work)  # δ̂ ⊙ x̂   (δ̂ is not needed any more)
    s = work.sum(axis=0)
    np.multiply(x_hat, s, out=work)  # x̂ Σ(δ̂ ⊙ x̂)
    din -= work
    np.multiply(scale, din, out=din)
    return din


def _scratch_for(scratch: dict, name: str, p: np.ndarray, slot: int = 0) -> np.ndarray:
    key = f"{name}#{slot}"
    s = scratch.get(key)
    if s is None or s.shape != p.shape or s.dtype != p.dtype:
        s = scratch[key] = np.empty_like(p)
    return s


def fast_optimizer_step(
    optimizer: Optimizer, params: dict, grads: dict, scratch: dict | None = None
) -> None:
    """``optimizer.step(params, grads)`` with the same numbers and no temporaries.

    SGD, Adam and AdamW (exact types) are updated here with ``out=`` scratch arrays taken from
    ``scratch`` (a dict this function fills and reuses); any other optimizer runs its own
    ``step``.  The per-parameter state (momentum buffers, moments) is the optimizer's own.
    """
    kind = type(optimizer)
    if kind not in (SGD, Adam, AdamW):
        optimizer.step(params, grads)
        return
    scratch = {} if scratch is None else scratch
    optimizer.t += 1
    update = _sgd_update if kind is SGD else _adam_update
    for name, p in params.items():
        update(optimizer, name, p, grads[name], scratch)


def _sgd_update(opt: SGD, name, p, g, scratch) -> None:
    """As :meth:`SGD._update`: ``g ← ∇ + λ w``; ``b ← μ b + g``; ``g ← g + μ b`` or ``b``;
    ``w ← w − η g``."""
    s = _scratch_for(scratch, name, p)
    if opt.weight_decay:
        np.multiply(opt.weight_decay, p, out=s)  # λ w
        g = np.add(g, s, out=s)
    if opt.momentum:
        st = opt.state.setdefault(name, {})
        if "momentum_buffer" not in st:
            st["momentum_buffer"] = np.array(g, copy=True)
        else:
            buf = st["momentum_buffer"]
            buf *= opt.momentum
            buf += g
        buf = st["momentum_buffer"]
        if opt.nesterov:
            t = _scratch_for(scratch, name, p, 1)
            np.multiply(opt.momentum, buf, out=t)  # μ b
            g = np.add(g, t, out=t)
        else:
            g = buf
    step = np.multiply(p.dtype.type(opt.lr), g, out=s)  # η g
    np.subtract(p, step, out=p)


def _adam_update(opt: Adam, name, p, g, scratch) -> None:
    """As :meth:`Adam._update` (and AdamW's decoupled decay), with two scratch arrays."""
    s = _scratch_for(scratch, name, p)
    t = _scratch_for(scratch, name, p, 1)
    if opt.weight_decay:
        if opt.decoupled:
            p *= p.dtype.type(1.0 - opt.lr * opt.weight_decay)
        else:
            np.multiply(opt.weight_decay, p, out=t)  # λ w
            g = np.add(g, t, out=t)
    st = opt.state.get(name)
    if st is None:
        st = opt.state[name] = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
    m, v = st["exp_avg"], st["exp_avg_sq"]
    m *= opt.beta1
    m += np.multiply(1 - opt.beta1, g, out=s)  # m ← β₁ m + (1 − β₁) g
    v *= opt.beta2
    np.multiply(g, g, out=s)
    v += np.multiply(1 - opt.beta2, s, out=s)  # v ← β₂ v + (1 − β₂) g²
    bc1 = 1 - opt.beta1**opt.t
    bc2 = 1 - opt.beta2**opt.t
    denom = np.sqrt(v, out=s)
    denom /= math.sqrt(bc2)  # √v / √(1 − β₂ᵗ)
    denom += opt.eps
    step = np.divide(m, denom, out=s)
    step *= p.dtype.type(opt.lr / bc1)
    p -= step
