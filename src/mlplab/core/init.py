"""Weight initialisers.  Each is a small function of (fan_in, fan_out) with its variance formula.

A Dense weight ``W`` has shape (fan_out, fan_in), as in the text and in PyTorch.

=================  ==========================================  ===========================
name               distribution                                variance
=================  ==========================================  ===========================
zeros              W = 0                                       0
normal             N(0, std²), std = 1 by default (N(0, 1))    std²
xavier_uniform     U(−a, a), a = gain·√(6/(fan_in+fan_out))    gain²·2/(fan_in+fan_out)
xavier_normal      N(0, gain²·2/(fan_in+fan_out))              Glorot & Bengio 2010
he_uniform         U(−a, a), a = gain·√(3/fan_in)              gain²/fan_in (gain √2 for ReLU)
he_normal          N(0, gain²/fan_in)                          He et al. 2015
lecun_normal       N(0, 1/fan_in)                              LeCun et al. 1998
=================  ==========================================  ===========================

``auto`` picks He (normal) for the ReLU family and Xavier (uniform) for sigmoid, tanh and
identity — the usual rules.  Gains follow :func:`calculate_gain` (the same table as PyTorch).
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.errors import ConfigError, check_range

__all__ = ["INITS", "calculate_gain", "init_weight", "resolve_init", "init_names"]


def calculate_gain(activation) -> float:
    """The gain that keeps activation variance steady through a layer of ``activation``:
    the activation's own :meth:`~mlplab.core.activations.Activation.init_gain`.

    identity/sigmoid: 1;  tanh: 5/3;  relu family: √2;  leaky_relu(α): √(2/(1+α²)).
    """
    from mlplab.core.activations import get_activation

    return get_activation(activation).init_gain()


def _zeros(rng, fan_in, fan_out, gain, std):
    return np.zeros((fan_out, fan_in))


def _normal(rng, fan_in, fan_out, gain, std):
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def _xavier_uniform(rng, fan_in, fan_out, gain, std):
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))


def _xavier_normal(rng, fan_in, fan_out, gain, std):
    return rng.normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))


def _he_uniform(rng, fan_in, fan_out, gain, std):
    a = gain * math.sqrt(3.0 / fan_in)
    return rng.uniform(-a, a, size=(fan_out, fan_in))


def _he_normal(rng, fan_in, fan_out, gain, std):
    return rng.normal(0.0, gain / math.sqrt(fan_in), size=(fan_out, fan_in))


def _lecun_normal(rng, fan_in, fan_out, gain, std):
    return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=(fan_out, fan_in))


INITS = {
    "zeros": _zeros,
    "normal": _normal,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "lecun_normal": _lecun_normal,
}
_ALIASES = {
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "xavier": "xavier_uniform",
    "he": "he_normal",
    "standard_normal": "normal",
}


def init_names() -> list[str]:
    """Initialiser names, ``auto`` first."""
    return ["auto", *INITS]


def resolve_init(name: str, activation) -> str:
    """Turn ``auto`` (and aliases) into a concrete initialiser name for ``activation``."""
    from mlplab.core.activations import get_activation

    name = _ALIASES.get(str(name).lower(), str(name).lower())
    if name == "auto":
        family = get_activation(activation).init_family
        return "he_normal" if family == "relu" else "xavier_uniform"
    if name not in INITS:
        raise ConfigError(f"init must be one of {', '.join(init_names())}; got {name!r}")
    return name


def init_weight(
    name: str,
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
    *,
    activation="identity",
    std: float = 1.0,
    gain: float | None = None,
) -> np.ndarray:
    """Draw a (fan_out, fan_in) float64 weight matrix with initialiser ``name``.

    ``gain`` defaults to :func:`calculate_gain` of ``activation`` for the He rules and to 1 for
    the Xavier rules (Glorot's original recipe); ``std`` is used by ``normal`` only.
    """
    check_range("init.std", std, 0.0, None)
    name = resolve_init(name, activation)
    if gain is None:
        gain = calculate_gain(activation) if name.startswith("he_") else 1.0
    return INITS[name](rng, int(fan_in), int(fan_out), float(gain), float(std))
