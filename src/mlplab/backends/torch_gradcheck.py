"""The gradient checks against torch autograd, next to the torch backend.

:mod:`mlplab.core.gradcheck` checks the engine's backprop against central differences with
NumPy alone; this module adds the second reference, torch autograd, through that module's
``compare`` hooks (:data:`TORCH`), and offers the checks with the torch side switched on —
:func:`check_network`, :func:`check_activation`, :func:`check_head`, :func:`run_gradcheck`,
each with ``use_torch`` (default True) to leave it out.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from mlplab.backends.torch import head_loss, to_torch, torch_activation
from mlplab.core import gradcheck as core_gradcheck
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, rel_err
from mlplab.core.network import Network

__all__ = [
    "check_network",
    "check_activation",
    "check_head",
    "run_gradcheck",
    "compare_network",
    "compare_activation",
    "compare_head",
    "TORCH",
    "TOL_FD",
    "TOL_TORCH",
    "rel_err",
]


def compare_network(model: Network, X, y, masks, loss, grads, delta_out):
    """The model's loss, δ_out and parameter gradients against torch autograd on the same
    module (same weights, same fixed dropout masks, batch norm in training mode).

    Returns ``(max_err, {parameter name: err})``; parameter errors are relative to the
    largest torch gradient entry of the whole model (at least 1e-7).
    """
    # batch-norm running stats were updated by the engine's pass; torch starts from the same
    module = to_torch(model, masks=masks)
    module.train()
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
    yt = torch.as_tensor(model.head.validate(y, model.output_dim, dtype=np.float64))
    z = module(Xt)
    z.retain_grad()
    lt = head_loss(model.head.name, z, yt)
    lt.backward()
    tgrads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    # Relative to the largest gradient entry — but never below 1e-7: when every true gradient
    # is 0 (a layer norm over one feature fixes its output and the MAE signs cancel), torch's
    # entries are rounding noise (2e-15 in that case) and a relative error would compare noise
    # with noise.  Below the floor, a difference passes TOL_TORCH when it is under 1e-14.
    scale = max(1e-7, max(float(np.max(np.abs(g))) for g in tgrads.values()))
    err = rel_err(delta_out, z.grad.numpy())
    err = max(err, abs(loss - lt.item()) / max(abs(lt.item()), 1e-12))
    per = {k: rel_err(grads[k], tgrads[k], scale) for k in grads}
    return max([err, *per.values()]), per


def compare_activation(act, z, f, df) -> float:
    """φ (and φ′ by autograd, unless ``df`` is None) against the torch module of ``act``."""
    if df is None:
        ft = torch_activation(act)(torch.as_tensor(z)).numpy()
        return rel_err(f, ft)
    zt = torch.as_tensor(z, dtype=torch.float64).reshape(1, -1).requires_grad_(True)
    mod = torch_activation(act, z.size).double()
    ft = mod(zt)
    ft.sum().backward()
    return max(rel_err(f, ft.detach().numpy().ravel()), rel_err(df, zt.grad.numpy().ravel()))


def compare_head(head, z, y, loss, delta) -> float:
    """The head's loss and δ_out against :func:`mlplab.backends.torch.head_loss` and autograd."""
    zt = torch.as_tensor(z).requires_grad_(True)
    lt = head_loss(head.name, zt, torch.as_tensor(y))
    lt.backward()
    return max(abs(loss - lt.item()) / max(abs(lt.item()), 1e-12), rel_err(delta, zt.grad.numpy()))


#: The three comparisons, as :func:`mlplab.core.gradcheck.run_gradcheck` takes them.
TORCH = SimpleNamespace(network=compare_network, activation=compare_activation, head=compare_head)


def check_network(model: Network, X, y, *, rng=None, use_torch=True, fd=True, max_entries=64):
    """:func:`mlplab.core.gradcheck.check_network` with torch autograd as the second side."""
    return core_gradcheck.check_network(
        model,
        X,
        y,
        rng=rng,
        compare=compare_network if use_torch else None,
        fd=fd,
        max_entries=max_entries,
    )


def check_activation(name: str, *, rng=None, use_torch=True) -> dict:
    """:func:`mlplab.core.gradcheck.check_activation` with torch as the second side."""
    return core_gradcheck.check_activation(
        name, rng=rng, compare=compare_activation if use_torch else None
    )


def check_head(name: str, *, rng=None, use_torch=True) -> dict:
    """:func:`mlplab.core.gradcheck.check_head` with torch as the second side."""
    return core_gradcheck.check_head(name, rng=rng, compare=compare_head if use_torch else None)


def run_gradcheck(seed: int = 0, *, use_torch: bool = True) -> dict:
    """Every activation, head, layer type and a few networks against central differences and
    (``use_torch``) torch autograd: the report of ``mlplab gradcheck``."""
    return core_gradcheck.run_gradcheck(seed, comparison=TORCH if use_torch else None)
