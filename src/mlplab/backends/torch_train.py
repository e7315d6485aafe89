"""Training on torch: the one loop of :class:`mlplab.core.train.Trainer` with a torch step.

:class:`TorchTrainer` is :class:`~mlplab.core.train.Trainer` — the same loop, config, batch
order drawn from the same NumPy Generator, schedule, regularizers, clipping, max-norm, batch
widening for batch norm, divergence handling, early stopping — whose step is a
:class:`TorchStep`: forward, backward and ``torch.optim`` update of one batch on a torch
module (:func:`mlplab.backends.torch.to_torch`), the optimizers mapped to ``torch.optim`` with
the same hyperparameters and the schedule's learning rate set before every step.  In float64,
without dropout, both engines end at the same weights up to rounding (the tests measure it).

Dropout masks are the one thing that differ between the engines: the NumPy engine draws them
from the run's Generator, the torch engine from a ``torch.Generator`` seeded once from it (one
extra draw at the start of :meth:`TorchTrainer.fit`, made only when the network has dropout).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mlplab.backends.torch import copy_to_torch, from_torch, head_loss, to_torch
from mlplab.core.layers import Dropout
from mlplab.core.network import Network
from mlplab.core.optim import SGD, Adam, AdamW, make_optimizer
from mlplab.core.steps import Step
from mlplab.core.train import History, TrainConfig, Trainer, fit
from mlplab.errors import ConfigError, check_choice

__all__ = [
    "TorchTrainer",
    "TorchStep",
    "torch_fit",
    "torch_optimizer",
    "resolve_device",
    "PRECISIONS",
]

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


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A NumPy copy of a tensor (detached, on the CPU)."""
    return t.detach().cpu().numpy().copy()


class TorchStep(Step):
    """One batch on the trainer's torch module: forward (optionally under bf16 autocast),
    the head's loss in the model's dtype, ``backward``, ``torch.optim`` update; and the array
    operations of the loop's rules on tensors."""

    def __init__(self, trainer: TorchTrainer):
        self.trainer = trainer
        self.module = trainer.module
        self.device = trainer.device
        self.torch_opt = trainer.torch_opt
        self.head_name = trainer._model.head.name
        self.task = trainer._model.head.task
        self.Xt = self.yt = self.wt = self.Xv = None

    def prepare(self, X, y, weight, X_val):
        """Move the training arrays (and weights, validation inputs) to the device once."""
        self.Xt = torch.tensor(X, device=self.device)
        self.yt = torch.tensor(y, device=self.device)
        self.wt = None if weight is None else torch.tensor(weight, device=self.device)
        self.Xv = None if X_val is None else torch.tensor(X_val, device=self.device)
        self.module.train()

    def train_batch(self, idx, rng):
        """Forward and backward of the rows ``idx``; the loss as a Python float."""
        it = torch.as_tensor(idx, device=self.device)
        Xb, yb = self.Xt[it], self.yt[it]
        self.torch_opt.zero_grad()
        with self.trainer._autocast():
            z = self.module(Xb)
        wb = None if self.wt is None else self.wt[it]
        # the loss in the model's dtype: targets are never rounded to bf16
        loss_t = head_loss(self.head_name, z.to(self.Xt.dtype), yb, wb)
        loss_t.backward()
        self._yb = yb
        return loss_t.item(), z.detach()

    def batch_weight(self, idx):
        """The number of rows, or the sum of their weights."""
        if self.wt is None:
            return len(idx)
        return float(self.wt[torch.as_tensor(idx, device=self.device)].sum())

    def correct(self, z, idx):
        """The batch's accuracy as a device scalar (summed without a sync per batch)."""
        yb = self._yb
        if self.task == "multiclass":
            return (z.argmax(1) == yb).to(torch.float64).mean()
        return ((z >= 0) == (yb >= 0.5)).to(torch.float64).mean()

    def validation_logits(self, batch_size: int = 4096):
        """Eval-mode logits in the model's dtype, as a NumPy array."""
        self.module.eval()
        with torch.no_grad():
            zs = [
                self.module(self.Xv[i : i + batch_size]) for i in range(0, len(self.Xv), batch_size)
            ]
        self.module.train()
        model = self.trainer._model
        if not zs:
            return np.zeros((0, model.output_dim), model.dtype)
        return torch.cat(zs).cpu().numpy().astype(model.dtype, copy=False)

    def set_lr(self, lr):
        """Every parameter group's learning rate."""
        for group in self.torch_opt.param_groups:
            group["lr"] = lr
        self.trainer.lr = lr

    def update(self):
        """``torch.optim``'s step."""
        self.torch_opt.step()
        self.trainer._stale = True

    def params(self):
        """The module's parameters."""
        return list(self.trainer.params.values())

    def grads(self):
        """The gradients that exist (``p.grad``)."""
        return [p.grad for p in self.trainer.params.values() if p.grad is not None]

    def dense_pairs(self):
        """``(W, W.grad)`` of every ``nn.Linear``."""
        return [(W, W.grad) for W in self.trainer.dense_weights]

    def sum_squares(self, a):
        """Σ a²."""
        with torch.no_grad():
            return float(torch.sum(a * a))

    def sum_abs(self, a):
        """Σ |a|."""
        with torch.no_grad():
            return float(torch.sum(torch.abs(a)))

    def add_scaled(self, g, a, c):
        """g += c·a."""
        with torch.no_grad():
            g.add_(a, alpha=c)

    def add_scaled_sign(self, g, a, c):
        """g += c·sign(a)."""
        with torch.no_grad():
            g.add_(torch.sign(a), alpha=c)

    def scale(self, a, c):
        """a *= c."""
        with torch.no_grad():
            a.mul_(c)

    def cap_row_norms(self, W, c):
        """The rows whose squared norm exceeds c² are rescaled by c/‖w‖ (as the NumPy step)."""
        with torch.no_grad():
            sq = torch.sum(W * W, dim=1)
            over = sq > c * c
            if bool(over.any()):
                W[over] *= (c / torch.sqrt(sq[over]))[:, None]

    def all_finite(self, arrays):
        """One float64 sum per tensor, one sync for all."""
        with torch.no_grad():
            total = sum(torch.sum(p, dtype=torch.float64) for p in arrays)
        return math.isfinite(float(total))

    def capture(self):
        """Copies of the module's weights and buffers and of the torch optimizer's state."""
        return {
            "module": {k: to_numpy(v) for k, v in self.module.state_dict().items()},
            "optimizer": self.trainer._optimizer_state(),
        }

    def restore(self, state):
        """Put back a :meth:`capture` copy into the module and the torch optimizer."""
        sd = self.module.state_dict()
        with torch.no_grad():
            for k, v in state["module"].items():
                sd[k].copy_(torch.as_tensor(v))
        self.trainer._load_optimizer_state(state["optimizer"])
        self.trainer._stale = True

    def finish(self):
        """Copy the torch weights and optimizer state into the mlplab model and optimizer."""
        self.trainer.sync()

    def reload(self):
        """Copy the mlplab model's (restored best) weights into the module."""
        copy_to_torch(self.trainer._model, self.module)


