"""The fast step: the reference step's numbers, bit for bit, with fewer passes and no
allocation per step.

The reference path — ``Network.zero_grad``, ``Network.forward``, ``Network.backward`` and
``Optimizer.step`` (:class:`mlplab.core.steps.ReferenceStep`) — is the documented, readable
definition of a step.  :class:`FastStep` runs the *fast kernels* that sit next to each
reference, in the module that defines it (``tests/core/test_fastpath.py`` checks every piece):

* layers — ``Dense``, ``ActivationLayer`` with ReLU, ``Dropout`` and ``BatchNorm`` carry
  ``forward_into``/``backward_into`` (:mod:`mlplab.core.layers`, ReLU's ``f_into`` in
  :mod:`mlplab.core.activations`);
* the head — ``SoftmaxCE.loss_and_delta_into`` fuses loss and δ (:mod:`mlplab.core.losses`);
* the optimizer — ``SGD.update_into`` and ``Adam.update_into`` (:mod:`mlplab.core.optim`).

What this module adds is the orchestration: buffers allocated once per batch size and reused,
and the backward pass stopped at the lowest layer with parameters — below it nothing needs a
δ (the first Dense layer's ``δ W`` and an input dropout's backward are not computed; for
784-1024-1024-10 that alone is 14 % of the flops) and ``Network.deltas`` of those layers is
``None``.

**Refusal.**  Each kernel says through ``fast_issue()`` whether it implements its object *as
configured* (class and settings, see :func:`mlplab.core.kernels.settings_issue`).  Where it
does not — a layer norm, a tanh, a head without a fused kernel, a subclass, a setting the
kernel does not know, sample weights — the fast step runs that object's reference code, and says
so in debug logging (logger ``mlplab.core.fastpath``).  Nothing is silently ignored.

After a step, the layer caches (``h_prev``, ``z``, ``out``) and ``Network.deltas`` /
``delta_out`` / ``z_out`` are set exactly as the reference path sets them, so
:meth:`Network.trace` and callbacks see the same values.  They are views of the reused buffers:
they stay valid until the next step — copy them to keep them longer.
"""

from __future__ import annotations

import logging

import numpy as np

from mlplab.core.blas import blas_issue
from mlplab.core.network import Network
from mlplab.core.optim import Optimizer
from mlplab.core.steps import NumpyStep

__all__ = [
    "FastStep",
    "FusedSGDStep",
    "fused_sgd_issue",
    "fast_optimizer_step",
    "model_lowest",
    "fast_issues",
]

log = logging.getLogger("mlplab.core.fastpath")

#: At most this many batch sizes keep their buffers (training uses two: full and last batch).
MAX_CACHED_SIZES = 4


def model_lowest(model: Network) -> int:
    """Index of the lowest layer with parameters: the backward pass stops there."""
    return min((i for i, la in enumerate(model.layers) if la.params), default=0)


def fast_issues(model: Network, optimizer: Optimizer | None = None) -> dict[str, str]:
    """What of ``model`` (and ``optimizer``) the fast kernels do not implement, and why:
    ``{"layer 2 (LayerNorm)": reason, "head": reason, "optimizer": reason}``; those parts
    run their reference code inside the fast step."""
    issues = {}
    for i, layer in enumerate(model.layers):
        why = layer.fast_issue()
        if why:
            issues[f"layer {i} ({type(layer).__name__})"] = why
    why = model.head.fast_issue()
    if why:
        issues["head"] = why
    if optimizer is not None:
        why = optimizer.fast_issue()
        if why:
            issues["optimizer"] = why
    return issues


class _Buffers:
    """Arrays for one batch size ``n``: each kernel layer's buffers, the head's scratch."""

    def __init__(self, model: Network, n: int, kernel: list[bool], lowest: int):
        dt = model.dtype
        self.layer: list[dict] = []
        dim = model.input_dim
        for i, layer in enumerate(model.layers):
            # no buffer for ∂L/∂(input) below the lowest layer with parameters: never computed
            self.layer.append(layer.fast_buffers(n, dim, dt, i > lowest) if kernel[i] else {})
            dim = layer.units if layer.kind == "dense" else dim
        self.head = model.head.fast_buffers(n, model.output_dim, dt)

    @property
    def out(self) -> list:
        """Each layer's output buffer (None for layers without a kernel)."""
        return [b.get("out") for b in self.layer]

    @property
    def din(self) -> list:
        """Each layer's ∂L/∂(input) buffer (None where it is never computed)."""
        return [b.get("din") for b in self.layer]


