"""The same spec in PyTorch: an mlplab model ↔ ``torch.nn.Sequential`` with identical names.

Layer ``i`` of the mlplab model is module ``i`` of the Sequential, so ``"0.weight"``,
``"2.running_var"`` … are the same keys on both sides and weights move both ways exactly.
Heads map to the torch expressions of the same losses (see :func:`head_loss`).
"""

from __future__ import annotations

import numpy as np

from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout, LayerNorm
from mlplab.core.network import Network
from mlplab.errors import ConfigError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the torch backend needs PyTorch: pip install 'mlplab[torch]'") from exc

__all__ = ["to_torch", "from_torch", "head_loss", "head_output", "torch_activation", "TORCH_DTYPES"]

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Square(nn.Module):
    """φ(z) = z² (clipped at |z| ≤ 1e4 like the NumPy side)."""

    def forward(self, z):
        z = torch.clamp(z, -1e4, 1e4)
        return z * z


class Step(nn.Module):
    """Heaviside step, forward only (no useful gradient)."""

    def forward(self, z):
        return (z >= 0).to(z.dtype)


class FixedMaskDropout(nn.Module):
    """Dropout with a given keep-mask, so NumPy and torch see the same units dropped."""

    def __init__(self, p: float, mask: np.ndarray):
        super().__init__()
        self.register_buffer(
            "scale", torch.as_tensor(mask.astype(np.float64) / (1.0 - p)), persistent=False
        )

    def forward(self, x):
        return x * self.scale.to(x.dtype) if self.training else x


def torch_activation(act, units: int | None = None) -> nn.Module:
    """The torch module computing the same φ as an mlplab activation."""
    name = act.name
    simple = {
        "identity": nn.Identity,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "relu6": nn.ReLU6,
        "hardswish": nn.Hardswish,
        "square": Square,
        "step": Step,
    }
    if name in simple:
        return simple[name]()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "leaky_relu":
        return nn.LeakyReLU(act.alpha)
    if name == "elu":
        return nn.ELU(act.alpha)
    if name == "prelu":
        return nn.PReLU(num_parameters=units, init=act.alpha)
    raise ConfigError(f"no torch equivalent for activation {name!r}")


def to_torch(model: Network, *, device="cpu", dtype=None, masks=None) -> nn.Sequential:
    """A ``torch.nn.Sequential`` equal to ``model`` (weights copied exactly).

    ``masks`` maps dropout layer indices to fixed keep-masks (as :meth:`Network.set_dropout_masks`).
    """
    dtype = dtype or TORCH_DTYPES[model.dtype.name]
    mods = []
    dim = model.input_dim
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            mods.append(nn.Linear(layer.in_dim, layer.units))
            dim = layer.units
        elif isinstance(layer, ActivationLayer):
            mods.append(torch_activation(layer.activation, dim))
        elif isinstance(layer, Dropout):
            if masks is not None and i in masks:
                mods.append(FixedMaskDropout(layer.p, masks[i]))
            else:
                mods.append(nn.Dropout(layer.p))
        elif isinstance(layer, BatchNorm):
            mods.append(nn.BatchNorm1d(dim, eps=layer.eps, momentum=layer.momentum))
        elif isinstance(layer, LayerNorm):
            mods.append(nn.LayerNorm(dim, eps=layer.eps))
        else:  # pragma: no cover - every layer type is listed above
            raise ConfigError(f"no torch equivalent for layer {layer!r}")
    module = nn.Sequential(*mods).to(device=device, dtype=dtype)
    copy_to_torch(model, module)
    return module


def copy_to_torch(model: Network, module: nn.Module) -> None:
    """Copy every parameter and buffer of ``model`` into ``module`` (same names)."""
    sd = module.state_dict()
    src = model.state_dict()
    with torch.no_grad():
        for k, v in src.items():
            if k not in sd:
                raise ConfigError(f"torch module has no entry {k!r}")
            sd[k].copy_(torch.as_tensor(np.asarray(v)))


def from_torch(module: nn.Module, model: Network) -> Network:
    """Copy the weights of ``module`` into ``model`` (in place) and return it."""
    sd = {k: v.detach().cpu().to(torch.float64).numpy() for k, v in module.state_dict().items()}
    mine = model.state_dict()
    model.load_state_dict({k: sd[k].astype(mine[k].dtype) for k in mine})
    return model


def head_loss(head_name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The head's mean loss in torch, equal to :meth:`mlplab.core.losses.Head.loss`.

    Per-sample losses sum over outputs and are averaged over samples.
    """
    import torch.nn.functional as F

    n = z.shape[0]
    if head_name in ("sigmoid_bce", "multilabel_bce"):
        return F.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction="sum") / n
    if head_name == "softmax_ce":
        return F.cross_entropy(z, y.long(), reduction="mean")
    if head_name == "identity_mse":
        return 0.5 * F.mse_loss(z, y.to(z.dtype), reduction="sum") / n
    if head_name == "identity_mae":
        return F.l1_loss(z, y.to(z.dtype), reduction="sum") / n
    if head_name == "exp_poisson":
        return F.poisson_nll_loss(z, y.to(z.dtype), log_input=True, full=False, reduction="sum") / n
    raise ConfigError(f"no torch loss for head {head_name!r}")


def head_output(head_name: str, z: torch.Tensor) -> torch.Tensor:
    """ŷ from logits, as :meth:`Head.output`."""
    if head_name in ("sigmoid_bce", "multilabel_bce"):
        return torch.sigmoid(z)
    if head_name == "softmax_ce":
        return torch.softmax(z, dim=1)
    if head_name == "exp_poisson":
        return torch.exp(z)
    return z
