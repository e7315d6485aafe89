"""The same spec in PyTorch: an mlplab model ↔ ``torch.nn.Sequential`` with identical names,
the same training loop on torch (:class:`TorchTrainer`, :func:`torch_fit`) and ONNX export.

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

import math
import time
import warnings

import numpy as np

from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout, LayerNorm
from mlplab.core.network import Network
from mlplab.core.optim import SGD, Adam, AdamW, make_optimizer
from mlplab.core.train import History, TrainConfig, TrainerBase, _fit_arguments, _metrics
from mlplab.errors import ConfigError, check_choice

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
    "resolve_device",
    "torch_optimizer",
    "TorchTrainer",
    "torch_fit",
    "export_onnx",
    "TORCH_DTYPES",
    "PRECISIONS",
]

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
        if not self.training or self.p == 0.0:
            return x
        u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=torch.float32)
        keep = (u >= self.p).to(x.dtype)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
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


# ---------------------------------------------------------------------- training on torch
PRECISIONS = ("fp32", "bf16")


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU is a ConfigError."""
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.split(":")[0] not in ("cpu", "cuda"):
        raise ConfigError(f"device must be one of auto, cpu, cuda; got {device!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA GPU; use cpu or auto")
    return torch.device(name)


def torch_optimizer(optimizer, params) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer with the hyperparameters of an mlplab optimizer.

    ``sgd`` → ``torch.optim.SGD(lr, momentum, nesterov, weight_decay, dampening=0)``;
    ``adam`` → ``torch.optim.Adam(lr, betas=(β₁, β₂), eps, weight_decay)``;
    ``adamw`` → ``torch.optim.AdamW`` likewise.  ``params`` is a list of tensors.
    """
    opt = make_optimizer(optimizer)
    lr = opt.base_lr
    if isinstance(opt, SGD):
        out = torch.optim.SGD(
            params,
            lr=lr,
            momentum=opt.momentum,
            nesterov=opt.nesterov,
            weight_decay=opt.weight_decay,
            dampening=0.0,
        )
    elif isinstance(opt, Adam):
        cls = torch.optim.AdamW if isinstance(opt, AdamW) else torch.optim.Adam
        out = cls(
            params,
            lr=lr,
            betas=(opt.beta1, opt.beta2),
            eps=opt.eps,
            weight_decay=opt.weight_decay,
        )
    else:  # pragma: no cover - every registered optimizer is listed above
        raise ConfigError(f"no torch optimizer for {opt.name!r}")
    for group in out.param_groups:
        group["initial_lr"] = lr
    return out


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


class TorchTrainer(TrainerBase):
    """:class:`mlplab.core.train.Trainer` on a torch module.

    The bookkeeping (counters, history, early stopping, the state dict's loop part) is
    :class:`~mlplab.core.train.TrainerBase`'s, shared with the NumPy trainer.

    Parameters
    ----------
    model : Network
        The mlplab model; it is copied into a torch module (:attr:`module`) and the trained
        weights are copied back into it at every epoch end and when :meth:`fit` returns.
    optimizer, schedule, config, rng, callbacks
        As for :class:`~mlplab.core.train.Trainer`.  ``rng`` (a NumPy Generator or seed)
        draws the batch order, exactly as the NumPy engine does.
    device : {"auto", "cpu", "cuda"}
        ``auto`` picks CUDA when available.
    precision : {"fp32", "bf16"}
        ``bf16`` runs the forward pass and the loss under
        ``torch.autocast(device_type, dtype=torch.bfloat16)``; weights, gradients and the
        optimizer stay in float32.  Needs a float32 model.

    Notes
    -----
    Callbacks receive this trainer.  In ``on_batch_end`` the gradients are live in
    ``trainer.module`` (``p.grad``), before the optimizer step.  ``trainer.model`` is the
    mlplab model with the module's current weights (copied from torch when it is read).
    Validation loss and metrics are computed in the model's dtype without autocast, i.e. they
    are those of the mlplab model that results.
    """

    def __init__(
        self,
        model: Network,
        optimizer="adam",
        *,
        schedule=None,
        config: TrainConfig | None = None,
        rng=None,
        callbacks=(),
        device="auto",
        precision="fp32",
    ):
        self._init_loop(model, optimizer, schedule, config, rng, callbacks)
        self.precision = check_choice("precision", str(precision).lower(), PRECISIONS)
        if self.precision == "bf16" and model.dtype != np.float32:
            raise ConfigError("precision 'bf16' needs a float32 model; this one is float64")
        self.device = resolve_device(device)
        self._model = model
        self._stale = False  # the torch weights changed since the last copy into the model
        self.has_dropout = any(isinstance(la, Dropout) and la.p > 0 for la in model.layers)
        self.generator: torch.Generator | None = None
        if self.has_dropout:
            self.generator = torch.Generator(device=self.device)
        self.module = to_torch(model, device=self.device, generator=self.generator)
        self.names = [name for name, _ in self.module.named_parameters()]
        self.params = dict(self.module.named_parameters())
        self.dense_weights = [
            m.weight for m in self.module if isinstance(m, nn.Linear)
        ]  # what l1, l2 and max-norm act on
        self.torch_opt = torch_optimizer(self.optimizer, list(self.params.values()))
        self.lr = self.optimizer.base_lr
        self.seeded = False

    # ------------------------------------------------------------------ state
    @property
    def model(self) -> Network:
        """The mlplab model, holding the torch module's current weights (copied on access)."""
        if self._stale:
            from_torch(self.module, self._model)
            self._stale = False
        return self._model

    def sync(self) -> Network:
        """Copy the torch weights and optimizer state into :attr:`model` / :attr:`optimizer`."""
        self._stale = True
        self.optimizer.load_state_dict(self._optimizer_state())
        return self.model

    def _optimizer_state(self) -> dict:
        keep = ("momentum_buffer", "exp_avg", "exp_avg_sq")
        state = {}
        for name, p in self.params.items():
            st = self.torch_opt.state.get(p, {})
            d = {k: _to_numpy(v) for k, v in st.items() if k in keep and v is not None}
            if d:
                state[name] = d
        return {"spec": self.optimizer.spec(), "t": self.step, "lr": self.lr, "state": state}

    def _load_optimizer_state(self, sd: dict) -> None:
        self.torch_opt.state.clear()
        t = int(sd["t"])
        for name, st in sd["state"].items():
            p = self.params[name]
            entry = {k: torch.as_tensor(np.asarray(v)).to(p) for k, v in st.items()}
            if "exp_avg" in entry:
                entry["step"] = torch.tensor(float(t))
            self.torch_opt.state[p] = entry

    def state_dict(self) -> dict:
        """The same layout as :meth:`Trainer.state_dict` (plus the torch dropout generator)."""
        self.sync()
        sd = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self._loop_state(),
            "engine": "torch",
        }
        if self.generator is not None and self.seeded:
            sd["torch_rng"] = _to_numpy(self.generator.get_state())
        return sd

    def load_state_dict(self, sd: dict) -> None:
        """Resume from :meth:`state_dict` — of this trainer or of a NumPy :class:`Trainer`."""
        self._model.load_state_dict(sd["model"])
        copy_to_torch(self._model, self.module)
        self._stale = False
        self.optimizer.load_state_dict(sd["optimizer"])
        self._load_optimizer_state(sd["optimizer"])
        self.lr = float(sd["optimizer"]["lr"])
        self._load_loop_state(sd)
        if self.generator is not None and "torch_rng" in sd:
            self.generator.set_state(torch.as_tensor(np.asarray(sd["torch_rng"], dtype=np.uint8)))
            self.seeded = True

    # ------------------------------------------------------------------ pieces of a step
    def _penalty(self) -> float:
        """Add λ₂W + λ₁·sign W to the Dense weights' gradients; return ½λ₂‖W‖² + λ₁‖W‖₁."""
        c = self.config
        if not (c.l1 or c.l2):
            return 0.0
        total = 0.0
        with torch.no_grad():
            for W in self.dense_weights:
                if c.l2:
                    total += 0.5 * c.l2 * float(torch.sum(W * W))
                    W.grad.add_(W, alpha=c.l2)
                if c.l1:
                    total += c.l1 * float(torch.sum(torch.abs(W)))
                    W.grad.add_(torch.sign(W), alpha=c.l1)
        return total

    def _clip(self) -> None:
        """Rescale all gradients by c/(‖g‖ + 1e-12) when the global norm ‖g‖ exceeds c."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        scale = self._clip_scale(float(torch.sum(g * g)) for g in grads)
        if scale is not None:
            with torch.no_grad():
                for g in grads:
                    g.mul_(scale)

    def _max_norm(self) -> None:
        """Rescale each unit's incoming weights (a row of W) to norm ≤ c."""
        c = self.config.max_norm
        with torch.no_grad():
            for W in self.dense_weights:
                norms = torch.sqrt(torch.sum(W * W, dim=1, keepdim=True))
                W.mul_(torch.clamp(c / torch.clamp(norms, min=1e-12), max=1.0))

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return torch.autocast(device_type=self.device.type, enabled=False)

    def _tensors(self, X, y):
        Xt = torch.tensor(X, device=self.device)
        yt = torch.tensor(y, device=self.device)
        return Xt, yt

    def _logits(self, Xt: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """Eval-mode logits in the model's dtype, as a NumPy array."""
        self.module.eval()
        with torch.no_grad():
            zs = [self.module(Xt[i : i + batch_size]) for i in range(0, len(Xt), batch_size)]
        self.module.train()
        if not zs:
            return np.zeros((0, self.model.output_dim), self.model.dtype)
        return torch.cat(zs).cpu().numpy().astype(self.model.dtype, copy=False)

    def _batch_accuracy(self, z: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        task = self.model.head.task
        if task == "multiclass":
            return (z.argmax(1) == yb).to(torch.float64).mean()
        return ((z >= 0) == (yb >= 0.5)).to(torch.float64).mean()

    # ------------------------------------------------------------------ loop
    def fit(self, X, y, X_val=None, y_val=None) -> History:
        """Train for ``config.epochs`` epochs in total, as :meth:`Trainer.fit`."""
        model, cfg = self.model, self.config
        X, y, X_val, y_val, has_val = self._fit_data(X, y, X_val, y_val)
        if has_val:
            Xv_t = torch.tensor(X_val, device=self.device)
        n, bs = len(X), cfg.batch_size
        if model.has_batchnorm() and n % bs == 1:
            bs += 1  # never leave a batch of one row for batch norm
        steps_per_epoch = math.ceil(n / bs)
        self.total_steps = cfg.epochs * steps_per_epoch
        self.stop = False
        if self.generator is not None and not self.seeded:
            self.generator.manual_seed(int(self.rng.integers(0, 2**63 - 1)))
            self.seeded = True
        Xt, yt = self._tensors(X, y)
        head = model.head.name
        offset, total = self.step, self.total_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.torch_opt, lambda k: self.schedule(offset + k, total)
        )
        self.module.train()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while self.epoch < cfg.epochs and not self.stop:
            t0 = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(self)
            if cfg.stop_on_nonfinite:
                self.last_good_state = {k: v.detach().clone() for k, v in self.params.items()}
            order = self.rng.permutation(n) if cfg.shuffle else np.arange(n)
            order_t = torch.as_tensor(order, device=self.device)
            loss_sum, seen = 0.0, 0
            acc_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            for start in range(0, n, bs):
                idx = order_t[start : start + bs]
                Xb, yb = Xt[idx], yt[idx]
                self.lr = self.torch_opt.param_groups[0]["lr"]
                self.torch_opt.zero_grad()
                with self._autocast():
                    z = self.module(Xb)
                # the loss in the model's dtype: targets are never rounded to bf16
                loss_t = head_loss(head, z.to(Xt.dtype), yb)
                loss_t.backward()
                loss = loss_t.item() + self._penalty()
                if not math.isfinite(loss):
                    self._diverged(loss)
                    break
                if cfg.clip_grad_norm:
                    self._clip()
                for cb in self.callbacks:
                    cb.on_batch_end(self, loss)
                self.torch_opt.step()
                scheduler.step()
                if cfg.max_norm:
                    self._max_norm()
                self._stale = True
                self.step += 1
                m = len(idx)
                loss_sum += loss * m
                if self.metric == "accuracy":
                    acc_sum += self._batch_accuracy(z.detach(), yb) * m
                seen += m
            if self.stop:
                break
            rec = {"epoch": self.epoch + 1, "train_loss": loss_sum / seen}
            if self.metric == "accuracy":
                rec["train_accuracy"] = float(acc_sum) / seen
            if has_val:
                zv = self._logits(Xv_t)
                rec["val_loss"] = model.head.loss(zv, y_val)
                rec.update({f"val_{k}": v for k, v in _metrics(model.head, zv, y_val).items()})
            rec["lr"] = self.lr
            rec["seconds"] = time.perf_counter() - t0
            self.epoch += 1
            self.history.append(rec)
            if has_val:
                self._early_stopping(rec)
            for cb in self.callbacks:
                cb.on_epoch_end(self)
        self.sync()
        if self._restore_best():
            copy_to_torch(self._model, self.module)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _diverged(self, loss) -> None:
        """Stop, put back the weights of the last finished epoch, record the divergence."""
        self._mark_diverged(loss)
        if self.last_good_state is not None:
            with torch.no_grad():
                for k, v in self.params.items():
                    v.copy_(self.last_good_state[k])


def torch_fit(
    model: Network,
    X,
    y,
    *,
    optimizer="adam",
    lr: float | None = None,
    schedule=None,
    validation=None,
    rng=None,
    callbacks=(),
    device="auto",
    precision="fp32",
    **config,
) -> History:
    """:func:`mlplab.core.train.fit` on torch: train ``model`` in place, return its History.

    Same arguments as :func:`~mlplab.core.train.fit`, plus ``device`` (``auto``/``cpu``/``cuda``)
    and ``precision`` (``fp32``/``bf16``).  The trained weights are in ``model`` afterwards.
    """
    optimizer, cfg, (X_val, y_val) = _fit_arguments(optimizer, lr, config, validation, "torch_fit")
    trainer = TorchTrainer(
        model,
        optimizer,
        schedule=schedule,
        config=cfg,
        rng=rng,
        callbacks=callbacks,
        device=device,
        precision=precision,
    )
    return trainer.fit(X, y, X_val, y_val)


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