class FastStep(NumpyStep):
    """Forward, backward and optimizer update of one batch, with preallocated buffers.

    Parameters
    ----------
    model : Network
    optimizer : Optimizer
        SGD, Adam and AdamW take their fast update; any other optimizer, or one with a
        setting the fast update does not implement, runs its own ``step``.

    Examples
    --------
    >>> fast = FastStep(model, optimizer)              # doctest: +SKIP
    >>> z, loss = fast.forward_backward(Xb, yb, rng)   # gradients now in model.grads
    >>> fast.update()                                  # optimizer step, in place
    """

    def __init__(self, model: Network, optimizer: Optimizer):
        super().__init__(model, optimizer)
        self._buffers: dict[int, _Buffers] = {}
        self._scratch: dict[str, np.ndarray] = {}
        self.issues = fast_issues(model, optimizer)
        for what, why in self.issues.items():
            log.debug("fast path: %s runs its reference code: %s", what, why)
        self.kernel = [layer.fast_issue() is None for layer in model.layers]
        self.fused_head = model.head.fast_issue() is None
        self._lowest = model_lowest(model)
        # gradients the kernels do not write must be zeroed before each backward
        self._zero_layers = [
            la
            for la, k in zip(model.layers, self.kernel)
            if la.grads and not (k and la.fast_writes_grads)
        ]

    def buffers(self, n: int) -> _Buffers:
        """The buffers of batch size ``n`` (allocated on first use, at most 4 sizes kept)."""
        buf = self._buffers.get(n)
        if buf is None:
            if len(self._buffers) >= MAX_CACHED_SIZES:
                self._buffers.clear()
            buf = self._buffers[n] = _Buffers(self.model, n, self.kernel, self._lowest)
        return buf

    # ------------------------------------------------------------------ forward
    def forward(self, X: np.ndarray, *, training: bool = True, rng=None) -> np.ndarray:
        """Logits of a batch ``X`` (n, input_dim), already of the model's dtype; caches as the
        reference ``Network.forward`` does (the returned array is a reused buffer)."""
        model = self.model
        buf = self.buffers(X.shape[0])
        h = X
        for layer, kernel, lb in zip(model.layers, self.kernel, buf.layer):
            h = (
                layer.forward_into(h, lb, training, rng)
                if kernel
                else layer.forward(h, training, rng)
            )
        model.z_out = h
        return h

    # ------------------------------------------------------------------ backward
    def forward_backward(self, X, y, rng=None, weight=None) -> tuple[np.ndarray, float]:
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
        head = model.head
        if self.fused_head and weight is None:
            loss, delta = head.loss_and_delta_into(z, y, buf.head)
        else:
            loss = head.loss(z, y, weight)
            delta = head.delta(z, y, weight).astype(model.dtype, copy=False)
        model.delta_out = delta
        lowest = self._lowest
        for i in range(len(model.layers) - 1, lowest - 1, -1):
            model.deltas[i] = delta  # ∂L/∂(output of layer i)
            delta = self.backward_layer(i, delta, buf.layer[i], i > lowest)
        for i in range(lowest):
            model.deltas[i] = None  # not computed (the reference computes them, unused)
        return z, loss

    def backward_layer(self, i: int, delta, buf: dict, need_input_delta: bool):
        """Layer ``i``'s backward: its kernel's ``backward_into``, else its reference."""
        layer = self.model.layers[i]
        if self.kernel[i]:
            return layer.backward_into(delta, buf, need_input_delta)
        return layer.backward(delta)

    # ------------------------------------------------------------------ update
    def update(self) -> None:
        """The optimizer's step on the model's parameters, in place (``optimizer.t`` += 1):
        its fast update when :meth:`~mlplab.core.optim.Optimizer.fast_issue` allowed it when
        this step was made (settings are fixed at construction), else its own ``step``."""
        opt = self.optimizer
        if "optimizer" in self.issues:
            opt.step(self.named_params, self.named_grads)
            return
        opt.t += 1
        for name, p in self.named_params.items():
            opt.update_into(name, p, self.named_grads[name], self._scratch)


def fast_optimizer_step(
    optimizer: Optimizer, params: dict, grads: dict, scratch: dict | None = None
) -> None:
    """``optimizer.step(params, grads)`` with the same numbers and no temporaries.

    An optimizer whose :meth:`~mlplab.core.optim.Optimizer.fast_issue` is None is updated
    through its ``update_into`` with scratch arrays taken from ``scratch`` (a dict this
    function fills and reuses); any other runs its own ``step``.  The per-parameter state
    (momentum buffers, moments) is the optimizer's own.
    """
    if optimizer.fast_issue() is not None:
        optimizer.step(params, grads)
        return
    scratch = {} if scratch is None else scratch
    optimizer.t += 1
    for name, p in params.items():
        optimizer.update_into(name, p, grads[name], scratch)


