"""The same spec in PyTorch: an mlplab model ↔ ``torch.nn.Sequential`` with identical names,
the heads' losses in torch, and ONNX export.  Training on torch — the one loop of
:mod:`mlplab.core.train` with a torch step — is :mod:`mlplab.backends.torch_train`; its names
(:class:`TorchTrainer`, :func:`torch_fit`, ``torch_optimizer``, ``resolve_device``,
``PRECISIONS``) are importable from here too.

Layer ``i`` of the mlplab model is module ``i`` of the Sequential, so ``"0.weight"``,
``"2.running_var"`` … are the same keys on both sides and weights move both ways exactly.
Heads map to the torch expressions of the same losses (see :func:`head_loss`).

:class:`TorchTrainer` runs :class:`mlplab.core.train.Trainer`'s loop step for step on a torch
module: the same :class:`~mlplab.core.train.TrainConfig`, the batch order drawn from the same
NumPy Generator in the same order, the optimizers mapped to ``torch.optim`` with the same
hyperparameters, the schedule's multiplier fed to ``torch.optim.lr_scheduler.LambdaLR``, and
the regularizers, clipping and max-norm applied with the same arithmetic.  In float64, without
dropout, both engines end at the same weights up to rounding (the tests measure it).

Dropout masks are the one thing that differ between the engines: the NumPy engine draws them
from the run's Generator, the torch engine from a ``torch.Generator`` seeded once from it (one
extra draw at the start of :meth:`TorchTrainer.fit`, made only when the network has dropout).
"""

from __future__ import annotations

import warnings

import numpy as np

from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout, LayerNorm
from mlplab.core.network import Network
from mlplab.errors import ConfigError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the torch backend needs PyTorch: pip install 'mlplab[torch]'") from exc

__all__ = [
    "to_torch",
    "from_torch",
    "copy_to_torch",
    "torch_module",
    "head_loss",
    "head_output",
    "torch_activation",
    "export_onnx",
    "TORCH_DTYPES",
]

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Square(nn.Module):
    """φ(z) = z² (clipped at |z| ≤ 1e4 like the NumPy side)."""

    def forward(self, z):
        """z² with z clipped to [−1e4, 1e4]."""
        z = torch.clamp(z, -1e4, 1e4)
        return z * z


class Step(nn.Module):
    """Heaviside step, forward only (no useful gradient)."""

    def forward(self, z):
        """1 where z ≥ 0, else 0."""
        return (z >= 0).to(z.dtype)


class FixedMaskDropout(nn.Module):
    """Dropout with a given keep-mask, so NumPy and torch see the same units dropped."""

    def __init__(self, p: float, mask: np.ndarray):
        super().__init__()
        self.register_buffer(
            "scale", torch.as_tensor(mask.astype(np.float64) / (1.0 - p)), persistent=False
        )

    def forward(self, x):
        """``x ⊙ m/(1 − p)`` in training mode, ``x`` in eval mode."""
        return x * self.scale.to(x.dtype) if self.training else x


class GeneratorDropout(nn.Module):
    r"""Inverted dropout drawing its masks from a given ``torch.Generator`` (no global state).

    Training: ``h = x ⊙ m / (1 − p)`` with ``m = [u ≥ p]``, ``u ~ U[0, 1)`` — the same rule as
    :class:`mlplab.core.layers.Dropout`, but with torch's random numbers.  Eval: ``h = x``.
    """

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x):
        """Inverted dropout with masks from the given generator (training mode)."""
        if not self.training or self.p == 0.0:
            return x
        u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=torch.float32)
        keep = (u >= self.p).to(x.dtype)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        """The module's settings, as torch prints them."""
        return f"p={self.p}"


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


def to_torch(
    model: Network, *, device="cpu", dtype=None, masks=None, generator=None
) -> nn.Sequential:
    """A ``torch.nn.Sequential`` equal to ``model`` (weights copied exactly).

    Parameters
    ----------
    model : Network
    device : str or torch.device
    dtype : torch.dtype, optional
        Defaults to the model's dtype.
    masks : dict, optional
        Maps dropout layer indices to fixed keep-masks (as :meth:`Network.set_dropout_masks`).
    generator : torch.Generator, optional
        Dropout layers without a fixed mask draw from it (:class:`GeneratorDropout`);
        without one they are ``torch.nn.Dropout`` (torch's global generator).
    """
    dtype = dtype or TORCH_DTYPES[model.dtype.name]
    mods = []
    dim = model.input_dim
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            # skip_init: no draw from torch's global generator (the weights are copied below)
            mods.append(torch.nn.utils.skip_init(nn.Linear, layer.in_dim, layer.units))
            dim = layer.units
        elif isinstance(layer, ActivationLayer):
            mods.append(torch_activation(layer.activation, dim))
        elif isinstance(layer, Dropout):
            if masks is not None and i in masks:
                mods.append(FixedMaskDropout(layer.p, masks[i]))
            elif generator is not None:
                mods.append(GeneratorDropout(layer.p, generator))
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


