"""Attributions: which input features a prediction depends on (reference text, section 8.6).

For a model and one input ``x`` (d,), let ``F(x)`` be one chosen output: the logit ``z_k`` of
the target ``k`` (``wrt="logit"``) or its probability / predicted value ``ŷ_k``
(``wrt="output"``).  The input gradient ``∇F(x)`` comes from the engine's own backward pass
(:meth:`mlplab.core.network.Network.input_gradient`).  Three methods:

* **saliency** (Simonyan et al. 2014): ``|∂F/∂x_i|``;
* **gradient × input** (Shrikumar et al. 2016): ``x_i · ∂F/∂x_i``;
* **Integrated Gradients** (Sundararajan et al. 2017): with a baseline ``x′``,

  ``IG_i(x) = (x_i − x′_i) · ∫₀¹ ∂F/∂x_i (x′ + α (x − x′)) dα``.

  Completeness: ``Σ_i IG_i = F(x) − F(x′)`` exactly for the integral.  The integral is
  approximated by a quadrature rule over ``m`` points (``m`` = ``steps``, the number of
  gradient evaluations); the default, ``riemann_trapezoid``, uses ``α_j = j/(m−1)``,
  ``j = 0…m−1``, with weights ``1/(m−1)`` halved at both ends (a proper trapezoid rule, error
  O(1/m²)).  ``riemann_middle`` (``α_j = (j+½)/m``, weights ``1/m``), ``riemann_right``
  (``(j+1)/m``) and ``riemann_left`` (``j/m``) are the rules of the same names in captum.
  Note: captum's own ``riemann_trapezoid`` uses weights ``1/m`` (ends halved), which add up
  to ``(m−1)/m``, so its attributions are ``(m−1)/m`` times the trapezoid rule's.  Without a
  fixed ``steps``, ``m`` runs through :data:`IG_STEPS` until the completeness error
  ``|Σ IG − (F(x) − F(x′))|`` is within ``tol · |F(x) − F(x′)|``; the error is reported.

All computations run on a float64 copy of the model, so rounding never hides the
quadrature error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlplab.core.network import Network
from mlplab.errors import ConfigError, DataError, check_choice, check_range

__all__ = [
    "METHODS",
    "RULES",
    "IG_STEPS",
    "Attribution",
    "saliency",
    "gradient_x_input",
    "integrated_gradients",
    "explain",
    "quadrature",
    "default_target",
]

METHODS = ("saliency", "gradxinput", "ig")
RULES = ("riemann_trapezoid", "riemann_middle", "riemann_right", "riemann_left")
#: Numbers of quadrature points tried, in order, until completeness holds within ``tol``.
IG_STEPS = (20, 50, 100, 200, 300, 500, 1000)
#: Default completeness tolerance: 1 % of ``F(x) − F(x′)``.
IG_TOLERANCE = 0.01


@dataclass
class Attribution:
    """One attribution map.

    Attributes
    ----------
    method : {"saliency", "gradxinput", "ig"}
    target : int
        The class (or output unit) explained.
    wrt : {"logit", "output"}
    input, attributions : ndarray, shape (d,)
    value : float
        ``F(x)``.
    baseline, baseline_value
        ``x′`` and ``F(x′)`` (IG only).
    steps, rule
        Quadrature points and rule (IG only).
    completeness_error : float or None
        ``|Σ attributions − (F(x) − F(x′))|`` (IG only).
    completeness_relative : float or None
        The same divided by ``|F(x) − F(x′)|``.
    tried : list of dict
        ``{"steps", "error", "relative"}`` for each number of points tried (IG only).
    """

    method: str
    target: int
    wrt: str
    input: np.ndarray
    attributions: np.ndarray
    value: float
    baseline: np.ndarray | None = None
    baseline_value: float | None = None
    steps: int | None = None
    rule: str | None = None
    completeness_error: float | None = None
    completeness_relative: float | None = None
    tried: list = field(default_factory=list)

    def to_dict(self, *, arrays: bool = True) -> dict:
        """The attribution as a JSON-serialisable dict."""
        out = {
            "method": self.method,
            "target": self.target,
            "wrt": self.wrt,
            "value": self.value,
            "baseline_value": self.baseline_value,
            "sum": float(np.sum(self.attributions)),
            "steps": self.steps,
            "rule": self.rule,
            "completeness_error": self.completeness_error,
            "completeness_relative": self.completeness_relative,
            "tried": list(self.tried),
        }
        if arrays:
            out["attributions"] = self.attributions.tolist()
        return out


# ----------------------------------------------------------------------------------- helpers
def _float64(model: Network) -> Network:
    if model.dtype == np.float64:
        return model
    m = Network({**model.spec, "dtype": "float64"})
    m.load_state_dict(model.state_dict())
    return m


def _one_input(model: Network, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.shape[0] != model.input_dim:
        raise DataError(f"x must be one input of shape ({model.input_dim},); got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("x contains NaN or inf")
    return x


def default_target(model: Network, x) -> int:
    """The predicted class (binary: 0/1; multilabel: the label with the largest logit), or
    output 0 for regression and count heads."""
    z = model.forward(_one_input(model, x)[None, :])[0]
    task = model.head.task
    if task == "binary":
        return int(z[0] >= 0)
    if task in ("multiclass", "multilabel"):
        return int(np.argmax(z))
    return 0


def _resolve(model: Network, x, target) -> tuple[int, int, float]:
    """(output index, sign, target) for a target class; binary class 0 is ``−z`` / ``1 − σ``."""
    if target is None:
        target = default_target(model, x)
    if model.head.task == "binary":
        check_range("target", target, 0, 1, integer=True)
        return 0, (1 if int(target) == 1 else -1), int(target)
    check_range("target", target, 0, model.output_dim - 1, integer=True)
    return int(target), 1, int(target)


def _values(model: Network, X, index: int, sign: int, wrt: str) -> np.ndarray:
    """F for each row of X (n,)."""
    z = model.forward(X)
    if wrt == "logit":
        return sign * z[:, index]
    p = model.head.output(z)[:, index]
    return p if sign > 0 else 1.0 - p


def _gradients(model: Network, X, index: int, sign: int, wrt: str) -> np.ndarray:
    """∂F/∂x for each row of X (n, d)."""
    return sign * model.input_gradient(X, index, wrt=wrt)


def quadrature(steps: int, rule: str = "riemann_trapezoid") -> tuple[np.ndarray, np.ndarray]:
    """Points ``α_j`` in [0, 1] and weights ``w_j`` (summing to 1) of a quadrature rule.

    ``riemann_trapezoid``: ``α_j = j/(m−1)``, ``w = 1/(m−1)`` with both ends halved (m ≥ 2);
    ``riemann_middle``: ``(j + ½)/m``; ``riemann_right``: ``(j + 1)/m``; ``riemann_left``:
    ``j/m``, each with ``w = 1/m``.
    """
    check_choice("rule", rule, RULES)
    m = check_range("steps", steps, 2 if rule == "riemann_trapezoid" else 1, None, integer=True)
    j = np.arange(m, dtype=np.float64)
    if rule == "riemann_trapezoid":
        w = np.full(m, 1.0 / (m - 1))
        w[0] /= 2
        w[-1] /= 2
        return j / (m - 1), w
    w = np.full(m, 1.0 / m)
    if rule == "riemann_middle":
        return (j + 0.5) / m, w
    if rule == "riemann_right":
        return (j + 1) / m, w
    return j / m, w


# ----------------------------------------------------------------------------------- methods
def saliency(model: Network, x, target=None, *, wrt: str = "logit") -> Attribution:
    """``|∂F/∂x|`` at ``x`` (d,)."""
    check_choice("wrt", wrt, ["logit", "output"])
    m64, x = _float64(model), _one_input(model, x)
    index, sign, target = _resolve(m64, x, target)
    g = _gradients(m64, x[None, :], index, sign, wrt)[0]
    value = float(_values(m64, x[None, :], index, sign, wrt)[0])
    return Attribution("saliency", target, wrt, x, np.abs(g), value)


def gradient_x_input(model: Network, x, target=None, *, wrt: str = "logit") -> Attribution:
    """``x ⊙ ∂F/∂x`` at ``x`` (d,)."""
    check_choice("wrt", wrt, ["logit", "output"])
    m64, x = _float64(model), _one_input(model, x)
    index, sign, target = _resolve(m64, x, target)
    g = _gradients(m64, x[None, :], index, sign, wrt)[0]
    value = float(_values(m64, x[None, :], index, sign, wrt)[0])
    return Attribution("gradxinput", target, wrt, x, x * g, value)


def integrated_gradients(
    model: Network,
    x,
    target=None,
    *,
    baseline="zeros",
    steps: int | None = None,
    rule: str = "riemann_trapezoid",
    tol: float = IG_TOLERANCE,
    max_steps: int = IG_STEPS[-1],
    wrt: str = "logit",
) -> Attribution:
    """Integrated Gradients of ``F`` at ``x`` against ``baseline``.

    Parameters
    ----------
    model : Network
    x : array_like, shape (d,)
    target : int, optional
        Class (output unit) to explain; default the predicted class.
    baseline : "zeros" or array_like, shape (d,)
        ``x′``.  (The command line also offers the training mean.)
    steps : int, optional
        Fixed number of quadrature points.  Default: try :data:`IG_STEPS` up to ``max_steps``
        until the completeness error is within ``tol · |F(x) − F(x′)|``.
    rule : one of :data:`RULES`
    tol : float
        Relative completeness tolerance.
    wrt : {"logit", "output"}

    Returns
    -------
    Attribution
        With ``completeness_error``, ``completeness_relative`` and ``tried``.  When no tried
        ``steps`` reaches ``tol``, the result of the largest is returned (and its error says
        so).
    """
    check_choice("wrt", wrt, ["logit", "output"])
    check_choice("rule", rule, RULES)
    check_range("tol", tol, 0.0, None, lo_open=True)
    m64, x = _float64(model), _one_input(model, x)
    if isinstance(baseline, str):
        check_choice("baseline", baseline, ["zeros"])
        base = np.zeros_like(x)
    else:
        base = _one_input(model, baseline)
    index, sign, target = _resolve(m64, x, target)
    fx, fb = _values(m64, np.stack([x, base]), index, sign, wrt)
    diff = float(fx - fb)
    if steps is not None:
        schedule = [check_range("steps", steps, 1, None, integer=True)]
    else:
        check_range("max_steps", max_steps, IG_STEPS[0], None, integer=True)
        schedule = [s for s in IG_STEPS if s <= max_steps]
    tried = []
    attr, err, rel, used = None, None, None, None
    for m in schedule:
        alphas, weights = quadrature(m, rule)
        points = base[None, :] + alphas[:, None] * (x - base)[None, :]  # (m, d)
        grads = _gradients(m64, points, index, sign, wrt)  # (m, d)
        attr = (x - base) * (weights @ grads)
        err = abs(float(np.sum(attr)) - diff)
        rel = err / abs(diff) if abs(diff) > 0 else None
        used = m
        tried.append({"steps": m, "error": err, "relative": rel})
        if err <= tol * abs(diff) or (diff == 0 and err == 0):
            break
    return Attribution(
        "ig",
        target,
        wrt,
        x,
        attr,
        float(fx),
        baseline=base,
        baseline_value=float(fb),
        steps=used,
        rule=rule,
        completeness_error=err,
        completeness_relative=rel,
        tried=tried,
    )


def explain(model: Network, x, method: str = "ig", target=None, **options) -> Attribution:
    """Dispatch to :func:`saliency`, :func:`gradient_x_input` or :func:`integrated_gradients`."""
    check_choice("method", method, METHODS)
    if method == "ig":
        return integrated_gradients(model, x, target, **options)
    extra = sorted(set(options) - {"wrt"})
    if extra:
        raise ConfigError(f"method {method!r} does not take {', '.join(extra)}")
    fn = saliency if method == "saliency" else gradient_x_input
    return fn(model, x, target, **options)
