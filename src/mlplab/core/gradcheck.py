"""Gradient checks: hand-written backprop against central differences (and, through a
``compare`` hook, against another engine).

The error measure is scale-aware: ``rel_err(a, b) = max|a − b| / max(max|b|, tiny)``, the
largest deviation relative to the largest magnitude of the reference.  Central differences use
``(L(θ + ε) − L(θ − ε)) / 2ε`` on float64 copies of the model, with dropout masks fixed and batch
normalisation in training mode, so both sides differentiate the same function.

This module needs only NumPy.  The comparison with torch autograd lives next to the torch
backend (:mod:`mlplab.backends.torch_gradcheck`), which passes its comparisons in as the
``compare`` hooks of :func:`check_network`, :func:`check_activation` and :func:`check_head`
(and as ``comparison`` to :func:`run_gradcheck`).
"""

from __future__ import annotations

import numpy as np

from mlplab.core.activations import ACTIVATIONS, get_activation
from mlplab.core.layers import Dropout
from mlplab.core.losses import HEADS, get_head
from mlplab.core.network import Network, mlp_spec

__all__ = [
    "rel_err",
    "numeric_gradients",
    "central_differences",
    "fix_dropout_masks",
    "safe_points",
    "check_network",
    "check_activation",
    "check_head",
    "run_gradcheck",
    "TOL_TORCH",
    "TOL_FD",
]

TOL_TORCH = 1e-7
TOL_FD = 1e-5


def rel_err(a, b, scale: float | None = None) -> float:
    """``max|a − b| / max(scale, tiny)``; ``scale`` defaults to ``max|b|``.

    Whole-network checks pass the largest gradient entry of the whole model as ``scale``, so a
    parameter whose true gradient is 0 (a bias just before batch normalisation) is judged
    against the gradient's overall size rather than against its own rounding noise.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    if scale is None:
        scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / max(scale, 1e-300))


def fix_dropout_masks(model: Network, X, rng) -> dict[int, np.ndarray]:
    """Draw one keep-mask per dropout layer (shapes from a forward pass) and fix them."""
    model.set_dropout_masks(None)
    masks = {}
    h = model.as_input(X)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dropout) and layer.p > 0:
            masks[i] = rng.random(h.shape) >= layer.p
            layer.fixed_mask = masks[i]
        h = layer.forward(h, True, rng)
    return masks


def numeric_gradients(model: Network, X, y, *, eps: float = 1e-6, max_entries: int = 64, rng=None):
    """Central-difference gradients of the training-mode loss for (a sample of) each parameter.

    Returns ``{name: (flat_indices, numeric_values)}``.  Needs fixed dropout masks.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    y = model.head.validate(y, model.output_dim, dtype=model.dtype)
    out = {}
    for name, p in model.named_parameters().items():
        flat = p.reshape(-1)
        idx = np.arange(flat.size)
        if flat.size > max_entries:
            idx = np.sort(rng.choice(flat.size, max_entries, replace=False))
        vals = np.empty(len(idx))
        for j, k in enumerate(idx):
            old = flat[k]
            flat[k] = old + eps
            lp = model.head.loss(model.forward(X, training=True, rng=rng), y)
            flat[k] = old - eps
            lm = model.head.loss(model.forward(X, training=True, rng=rng), y)
            flat[k] = old
            vals[j] = (lp - lm) / (2 * eps)
        out[name] = (idx, vals)
    return out


