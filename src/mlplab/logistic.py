"""A single sigmoid neuron is logistic regression (the text's section 2.1).

The engine's one-neuron network ``[d, 1]`` with the ``sigmoid_bce`` head computes
``p = σ(w·x + b)`` and minimises the mean binary cross-entropy

    L(w, b) = −(1/n) Σᵢ [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)]  (+ ½ λ ‖w‖²  with L2)

which is the negative log-likelihood of logistic regression divided by n.  scikit-learn's
``LogisticRegression`` minimises ``C · n · L_mean + ½ ‖w‖²`` (the intercept is not penalised
by its lbfgs/newton solvers), so the two problems have the same minimiser when

    λ = 1 / (C · n),      and  C = ∞  ⇔  λ = 0  (no penalty).

Without a penalty the maximum-likelihood estimate exists only when the classes overlap (no
hyperplane separates them); :func:`overlapping_gaussians` makes such data and
:func:`compare_with_sklearn` checks the coefficients agree.

Training is done by the engine (:func:`mlplab.core.train.fit`, full batch, float64, SGD with
Nesterov momentum and the step ``1/L`` from the curvature bound ``L = λ_max(X̃ᵀX̃)/(4n) + λ``).
Optionally a few Newton steps finish the job; they use the engine's gradient
(``Network.loss_and_grad``) and the exact Hessian ``X̃ᵀ diag(p(1−p)) X̃ / n + λ·diag(1,…,1,0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import fit
from mlplab.errors import DataError, check_range

__all__ = [
    "NeuronFit",
    "fit_sigmoid_neuron",
    "sklearn_logistic",
    "compare_with_sklearn",
    "overlapping_gaussians",
]


@dataclass
class NeuronFit:
    """Coefficients of the trained neuron and how far from stationary it ended.

    ``grad_norm_engine`` is the norm of the full gradient (penalty included) after the engine's
    training alone; ``grad_norm`` after the Newton finish (equal when ``newton_steps = 0``).
    """

    coef: np.ndarray
    intercept: float
    loss: float
    epochs: int
    newton_steps: int
    grad_norm_engine: float
    grad_norm: float
    network: Network


def overlapping_gaussians(
    n: int, dim: int, rng: np.random.Generator, *, shift: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian classes, N(±shift/2 · e, I) with ``e`` a random unit vector, labels 0/1.

    With ``shift`` around 1 the clouds overlap heavily, so (for n well above d) no hyperplane
    separates them and the logistic-regression MLE exists.
    """
    n = check_range("n", n, 4, None, integer=True)
    dim = check_range("dim", dim, 1, None, integer=True)
    e = rng.normal(size=dim)
    e /= np.linalg.norm(e)
    y = (np.arange(n) % 2).astype(np.int64)
    X = rng.normal(size=(n, dim)) + np.outer(np.where(y == 1, 0.5, -0.5) * shift, e)
    return X, y


def _gradient(net: Network, X, y, l2: float) -> np.ndarray:
    """Full gradient (w…, b) of the mean BCE + ½ λ‖w‖², from the engine's backward pass."""
    net.loss_and_grad(X, y, training=False)
    g = net.named_gradients()
    W = net.named_parameters()["0.weight"]
    return np.concatenate([(g["0.weight"] + l2 * W).ravel(), g["0.bias"]])