def fused_sgd_issue(model: Network, optimizer: Optimizer, config, callbacks) -> str | None:
    """Why :class:`FusedSGDStep` cannot run this training (None when it can): it needs SGD
    (plain, with momentum or Nesterov momentum; no weight decay) with its fast update, nothing
    that reads or changes the gradients between backward and update — no callback whose
    ``reads_gradients`` is true, no L1/L2, no clipping — and NumPy's own BLAS reachable for
    α/β products (:func:`mlplab.core.blas.blas_issue`)."""
    if optimizer.fast_issue() is not None or optimizer.name != "sgd":
        return f"optimizer {optimizer!r} is not SGD with its fast update"
    if optimizer.weight_decay:
        return "SGD's weight decay adds λw to the gradient, which the fused update never forms"
    if any(getattr(cb, "reads_gradients", True) for cb in callbacks):
        return "a callback reads the gradients, which the fused update never writes"
    if config.l1 or config.l2 or config.clip_grad_norm:
        return "L1/L2 penalties and clipping change the gradients before the update"
    if not any(layer.kind == "dense" and layer.fast_issue() is None for layer in model.layers):
        return "no Dense layer with its fast kernel"
    return blas_issue()


class FusedSGDStep(FastStep):
    """The fast step with SGD folded into the weight-gradient products
    (:meth:`~mlplab.core.layers.Dense.backward_sgd_into`): for every Dense layer one GEMM
    computes ``W ← W − η δᵀH`` (with momentum: ``v ← μ v + δᵀH``, then one axpy into W);
    parameters of other layers (batch norm, PReLU) take the ordinary fast update in
    :meth:`update`.  Momentum buffers are the optimizer's own state, so checkpoints and
    resume are as with any other step.

    Not bit for bit the reference: the update is added inside the GEMM's accumulation, so the
    weights differ from the reference step's by float rounding (tested within a stated
    tolerance in ``tests/core/test_fastpath.py``).  ``Trainer(fast="fused")`` chooses it when
    :func:`fused_sgd_issue` allows; the Dense weight gradients are then never written.
    """

    def __init__(self, model: Network, optimizer: Optimizer):
        super().__init__(model, optimizer)
        # BLAS writes W and b in place through their addresses: C-contiguous arrays only (as
        # Dense makes them); a layer whose arrays were replaced by others takes the fast step
        self.fused = [
            kernel
            and layer.kind == "dense"
            and all(p.flags.c_contiguous and p.flags.writeable for p in layer.params.values())
            for layer, kernel in zip(model.layers, self.kernel)
        ]
        fused_names = {
            f"{i}.{k}" for i, f in enumerate(self.fused) if f for k in model.layers[i].params
        }
        self._rest = {k: v for k, v in self.named_params.items() if k not in fused_names}

    def backward_layer(self, i, delta, buf, need_input_delta):
        """A Dense layer's backward fused with its SGD update (at the optimizer's current
        learning rate); other layers as in :class:`FastStep`."""
        if not self.fused[i]:
            return super().backward_layer(i, delta, buf, need_input_delta)
        layer, opt = self.model.layers[i], self.optimizer
        if not opt.momentum:
            return layer.backward_sgd_into(delta, buf, need_input_delta, opt.lr)
        velocity = tuple(self._velocity(f"{i}.{k}", layer.params[k]) for k in ("weight", "bias"))
        return layer.backward_sgd_into(
            delta, buf, need_input_delta, opt.lr, opt.momentum, opt.nesterov, velocity
        )

    def _velocity(self, name: str, p: np.ndarray) -> np.ndarray:
        """The optimizer's momentum buffer of parameter ``name`` (zeros before its first
        step: μ·0 + g is the reference's first buffer, g)."""
        st = self.optimizer.state.setdefault(name, {})
        v = st.get("momentum_buffer")
        if v is None:
            v = st["momentum_buffer"] = np.zeros_like(p, order="C")
        elif not (v.flags.c_contiguous and v.flags.writeable and v.dtype == p.dtype):
            v = st["momentum_buffer"] = np.array(v, dtype=p.dtype, order="C")  # same values
        return v

    def update(self) -> None:
        """The SGD update of the parameters the fused backward did not update."""
        opt = self.optimizer
        opt.t += 1
        for name, p in self._rest.items():
            opt.update_into(name, p, self.named_grads[name], self._scratch)
