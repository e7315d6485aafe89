"""Activation functions φ, each with its derivative φ′ written in terms of the pre-activation z.

Every activation is one object holding ``f(z)`` and ``df(z)`` side by side (the derivative
lives next to the function).  Both take the pre-activation ``z = W h + b`` — never the output —
so GELU and SiLU, whose derivatives cannot be written from their outputs alone, fit the same
shape as the rest.  All of them are numerically stable for |z| up to 1e4 in float32 and
float64: no overflow, no NaN, no warning.

One registry, :data:`ACTIVATIONS`, maps names to classes; :func:`get_activation` builds one
from a name or a spec dict such as ``{"name": "leaky_relu", "alpha": 0.01}``.  The command line,
the reports and the web page all read this registry.
"""

from __future__ import annotations

import abc
import math

import numpy as np
from scipy.special import erf, expit

from mlplab.core.kernels import settings_issue
from mlplab.errors import ConfigError, TrainingError, check_range

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "activation_names"]

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


class Activation(abc.ABC):
    """Base class: an element-wise nonlinearity φ with its derivative φ′.

    Subclasses set ``name``, ``output_range`` and ``saturating`` and implement ``f``/``df``.
    ``learnable`` activations (PReLU) take an extra per-unit parameter ``alpha``.
    """

    name: str = "?"
    output_range: str = "(-inf, inf)"
    #: True when φ′ → 0 on both tails (sigmoid, tanh): the doctor watches saturation.
    saturating: bool = False
    #: True when φ′ = 0 on a half-line (ReLU family): the doctor watches dead units.
    can_die: bool = False
    #: False only for the step function, which has no useful gradient.
    differentiable: bool = True
    learnable: bool = False
    #: Weight-init family used by ``init="auto"``: "relu" → He, "tanh"/"sigmoid" → Xavier.
    init_family: str = "linear"
    #: Points where φ′ jumps (gradient checks keep their test points away from them).
    kinks: tuple[float, ...] = ()

    @abc.abstractmethod
    def f(self, z: np.ndarray) -> np.ndarray:
        """φ(z), element-wise, same shape and dtype as ``z``."""

    @abc.abstractmethod
    def df(self, z: np.ndarray) -> np.ndarray:
        """φ′(z), element-wise, in terms of the pre-activation ``z``."""

    def spec(self) -> dict:
        """The JSON-serialisable description that :func:`get_activation` turns back into this."""
        return {"name": self.name}

    def init_gain(self) -> float:
        """The gain that keeps activation variance steady through a layer of this activation
        (PyTorch's ``calculate_gain`` table): √2 unless a subclass says otherwise."""
        return math.sqrt(2.0)

    def fast_issue(self) -> str | None:
        """None when :meth:`f_into`/:meth:`df_mul_into` implement this activation as
        configured (the fast step's kernel); else why not."""
        return f"activation {self.name!r} has no fast kernel"

    def f_into(self, z: np.ndarray, out: np.ndarray, zeros: np.ndarray | None = None) -> np.ndarray:
        """φ(z) written into ``out``; ``zeros``, when given, is an all-zero array of z's shape a
        kernel may read.  Base: the reference :meth:`f` copied in (the same numbers, no gain;
        activations whose :meth:`fast_issue` is None override it with a real kernel)."""
        np.copyto(out, self.f(z))
        return out

    def df_mul_into(self, z, delta, mask, out) -> np.ndarray:
        """``δ ⊙ φ′(z)`` written into ``out``, with ``mask`` (bool, z's shape) as scratch.
        Base: the reference product ``δ · df(z)`` (a kernel overrides it)."""
        return np.multiply(delta, self.df(z), out=out)

    def __call__(self, z):
        return self.f(z)

    def __repr__(self) -> str:
        extra = {k: v for k, v in self.spec().items() if k != "name"}
        args = ", ".join(f"{k}={v}" for k, v in extra.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.spec().items())))


class Identity(Activation):
    r"""Identity: φ(z) = z,  φ′(z) = 1.  Range (−∞, ∞).  Stacking it collapses to one linear map."""

    name = "identity"

    def init_gain(self):
        """1 (a linear unit)."""
        return 1.0

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return z.copy()

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return np.ones_like(z)


class Step(Activation):
    r"""Heaviside step: φ(z) = 1 if z ≥ 0 else 0.  Range {0, 1}.

    φ′ is 0 almost everywhere (and undefined at 0), so gradient training through it learns
    nothing: it is for Rosenblatt's perceptron and hand-built networks only, and asking for its
    derivative raises :class:`~mlplab.errors.TrainingError`.
    """

    name = "step"
    kinks = (0.0,)

    def init_gain(self):
        """1 (no gradient training; the value only names a scale)."""
        return 1.0

    output_range = "{0, 1}"
    differentiable = False

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return (z >= 0).astype(z.dtype)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        raise TrainingError(
            "activation 'step' has no useful gradient (0 almost everywhere); use it in a "
            "perceptron or a hand-built network, or pick a differentiable activation"
        )


