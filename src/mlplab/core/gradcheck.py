"""Gradient checks: hand-written backprop against central differences and torch autograd.

The error measure is scale-aware: ``rel_err(a, b) = max|a − b| / max(max|b|, tiny)``, the
largest deviation relative to the largest magnitude of the reference.  Central differences use
``(L(θ + ε) − L(θ − ε)) / 2ε`` on float64 copies of the model, with dropout masks fixed and batch
normalisation in training mode, so both sides differentiate the same function.

Torch is imported lazily: the finite-difference check needs only NumPy.
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


def _fix_masks(model: Network, X, rng) -> dict[int, np.ndarray]:
    """Draw one keep-mask per dropout layer (shapes from a forward pass) and fix them."""
    model.set_dropout_masks(None)
    masks = {}
    h = model._as_input(X)
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


def check_network(model: Network, X, y, *, rng=None, use_torch=True, fd=True, max_entries=64):
    """Compare the model's backprop with torch autograd and with central differences.

    The model must be float64.  Returns ``{"max_rel_err_torch", "max_rel_err_fd", "loss",
    "per_param": {name: {"torch", "fd"}}}``; a skipped side reports ``None``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    if model.dtype != np.float64:
        raise ValueError("gradient checks run in float64")
    masks = _fix_masks(model, X, rng)
    loss = model.loss_and_grad(X, y, training=True, rng=rng)
    grads = {k: v.copy() for k, v in model.named_gradients().items()}
    delta_out = model.delta_out.copy()
    per = {k: {"torch": None, "fd": None} for k in grads}
    err_t = err_f = None
    if use_torch:
        import torch

        from mlplab.backends.torch import head_loss, to_torch

        # batch-norm running stats were updated by the pass above; torch starts from the same
        module = to_torch(model, masks=masks)
        module.train()
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        yv = model.head.validate(y, model.output_dim, dtype=np.float64)
        yt = torch.as_tensor(yv)
        z = module(Xt)
        z.retain_grad()
        lt = head_loss(model.head.name, z, yt)
        lt.backward()
        tgrads = {k: p.grad.numpy() for k, p in module.named_parameters()}
        scale = max(float(np.max(np.abs(g))) for g in tgrads.values())
        err_t = rel_err(delta_out, z.grad.numpy())
        err_t = max(err_t, abs(loss - lt.item()) / max(abs(lt.item()), 1e-12))
        for k in grads:
            per[k]["torch"] = rel_err(grads[k], tgrads[k], scale)
            err_t = max(err_t, per[k]["torch"])
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


def _safe_points(name: str, rng, n=257) -> np.ndarray:
    """Pre-activations spread over [−6, 6] that stay clear of the kinks (0, ±3, 6)."""
    z = rng.uniform(-6, 6, size=n)
    kinks = {
        "relu": [0],
        "leaky_relu": [0],
        "prelu": [0],
        "elu": [0],
        "relu6": [0, 6],
        "hardswish": [-3, 3],
        "step": [0],
    }.get(name, [])
    for k in kinks:
        z = np.where(np.abs(z - k) < 1e-3, z + 2e-3, z)
    return z


def check_activation(name: str, *, rng=None, use_torch=True) -> dict:
    """f and f′ against torch (values and autograd) and f′ against central differences."""
    rng = rng if rng is not None else np.random.default_rng(0)
    act = get_activation(name)
    z = _safe_points(act.name, rng)
    f = act.f(z)
    res = {"name": act.name, "max_rel_err_torch": None, "max_rel_err_fd": None}
    if not act.differentiable:
        if use_torch:
            import torch

            from mlplab.backends.torch import torch_activation

            ft = torch_activation(act)(torch.as_tensor(z)).numpy()
            res["max_rel_err_torch"] = rel_err(f, ft)
        return res
    df = act.df(z)
    eps = 1e-6
    fd = (act.f(z + eps) - act.f(z - eps)) / (2 * eps)
    res["max_rel_err_fd"] = rel_err(df, fd)
    if use_torch:
        import torch

        from mlplab.backends.torch import torch_activation

        zt = torch.as_tensor(z, dtype=torch.float64).reshape(1, -1).requires_grad_(True)
        mod = torch_activation(act, z.size).double()
        ft = mod(zt)
        ft.sum().backward()
        res["max_rel_err_torch"] = max(
            rel_err(f, ft.detach().numpy().ravel()), rel_err(df, zt.grad.numpy().ravel())
        )
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


def check_head(name: str, *, rng=None, use_torch=True) -> dict:
    """Loss and δ_out = ∂L/∂z against torch autograd and central differences."""
    rng = rng if rng is not None else np.random.default_rng(0)
    head = get_head(name)
    z, y = _head_data(head.name, rng)
    y = head.validate(y, z.shape[1])
    loss = head.loss(z, y)
    delta = head.delta(z, y)
    eps = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        fd[idx] = (head.loss(zp, y) - head.loss(zm, y)) / (2 * eps)
    res = {"name": head.name, "max_rel_err_fd": rel_err(delta, fd), "max_rel_err_torch": None}
    if use_torch:
        import torch

        from mlplab.backends.torch import head_loss

        zt = torch.as_tensor(z).requires_grad_(True)
        lt = head_loss(head.name, zt, torch.as_tensor(y))
        lt.backward()
        res["max_rel_err_torch"] = max(
            abs(loss - lt.item()) / max(abs(lt.item()), 1e-12), rel_err(delta, zt.grad.numpy())
        )
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


def run_gradcheck(seed: int = 0, *, use_torch: bool = True) -> dict:
    """Every activation, every head, every layer type and a few networks; the CLI's report."""
    rng = np.random.default_rng(seed)
    cases = []
    for name in ACTIVATIONS:
        r = check_activation(name, rng=rng, use_torch=use_torch)
        cases.append({"name": name, "kind": "activation", **_verdict(r)})
    for name in HEADS:
        r = check_head(name, rng=rng, use_torch=use_torch)
        cases.append({"name": name, "kind": "head", **_verdict(r)})
    for title, kind, spec, head in _cases(rng):
        model = Network(spec, rng=rng)
        n = 12
        X = rng.normal(size=(n, spec["input_dim"]))
        y = _labels(head, rng, n, model.output_dim)
        r = check_network(model, X, y, rng=rng, use_torch=use_torch)
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
