"""Optimizers and learning-rate schedules.

Optimizers keep their state in dicts aligned with the model's parameter names and update the
parameter arrays in place.  The update rules follow PyTorch's ``torch.optim`` step for step, so
that the same settings give the same weights (tested to float64 rounding).

* :class:`SGD` — plain, momentum (Polyak 1964) and Nesterov (Sutskever et al. 2013 form),
  coupled weight decay ``g ← g + λ w``.
* :class:`Adam` — Kingma & Ba 2015, with coupled L2 (``g ← g + λ w``) like ``torch.optim.Adam``.
* :class:`AdamW` — Loshchilov & Hutter 2019: decoupled decay ``w ← w − η λ w`` before the Adam step.

Schedules return a multiplier of the base learning rate as a function of the optimizer step
``t`` (0-based) and the total number of steps ``T``.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.kernels import settings_issue
from mlplab.errors import ConfigError, check_choice, check_range

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "make_optimizer",
    "Schedule",
    "SCHEDULES",
    "make_schedule",
    "scratch_array",
]


class Optimizer:
    """Base class.  ``step(params, grads)`` updates ``params`` in place."""

    name = "?"

    def __init__(self, lr: float):
        self.lr = float(
            check_range(f"{self.name}.lr", lr, 0.0, math.inf, lo_open=True, hi_open=True)
        )
        self.base_lr = self.lr
        self.t = 0  # number of steps taken
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """One update of every parameter in place (``t`` += 1): the reference rule."""
        self.t += 1
        for name, p in params.items():
            self._update(name, p, grads[name])

    def fast_issue(self) -> str | None:
        """None when :meth:`update_into` implements this optimizer with its settings (the
        fast step's update); else why not — the fast step then calls :meth:`step`."""
        return f"optimizer {self.name!r} has no fast update"

    def update_into(self, name: str, p, g, scratch: dict) -> None:
        """The update of one parameter with scratch arrays from ``scratch`` (no temporaries);
        the same numbers as :meth:`step`'s.  The caller increments ``t`` once per step.
        Base: the reference rule itself (temporaries and all); optimizers whose
        :meth:`fast_issue` is None override it."""
        self._update(name, p, g)

    def _update(self, name, p, g):  # pragma: no cover - abstract
        raise TypeError("subclasses implement _update")

    def hyperparameters(self) -> dict:
        """The settings that define the update (what ``spec`` saves)."""
        return {"lr": self.base_lr}

    def spec(self) -> dict:
        """``{"name": …, **hyperparameters}``: what :func:`make_optimizer` rebuilds."""
        return {"name": self.name, **self.hyperparameters()}

    def state_dict(self) -> dict:
        """Everything needed to resume bit for bit: step count, current lr, per-param state."""
        return {
            "spec": self.spec(),
            "t": self.t,
            "lr": self.lr,
            "state": {n: {k: v.copy() for k, v in s.items()} for n, s in self.state.items()},
        }

    def load_state_dict(self, sd: dict) -> None:
        """Restore :meth:`state_dict` (step count, lr, per-parameter state)."""
        self.t = int(sd["t"])
        self.lr = float(sd["lr"])
        self.state = {n: {k: np.array(v) for k, v in s.items()} for n, s in sd["state"].items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0).

    ``g ← ∇ + λ w``;  with momentum μ: ``b ← μ b + g`` (b₀ = g), then ``g ← g + μ b`` (Nesterov)
    or ``g ← b``;  finally ``w ← w − η g``.
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        self.momentum = float(check_range("sgd.momentum", momentum, 0.0, 1.0, hi_open=True))
        self.nesterov = bool(nesterov)
        self.weight_decay = float(check_range("sgd.weight_decay", weight_decay, 0.0, None))
        if self.nesterov and self.momentum == 0:
            raise ConfigError("sgd.nesterov needs momentum in (0, 1)")

    def _update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.momentum_buffer(name, g)
            g = g + self.momentum * buf if self.nesterov else buf
        p -= p.dtype.type(self.lr) * g

    def momentum_buffer(self, name: str, g) -> np.ndarray:
        """``b ← μ b + g`` in place (``b₀ = g``) for parameter ``name``; returns b."""
        st = self.state.setdefault(name, {})
        if "momentum_buffer" not in st:
            st["momentum_buffer"] = np.array(g, copy=True)
        else:
            buf = st["momentum_buffer"]
            buf *= self.momentum
            buf += g
        return st["momentum_buffer"]

    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(
            self, SGD, ("lr", "momentum", "nesterov", "weight_decay"), ("step", "_update")
        )

    def update_into(self, name, p, g, scratch):
        """As :meth:`_update` with ``out=`` scratch arrays."""
        s = scratch_array(scratch, name, p)
        if self.weight_decay:
            np.multiply(self.weight_decay, p, out=s)  # λ w
            g = np.add(g, s, out=s)
        if self.momentum:
            buf = self.momentum_buffer(name, g)
            if self.nesterov:
                t = scratch_array(scratch, name, p, 1)
                np.multiply(self.momentum, buf, out=t)  # μ b
                g = np.add(g, t, out=t)
            else:
                g = buf
        step = np.multiply(p.dtype.type(self.lr), g, out=s)  # η g
        np.subtract(p, step, out=p)

    def hyperparameters(self):
        """The settings that define the update (what ``spec`` saves)."""
        return {
            "lr": self.base_lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``.

    ``g ← ∇ + λ w``;  ``m ← β₁ m + (1−β₁) g``;  ``v ← β₂ v + (1−β₂) g²``;
    ``w ← w − η · m/(1−β₁ᵗ) / (√(v/(1−β₂ᵗ)) + ε)``.
    """

    name = "adam"
    decoupled = False

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        self.beta1 = float(check_range(f"{self.name}.beta1", beta1, 0.0, 1.0, hi_open=True))
        self.beta2 = float(check_range(f"{self.name}.beta2", beta2, 0.0, 1.0, hi_open=True))
        self.eps = float(check_range(f"{self.name}.eps", eps, 0.0, None, lo_open=True))
        self.weight_decay = float(check_range(f"{self.name}.weight_decay", weight_decay, 0.0, None))

    def _update(self, name, p, g):
        if self.weight_decay:
            if self.decoupled:
                p *= p.dtype.type(1.0 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        st = self.state.get(name)
        if st is None:
            st = self.state[name] = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        bc1 = 1 - self.beta1**self.t
        bc2 = 1 - self.beta2**self.t
        denom = np.sqrt(v) / math.sqrt(bc2)
        denom += self.eps
        p -= p.dtype.type(self.lr / bc1) * (m / denom)

    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(
            self, Adam, ("lr", "beta1", "beta2", "eps", "weight_decay"), ("step", "_update")
        )

    def update_into(self, name, p, g, scratch):
        """As :meth:`_update` (and AdamW's decoupled decay) with two scratch arrays."""
        s = scratch_array(scratch, name, p)
        t = scratch_array(scratch, name, p, 1)
        if self.weight_decay:
            if self.decoupled:
                p *= p.dtype.type(1.0 - self.lr * self.weight_decay)
            else:
                np.multiply(self.weight_decay, p, out=t)  # λ w
                g = np.add(g, t, out=t)
        st = self.state.get(name)
        if st is None:
            st = self.state[name] = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m *= self.beta1
        m += np.multiply(1 - self.beta1, g, out=s)  # m ← β₁ m + (1 − β₁) g
        v *= self.beta2
        np.multiply(g, g, out=s)
        v += np.multiply(1 - self.beta2, s, out=s)  # v ← β₂ v + (1 − β₂) g²
        bc1 = 1 - self.beta1**self.t
        bc2 = 1 - self.beta2**self.t
        denom = np.sqrt(v, out=s)
        denom /= math.sqrt(bc2)  # √v / √(1 − β₂ᵗ)
        denom += self.eps
        step = np.divide(m, denom, out=s)
        step *= p.dtype.type(self.lr / bc1)
        p -= step

    def hyperparameters(self):
        """The settings that define the update (what ``spec`` saves)."""
        return {
            "lr": self.base_lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019): ``w ← w (1 − η λ)`` then the Adam step without L2 in g.

    Default λ = 0.01, as ``torch.optim.AdamW``.
    """

    name = "adamw"
    decoupled = True

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps, weight_decay)


def scratch_array(scratch: dict, name: str, p: np.ndarray, slot: int = 0) -> np.ndarray:
    """A scratch array shaped like parameter ``p`` kept in ``scratch`` under (name, slot)."""
    key = f"{name}#{slot}"
    s = scratch.get(key)
    if s is None or s.shape != p.shape or s.dtype != p.dtype:
        s = scratch[key] = np.empty_like(p)
    return s


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def make_optimizer(spec) -> Optimizer:
    """From a name (``"adam"``), a dict (``{"name": "sgd", "lr": 0.1, "momentum": 0.9}``) or an
    optimizer.  ``"momentum"`` and ``"nesterov"`` are shortcuts for SGD with momentum 0.9."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"optimizer must be a name or a dict with 'name'; got {spec!r}")
    kw = {k: v for k, v in spec.items() if k != "name"}
    name = str(spec["name"]).lower()
    if name in ("momentum", "nesterov"):
        kw.setdefault("momentum", 0.9)
        kw["nesterov"] = name == "nesterov"
        name = "sgd"
    check_choice("optimizer", name, [*OPTIMIZERS, "momentum", "nesterov"])
    try:
        return OPTIMIZERS[name](**kw)
    except TypeError as exc:
        raise ConfigError(f"optimizer {name!r}: {exc}") from None


# ---------------------------------------------------------------------- schedules
class Schedule:
    """Multiplier of the base learning rate at step ``t`` of ``T`` (``t`` 0-based).

    Names and options:

    * ``constant``
    * ``step``: × ``gamma`` every ``every`` fraction of the run (default gamma 0.1, every 1/3)
    * ``cosine``: ½(1 + cos(π t/T)), down to ``min_factor``
    * ``warmup``: linear warm-up from 0 over ``warmup`` (fraction of T), then constant
    * ``warmup_cosine``: linear warm-up, then cosine decay
    * ``onecycle``: Smith & Topin 2019 as ``torch.optim.lr_scheduler.OneCycleLR`` (cosine
      annealing): from max/``div_factor`` up to max over ``pct_start`` of the run, then down to
      max/(``div_factor``·``final_div_factor``).
    """

    def __init__(
        self,
        name: str = "constant",
        *,
        gamma: float = 0.1,
        every: float = 1 / 3,
        warmup: float = 0.05,
        min_factor: float = 0.0,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        self.name = check_choice("schedule", str(name).lower(), SCHEDULES)
        self.gamma = float(check_range("schedule.gamma", gamma, 0.0, 1.0, lo_open=True))
        self.every = float(check_range("schedule.every", every, 0.0, 1.0, lo_open=True))
        self.warmup = float(check_range("schedule.warmup", warmup, 0.0, 1.0, hi_open=True))
        self.min_factor = float(check_range("schedule.min_factor", min_factor, 0.0, 1.0))
        self.pct_start = float(
            check_range("schedule.pct_start", pct_start, 0.0, 1.0, lo_open=True, hi_open=True)
        )
        self.div_factor = float(check_range("schedule.div_factor", div_factor, 1.0, None))
        self.final_div_factor = float(
            check_range("schedule.final_div_factor", final_div_factor, 1.0, None)
        )

    def __call__(self, t: int, T: int) -> float:
        T = max(int(T), 1)
        x = min(max(t, 0), T) / T  # progress in [0, 1]
        n = self.name
        if n == "constant":
            return 1.0
        if n == "step":
            return self.gamma ** math.floor(x / self.every + 1e-12)
        if n == "cosine":
            return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * x))
        if n in ("warmup", "warmup_cosine"):
            w = self.warmup
            if w > 0 and x < w:
                return min(1.0, (t + 1) / max(1.0, w * T))  # w·T need not be a whole step
            if n == "warmup":
                return 1.0
            y = (x - w) / (1 - w)
            return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * y))
        # onecycle, with torch's step boundaries: phase 1 ends at pct_start·T − 1
        start = 1.0 / self.div_factor
        end = start / self.final_div_factor
        up_end = float(self.pct_start * T) - 1
        if t <= up_end:
            pct = t / up_end if up_end > 0 else 1.0
            return _cos_anneal(start, 1.0, pct)
        pct = (t - up_end) / max(T - 1 - up_end, 1e-12)
        return _cos_anneal(1.0, end, min(pct, 1.0))

    def spec(self) -> dict:
        """``{"name": …, options}``: what :func:`make_schedule` rebuilds."""
        return {"name": self.name, **{k: v for k, v in vars(self).items() if k != "name"}}


def _cos_anneal(a, b, pct):
    return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)


SCHEDULES = ["constant", "step", "cosine", "warmup", "warmup_cosine", "onecycle"]


def make_schedule(spec) -> Schedule:
    """A schedule from a name, a dict with ``name``, an existing Schedule or None."""
    if isinstance(spec, Schedule):
        return spec
    if spec is None:
        return Schedule("constant")
    if isinstance(spec, str):
        return Schedule(spec)
    if isinstance(spec, dict) and "name" in spec:
        kw = {k: v for k, v in spec.items() if k != "name"}
        try:
            return Schedule(spec["name"], **kw)
        except TypeError as exc:
            raise ConfigError(f"schedule: {exc}") from None
    raise ConfigError(f"schedule must be a name or a dict with 'name'; got {spec!r}")