class Sigmoid(Activation):
    r"""Logistic sigmoid: σ(z) = 1 / (1 + e^(−z)),  σ′(z) = σ(z)(1 − σ(z)).

    Range (0, 1).  σ′ peaks at 0.25 (z = 0) and saturates (→ 0) for |z| ≳ 5.
    """

    name = "sigmoid"

    def init_gain(self):
        """1 (Glorot's recipe)."""
        return 1.0

    output_range = "(0, 1)"
    saturating = True
    init_family = "sigmoid"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return expit(z)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        s = expit(z)
        return s * (1.0 - s)


class Tanh(Activation):
    r"""Hyperbolic tangent: φ(z) = tanh z,  φ′(z) = 1 − tanh² z.

    Range (−1, 1), zero-centred.  φ′ peaks at 1 (z = 0) — not 0.25 — and saturates for |z| ≳ 3.
    """

    name = "tanh"

    def init_gain(self):
        """5/3."""
        return 5.0 / 3.0

    output_range = "(-1, 1)"
    saturating = True
    init_family = "tanh"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return np.tanh(z)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        t = np.tanh(z)
        return 1.0 - t * t


class ReLU(Activation):
    r"""Rectified linear unit: φ(z) = max(0, z),  φ′(z) = 1[z > 0].

    Range [0, ∞).  φ′ is exactly 1 on the positive side and 0 on the negative side (dead units).
    """

    name = "relu"
    kinks = (0.0,)
    output_range = "[0, inf)"
    can_die = True
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return np.maximum(z, 0)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return (z > 0).astype(z.dtype)

    # The fast kernel, the same numbers as f and df: max(z, 0) into a buffer, and δ ⊙ 1[z > 0]
    # with a reused boolean mask instead of a new float array.  NumPy's maximum against a
    # scalar 0 takes a slower loop than against a whole array of zeros (measured about 3x on
    # (128, 1024) float32, numpy 2.4); the results are the same bits, -0.0 and NaN included
    # (tests/core/test_fastpath.py).
    def fast_issue(self):
        """None when the fast kernel next to this class implements it as set up; else why."""
        return settings_issue(self, ReLU, ("name",), ("f", "df"))

    def f_into(self, z, out, zeros=None):
        """φ(z) = max(z, 0) written into ``out`` (the same numbers as :meth:`f`), against
        ``zeros`` (an all-zero array of z's shape) when given."""
        return np.maximum(z, 0 if zeros is None else zeros, out=out)

    def df_mul_into(self, z, delta, mask, out):
        """δ ⊙ 1[z > 0] written into ``out``, with ``mask`` as the reused boolean mask."""
        np.greater(z, 0, out=mask)  # 1[z > 0]
        return np.multiply(delta, mask, out=out)


class LeakyReLU(Activation):
    r"""Leaky ReLU: φ(z) = z if z > 0 else α z,  φ′(z) = 1 if z > 0 else α.  α ∈ [0, 1)."""

    name = "leaky_relu"
    kinks = (0.0,)

    def init_gain(self):
        """√(2/(1 + α²))."""
        return math.sqrt(2.0 / (1.0 + self.alpha**2))

    init_family = "relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = float(check_range("leaky_relu.alpha", alpha, 0.0, 1.0, hi_open=True))

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return np.where(z > 0, z, self.alpha * z)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"name": self.name, "alpha": self.alpha}


class PReLU(Activation):
    r"""Parametric ReLU: φ(z) = z if z > 0 else a z, with a learned slope ``a`` per unit.

    ∂φ/∂z = 1 if z > 0 else a;  ∂φ/∂a = 0 if z > 0 else z.  ``alpha`` is the initial slope
    (0.25, as in He et al. 2015 and PyTorch).  The slope is a parameter of the activation layer.
    """

    name = "prelu"
    kinks = (0.0,)

    def init_gain(self):
        """√(2/(1 + α²)) with the initial slope α."""
        return math.sqrt(2.0 / (1.0 + self.alpha**2))

    learnable = True
    init_family = "relu"

    def __init__(self, alpha: float = 0.25):
        self.alpha = float(check_range("prelu.alpha", alpha, 0.0, 1.0))

    def f(self, z, a=None):
        """φ(z), element-wise (the formula is in the class docstring)."""
        a = self.alpha if a is None else a
        return np.where(z > 0, z, a * z)

    def df(self, z, a=None):
        """φ′(z), element-wise, from the pre-activation z."""
        a = self.alpha if a is None else a
        return np.where(z > 0, 1.0, a * np.ones_like(z)).astype(z.dtype)

    def dalpha(self, z):
        """∂φ/∂a element-wise: 0 where z > 0, z elsewhere."""
        return np.where(z > 0, 0.0, z).astype(z.dtype)

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"name": self.name, "alpha": self.alpha}