class TorchTrainer(Trainer):
    """:class:`mlplab.core.train.Trainer` on a torch module: the same loop, a :class:`TorchStep`.

    Parameters
    ----------
    model : Network
        The mlplab model; it is copied into a torch module (:attr:`module`) and the trained
        weights are copied back into it whenever :attr:`model` is read and when :meth:`fit`
        returns.
    optimizer, schedule, config, rng, callbacks
        As for :class:`~mlplab.core.train.Trainer`.  ``rng`` (a NumPy Generator or seed)
        draws the batch order, exactly as the NumPy engine does.
    device : {"auto", "cpu", "cuda"}
        ``auto`` picks CUDA when available.
    precision : {"fp32", "bf16"}
        ``bf16`` runs the forward pass under ``torch.autocast(device_type,
        dtype=torch.bfloat16)``; weights, gradients, the loss and the optimizer stay in
        float32.  Needs a float32 model.

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
        self.fast = False
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

    # ------------------------------------------------------------------ the step
    def make_step(self) -> TorchStep:
        """A :class:`TorchStep`; seeds the dropout generator from the run's Generator once."""
        if self.generator is not None and not self.seeded:
            self.generator.manual_seed(int(self.rng.integers(0, 2**63 - 1)))
            self.seeded = True
        return TorchStep(self)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return torch.autocast(device_type=self.device.type, enabled=False)

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
            d = {k: to_numpy(v) for k, v in st.items() if k in keep and v is not None}
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
            sd["torch_rng"] = to_numpy(self.generator.get_state())
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


def torch_fit(model: Network, X, y, *, device="auto", precision="fp32", **kwargs) -> History:
    """:func:`mlplab.core.train.fit` on torch: train ``model`` in place, return its History.

    Same arguments as :func:`~mlplab.core.train.fit` (``fast`` aside), plus ``device``
    (``auto``/``cpu``/``cuda``) and ``precision`` (``fp32``/``bf16``).  The trained weights
    are in ``model`` afterwards.
    """
    if "fast" in kwargs:
        raise ConfigError("torch_fit: 'fast' chooses a NumPy step; torch has one step")

    def trainer(model, optimizer, **kw):
        return TorchTrainer(model, optimizer, device=device, precision=precision, **kw)

    return fit(model, X, y, trainer=trainer, caller="torch_fit", **kwargs)