def fit_sigmoid_neuron(
    X,
    y,
    *,
    l2: float = 0.0,
    epochs: int = 500,
    newton_steps: int = 0,
) -> NeuronFit:
    """Train the one-neuron network ``[d, 1]`` (sigmoid + BCE, float64) on all of (X, y).

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,), labels 0/1
    l2 : float
        λ of the penalty ½ λ ‖w‖² on the weights (not the bias), as the engine's ``l2``.
    epochs : int
        Full-batch steps of Nesterov SGD (momentum 0.9, step 1/L).
    newton_steps : int
        Newton steps after the engine's training (0: none).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
        raise DataError(f"X must be (n, d) and y (n,); got {X.shape} and {y.shape}")
    check_range("l2", l2, 0.0, None)
    epochs = check_range("epochs", epochs, 0, None, integer=True)
    newton_steps = check_range("newton_steps", newton_steps, 0, None, integer=True)
    n, d = X.shape
    net = Network(mlp_spec([d, 1], head="sigmoid_bce", init="zeros", dtype="float64"))
    Xa = np.hstack([X, np.ones((n, 1))])
    L = float(np.linalg.eigvalsh(Xa.T @ Xa / n)[-1]) / 4.0 + l2
    if epochs:
        fit(
            net,
            X,
            y,
            optimizer={"name": "sgd", "lr": 1.0 / L, "momentum": 0.9, "nesterov": True},
            epochs=epochs,
            batch_size=n,
            shuffle=False,
            l2=l2,
            rng=0,
        )
    g = _gradient(net, X, y, l2)
    grad_norm_engine = float(np.linalg.norm(g))
    params = net.named_parameters()
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(newton_steps):
        p = net.output(X)[:, 0]
        Hs = (Xa * (p * (1 - p))[:, None]).T @ Xa / n + np.diag(reg)
        step = np.linalg.solve(Hs, g)
        params["0.weight"][0] -= step[:d]
        params["0.bias"][0] -= step[d]
        g = _gradient(net, X, y, l2)
    loss = net.loss(X, y) + 0.5 * l2 * float(np.sum(params["0.weight"] ** 2))
    return NeuronFit(
        coef=params["0.weight"][0].copy(),
        intercept=float(params["0.bias"][0]),
        loss=loss,
        epochs=epochs,
        newton_steps=newton_steps,
        grad_norm_engine=grad_norm_engine,
        grad_norm=float(np.linalg.norm(g)),
        network=net,
    )


def sklearn_logistic(X, y, *, C: float = np.inf):
    """scikit-learn's ``LogisticRegression`` fitted tightly (newton-cholesky, tol 1e-12).

    ``C = np.inf`` is the unpenalised model (scikit-learn ≥ 1.8 spells "no penalty" this way;
    ``penalty=None`` is deprecated there).  The intercept is never penalised by this solver.
    """
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return model.fit(np.asarray(X, dtype=np.float64), np.asarray(y))


def compare_with_sklearn(
    X, y, *, C: float = np.inf, epochs: int = 500, newton_steps: int = 0
) -> dict:
    """Fit the one-neuron network with ``λ = 1/(C·n)`` and scikit-learn with ``C``; compare.

    Returns the two coefficient vectors θ (weights then intercept), the relative difference
    ``rel_diff = ‖θ_mlplab − θ_sklearn‖∞ / ‖θ_sklearn‖∞`` and the gradient norms.

    Raises
    ------
    DataError
        Unpenalised (``C = ∞``) on linearly separable data, where the MLE does not exist.
    """
    from mlplab.perceptron import is_linearly_separable

    X = np.asarray(X, dtype=np.float64)
    C = float(check_range("C", C, 0.0, None, lo_open=True, allow_inf=True))
    n = len(X)
    if np.isinf(C) and is_linearly_separable(X, y)[0]:
        raise DataError(
            "the classes are linearly separable, so the unpenalised maximum-likelihood "
            "estimate does not exist (the weights grow without bound); use a finite C"
        )
    l2 = 0.0 if np.isinf(C) else 1.0 / (C * n)
    mine = fit_sigmoid_neuron(X, y, l2=l2, epochs=epochs, newton_steps=newton_steps)
    sk = sklearn_logistic(X, y, C=C)
    theta_m = np.r_[mine.coef, mine.intercept]
    theta_s = np.r_[sk.coef_[0], sk.intercept_[0]]
    diff = float(np.max(np.abs(theta_m - theta_s)))
    return {
        "C": C,
        "l2": l2,
        "n": n,
        "mlplab": theta_m.tolist(),
        "sklearn": theta_s.tolist(),
        "rel_diff": diff / float(np.max(np.abs(theta_s))),
        "max_abs_diff": diff,
        "grad_norm_engine": mine.grad_norm_engine,
        "grad_norm": mine.grad_norm,
        "epochs": mine.epochs,
        "newton_steps": mine.newton_steps,
    }