class ELU(Activation):
    r"""Exponential linear unit: φ(z) = z if z > 0 else α(e^z − 1);  φ′(z) = 1 if z > 0 else α e^z.

    Range (−α, ∞); negative outputs pull the mean activation toward zero (Clevert et al. 2015).
    """

    name = "elu"
    kinks = (0.0,)
    init_family = "relu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(check_range("elu.alpha", alpha, 0.0, None, lo_open=True))

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0))).astype(z.dtype)

    def spec(self):
        """The settings that rebuild this object (JSON-serialisable)."""
        return {"name": self.name, "alpha": self.alpha}


class GELU(Activation):
    r"""Gaussian error linear unit (exact): φ(z) = z Φ(z),  Φ(z) = ½(1 + erf(z/√2)).

    φ′(z) = Φ(z) + z ϕ(z) with ϕ the standard normal density.  Range ≈ [−0.17, ∞).
    """

    name = "gelu"
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return 0.5 * z * (1.0 + erf(z / _SQRT_2))

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        cdf = 0.5 * (1.0 + erf(z / _SQRT_2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * np.minimum(z * z, 1e4))
        return cdf + z * pdf


class GELUTanh(Activation):
    r"""GELU, tanh approximation: φ(z) = ½ z (1 + tanh u),  u = √(2/π)(z + 0.044715 z³).

    φ′(z) = ½(1 + tanh u) + ½ z (1 − tanh² u) · √(2/π)(1 + 3·0.044715 z²).
    """

    name = "gelu_tanh"
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        zc = np.clip(z, -50, 50)  # tanh u is ±1 to the last bit beyond |z| ≈ 10; avoids z³ blow-up
        return 0.5 * z * (1.0 + np.tanh(_GELU_C * (zc + _GELU_K * zc**3)))

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        zc = np.clip(z, -50, 50)
        t = np.tanh(_GELU_C * (zc + _GELU_K * zc**3))
        return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * _GELU_C * (1.0 + 3 * _GELU_K * zc * zc)


class SiLU(Activation):
    r"""SiLU / swish: φ(z) = z σ(z),  φ′(z) = σ(z)(1 + z(1 − σ(z))).  Range ≈ [−0.28, ∞)."""

    name = "silu"
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return z * expit(z)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        s = expit(z)
        return s * (1.0 + z * (1.0 - s))


class ReLU6(Activation):
    r"""ReLU6: φ(z) = min(max(0, z), 6),  φ′(z) = 1[0 < z < 6].  Range [0, 6] (int8-friendly)."""

    name = "relu6"
    kinks = (0.0, 6.0)
    output_range = "[0, 6]"
    can_die = True
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return np.clip(z, 0, 6)

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return ((z > 0) & (z < 6)).astype(z.dtype)


class Hardswish(Activation):
    r"""Hard swish: φ(z) = z · ReLU6(z + 3) / 6.

    φ′(z) = 0 for z ≤ −3, (2z + 3)/6 for −3 < z < 3, 1 for z ≥ 3 (as in PyTorch, kinks too).
    """

    name = "hardswish"
    kinks = (-3.0, 3.0)
    init_family = "relu"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        return z * np.clip(z + 3, 0, 6) / 6

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        mid = (2 * z + 3) / 6
        return np.where(z <= -3, 0.0, np.where(z < 3, mid, 1.0)).astype(z.dtype)


class Square(Activation):
    r"""Square (a polynomial activation): φ(z) = z²,  φ′(z) = 2z.

    Kept to test the universal-approximation condition: a one-hidden-layer net with a
    polynomial activation can only represent polynomials of bounded degree, however wide.
    Values beyond |z| = 1e4 are clipped so that float32 cannot overflow.
    """

    name = "square"

    def init_gain(self):
        """1."""
        return 1.0

    output_range = "[0, inf)"

    def f(self, z):
        """φ(z), element-wise (the formula is in the class docstring)."""
        zc = np.clip(z, -1e4, 1e4)
        return zc * zc

    def df(self, z):
        """φ′(z), element-wise, from the pre-activation z."""
        return 2 * np.clip(z, -1e4, 1e4)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (
        Identity,
        Step,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        PReLU,
        ELU,
        GELU,
        GELUTanh,
        SiLU,
        ReLU6,
        Hardswish,
        Square,
    )
}
_ALIASES = {"swish": "silu", "linear": "identity", "heaviside": "step"}


def activation_names(*, differentiable_only: bool = False) -> list[str]:
    """Names in the registry, in a stable order."""
    return [n for n, c in ACTIVATIONS.items() if c.differentiable or not differentiable_only]


def get_activation(spec) -> Activation:
    """Build an activation from a name (``"relu"``), a spec dict or an existing object."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, dict) and "name" in spec:
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        name = spec["name"]
    else:
        raise ConfigError(f"activation must be a name or a dict with 'name'; got {spec!r}")
    name = _ALIASES.get(str(name).lower(), str(name).lower())
    if name not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {spec!r}")
    try:
        return ACTIVATIONS[name](**kwargs)
    except TypeError:
        raise ConfigError(f"activation {name!r} does not take options {sorted(kwargs)}") from None