def central_differences(f, z: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``∂f/∂z`` entry by entry as ``(f(z + ε e_i) − f(z − ε e_i)) / 2ε`` (f: array → float)."""
    out = np.zeros_like(z, dtype=np.float64)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        out[idx] = (f(zp) - f(zm)) / (2 * eps)
    return out


def check_network(model: Network, X, y, *, rng=None, compare=None, fd=True, max_entries=64) -> dict:
    """Compare the model's backprop with central differences and, through ``compare``, with
    another engine.

    The model must be float64.  ``compare(model, X, y, masks, loss, grads, delta_out)`` returns
    ``(max_err, {name: err})``.  Returns ``{"max_rel_err_torch", "max_rel_err_fd", "loss",
    "per_param": {name: {"torch", "fd"}}}``; a skipped side reports ``None``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    if model.dtype != np.float64:
        raise ValueError("gradient checks run in float64")
    masks = fix_dropout_masks(model, X, rng)
    loss = model.loss_and_grad(X, y, training=True, rng=rng)
    grads = {k: v.copy() for k, v in model.named_gradients().items()}
    delta_out = model.delta_out.copy()
    per = {k: {"torch": None, "fd": None} for k in grads}
    err_t = err_f = None
    if compare is not None:
        err_t, per_t = compare(model, X, y, masks, loss, grads, delta_out)
        for k in grads:
            per[k]["torch"] = per_t[k]
    if fd:
        num = numeric_gradients(model, X, y, rng=rng, max_entries=max_entries)
        err_f = abs_f = 0.0
        scale = max(float(np.max(np.abs(v))) for _, v in num.values())
        for k, (idx, vals) in num.items():
            per[k]["fd"] = rel_err(grads[k].reshape(-1)[idx], vals, scale)
            err_f = max(err_f, per[k]["fd"])
            abs_f = max(abs_f, float(np.max(np.abs(grads[k].reshape(-1)[idx] - vals))))
    model.set_dropout_masks(None)
    return {
        "loss": loss,
        "max_rel_err_torch": err_t,
        "max_rel_err_fd": err_f,
        "per_param": per,
        # absolute numbers, for the degenerate case where every true gradient is 0 and the
        # relative error only compares rounding noise with rounding noise
        "max_abs_grad": max(float(np.max(np.abs(g))) for g in grads.values()),
        "max_abs_err_fd": abs_f if fd else None,
    }


def safe_points(name: str, rng, n=257) -> np.ndarray:
    """Pre-activations spread over [−6, 6] that stay clear of the activation's kinks."""
    z = rng.uniform(-6, 6, size=n)
    for k in get_activation(name).kinks:
        z = np.where(np.abs(z - k) < 1e-3, z + 2e-3, z)
    return z


def check_activation(name: str, *, rng=None, compare=None) -> dict:
    """f′ against central differences of f; ``compare(act, z, f, df)`` (optional) returns the
    error against another engine (``df`` is None for the step function)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    act = get_activation(name)
    z = safe_points(act.name, rng)
    f = act.f(z)
    res = {"name": act.name, "max_rel_err_torch": None, "max_rel_err_fd": None}
    if not act.differentiable:
        if compare is not None:
            res["max_rel_err_torch"] = compare(act, z, f, None)
        return res
    df = act.df(z)
    eps = 1e-6
    fd = (act.f(z + eps) - act.f(z - eps)) / (2 * eps)
    res["max_rel_err_fd"] = rel_err(df, fd)
    if compare is not None:
        res["max_rel_err_torch"] = compare(act, z, f, df)
    return res


def _head_data(name: str, rng, n=16, k=3):
    z = rng.normal(0, 2, size=(n, k))
    if name == "sigmoid_bce":
        z = z[:, :1]
        y = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    elif name == "multilabel_bce":
        y = rng.integers(0, 2, size=(n, k)).astype(np.float64)
    elif name == "softmax_ce":
        y = rng.integers(0, k, size=n)
    elif name == "exp_poisson":
        y = rng.poisson(2.0, size=(n, k)).astype(np.float64)
    else:
        y = rng.normal(size=(n, k))
    return z, y


def check_head(name: str, *, rng=None, compare=None) -> dict:
    """Loss and δ_out = ∂L/∂z against central differences; ``compare(head, z, y, loss,
    delta)`` (optional) returns the error against another engine."""
    rng = rng if rng is not None else np.random.default_rng(0)
    head = get_head(name)
    z, y = _head_data(head.name, rng)
    y = head.validate(y, z.shape[1])
    loss = head.loss(z, y)
    delta = head.delta(z, y)
    fd = central_differences(lambda zz: head.loss(zz, y), z)
    res = {"name": head.name, "max_rel_err_fd": rel_err(delta, fd), "max_rel_err_torch": None}
    if compare is not None:
        res["max_rel_err_torch"] = compare(head, z, y, loss, delta)
    return res


def _cases(rng):
    """The layer-type cases and a few whole networks (all float64)."""
    d = dict(dtype="float64")
    yield "dense+identity (mse)", "layer", mlp_spec([5, 4, 3], "identity", head="mse", **d), "mse"
    yield "dense+relu (ce)", "layer", mlp_spec([5, 6, 3], "relu", head="softmax", **d), "softmax"
    yield (
        "dropout (fixed mask)",
        "layer",
        mlp_spec([5, 8, 3], "tanh", head="softmax", dropout=0.3, **d),
        "softmax",
    )
    yield (
        "batchnorm (training mode)",
        "layer",
        mlp_spec([5, 8, 3], "relu", head="softmax", norm="batch", **d),
        "softmax",
    )
    yield (
        "layernorm",
        "layer",
        mlp_spec([5, 8, 3], "gelu", head="softmax", norm="layer", **d),
        "softmax",
    )
    yield "prelu (learned slope)", "layer", mlp_spec([5, 8, 3], "prelu", head="mse", **d), "mse"
    yield (
        "net 4-16-16-1 sigmoid bce",
        "network",
        mlp_spec([4, 16, 16, 1], "sigmoid", head="binary", **d),
        "binary",
    )
    yield (
        "net 6-12-10-8-4 mixed, batchnorm, dropout",
        "network",
        mlp_spec(
            [6, 12, 10, 8, 4],
            activations=["tanh", "silu", "elu"],
            head="softmax",
            norm="batch",
            dropout=0.2,
            **d,
        ),
        "softmax",
    )
    yield (
        "net 3-10-10-2 poisson",
        "network",
        mlp_spec([3, 10, 10, 2], "gelu_tanh", head="poisson", **d),
        "poisson",
    )
    yield (
        "net 4-12-5 multilabel, layernorm",
        "network",
        mlp_spec([4, 12, 5], "leaky_relu", head="multilabel", norm="layer", **d),
        "multilabel",
    )
    yield "net 3-8-8-2 mae", "network", mlp_spec([3, 8, 8, 2], "hardswish", head="mae", **d), "mae"


def _labels(head: str, rng, n: int, k: int):
    if head == "softmax":
        return rng.integers(0, k, size=n)
    if head in ("binary", "multilabel"):
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if head == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


def run_gradcheck(seed: int = 0, *, comparison=None) -> dict:
    """Every activation, every head, every layer type and a few networks; the CLI's report.

    ``comparison`` (optional) has ``activation``, ``head`` and ``network`` callables, the
    ``compare`` hooks of the three checks (``mlplab.backends.torch_gradcheck.TORCH``).
    """
    rng = np.random.default_rng(seed)
    hook = (lambda name: getattr(comparison, name)) if comparison is not None else (lambda _: None)
    cases = []
    for name in ACTIVATIONS:
        r = check_activation(name, rng=rng, compare=hook("activation"))
        cases.append({"name": name, "kind": "activation", **_verdict(r)})
    for name in HEADS:
        r = check_head(name, rng=rng, compare=hook("head"))
        cases.append({"name": name, "kind": "head", **_verdict(r)})
    for title, kind, spec, head in _cases(rng):
        model = Network(spec, rng=rng)
        n = 12
        X = rng.normal(size=(n, spec["input_dim"]))
        y = _labels(head, rng, n, model.output_dim)
        r = check_network(model, X, y, rng=rng, compare=hook("network"))
        cases.append({"name": title, "kind": kind, **_verdict(r)})
    errs_t = [c["max_rel_err_torch"] for c in cases if c["max_rel_err_torch"] is not None]
    errs_f = [c["max_rel_err_fd"] for c in cases if c["max_rel_err_fd"] is not None]
    return {
        "ok": all(c["ok"] for c in cases),
        "activations": list(ACTIVATIONS),
        "heads": list(HEADS),
        "cases": cases,
        "max_rel_err_torch": max(errs_t) if errs_t else None,
        "max_rel_err_fd": max(errs_f) if errs_f else None,
        "tolerance_torch": TOL_TORCH,
        "tolerance_fd": TOL_FD,
    }


def _verdict(r: dict) -> dict:
    et, ef = r.get("max_rel_err_torch"), r.get("max_rel_err_fd")
    ok = (et is None or et <= TOL_TORCH) and (ef is None or ef <= TOL_FD)
    return {"max_rel_err_torch": et, "max_rel_err_fd": ef, "ok": bool(ok)}