def torch_module(spec: dict, rng=None, **kwargs) -> nn.Sequential:
    """Build the torch module of an mlplab spec: ``to_torch(Network(spec, rng), **kwargs)``."""
    return to_torch(Network(spec, rng=rng), **kwargs)


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


def head_loss(head_name: str, z: torch.Tensor, y: torch.Tensor, weight=None) -> torch.Tensor:
    """The head's mean loss in torch, equal to :meth:`mlplab.core.losses.Head.loss`.

    Per-sample losses sum over outputs and are averaged over samples; with ``weight`` (one
    per row, a tensor) the average is the weighted mean ``Σ w_i l_i / Σ w_i``.
    """
    import torch.nn.functional as F

    n = z.shape[0]
    if weight is not None:
        per = _per_row_loss(head_name, z, y)
        w = weight.to(per.dtype)
        return (w * per).sum() / w.sum()
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


def _per_row_loss(head_name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each row's loss (summed over the outputs), shape (n,)."""
    import torch.nn.functional as F

    if head_name == "softmax_ce":
        return F.cross_entropy(z, y.long(), reduction="none")
    y = y.to(z.dtype)
    if head_name in ("sigmoid_bce", "multilabel_bce"):
        per = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    elif head_name == "identity_mse":
        per = 0.5 * F.mse_loss(z, y, reduction="none")
    elif head_name == "identity_mae":
        per = F.l1_loss(z, y, reduction="none")
    elif head_name == "exp_poisson":
        per = F.poisson_nll_loss(z, y, log_input=True, full=False, reduction="none")
    else:
        raise ConfigError(f"no torch loss for head {head_name!r}")
    return per.sum(dim=1)


def head_output(head_name: str, z: torch.Tensor) -> torch.Tensor:
    """ŷ from logits, as :meth:`Head.output`."""
    if head_name in ("sigmoid_bce", "multilabel_bce"):
        return torch.sigmoid(z)
    if head_name == "softmax_ce":
        return torch.softmax(z, dim=1)
    if head_name == "exp_poisson":
        return torch.exp(z)
    return z


# ---------------------------------------------------------------------- ONNX
class _WithOutput(nn.Module):
    """Returns ``(logits, ŷ)``: the last Dense layer's z and the head's output."""

    def __init__(self, module: nn.Module, head_name: str):
        super().__init__()
        self.module = module
        self.head_name = head_name

    def forward(self, x):
        z = self.module(x)
        return z, head_output(self.head_name, z)


def export_onnx(model: Network, path, *, opset: int = 17) -> dict:
    """Write ``model`` as an ONNX graph to ``path`` (atomically).

    The graph has one input ``input`` (batch, input_dim) and two outputs: ``logits`` (the last
    Dense layer's z, (batch, k)) and ``output`` (the head's ŷ: probabilities for classifier
    heads, values for regression, rates for counts).  Eval mode: dropout is the identity and
    batch norm uses its running statistics.  The dtype is the model's (float32 or float64).
    Uses torch's TorchScript-based exporter (``dynamo=False``), which needs no extra package.

    Returns a dict with the inputs' and outputs' names and the opset.
    """
    import io

    from mlplab.io import atomic_write_bytes

    module = to_torch(model).eval()
    wrapped = _WithOutput(module, model.head.name).eval()
    example = torch.zeros((2, model.input_dim), dtype=TORCH_DTYPES[model.dtype.name])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        torch.onnx.export(
            wrapped,
            (example,),
            buf,
            dynamo=False,
            input_names=["input"],
            output_names=["logits", "output"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}, "output": {0: "batch"}},
            opset_version=int(opset),
        )
    atomic_write_bytes(path, buf.getvalue())
    return {"inputs": ["input"], "outputs": ["logits", "output"], "opset": int(opset)}


# ---------------------------------------------------------------------- training (moved)
_TRAINING_NAMES = ("TorchTrainer", "TorchStep", "torch_fit", "torch_optimizer", "resolve_device")
_TRAINING_NAMES += ("PRECISIONS",)


def __getattr__(name):
    """The training names live in :mod:`mlplab.backends.torch_train` (imported on first use,
    which keeps the two modules free of an import cycle)."""
    if name in _TRAINING_NAMES:
        from mlplab.backends import torch_train

        return getattr(torch_train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
