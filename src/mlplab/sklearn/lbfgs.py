"""The ``lbfgs`` solver: SciPy's L-BFGS-B on the network's flattened parameters.

The objective is scikit-learn's: the head's (weighted) mean loss over the whole training set
plus ``½ α Σ‖W‖² / Σw`` (``Σw`` = number of rows without sample weights), with its exact
gradient from :meth:`mlplab.core.network.Network.loss_and_grad`.  ``max_iter`` bounds the
iterations, ``max_fun`` the loss evaluations, ``tol`` is SciPy's ``gtol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from mlplab.core.network import Network

__all__ = ["LbfgsResult", "minimize_lbfgs"]


@dataclass
class LbfgsResult:
    """What the estimator keeps of a run: final loss, iterations, SciPy's status and message,
    and the loss after every iteration."""

    loss: float
    n_iter: int
    status: int
    message: str
    curve: list = field(default_factory=list)


def minimize_lbfgs(
    net: Network,
    X,
    Y,
    *,
    sample_weight=None,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool = False,
) -> LbfgsResult:
    """Fit ``net`` in place by L-BFGS-B; returns an :class:`LbfgsResult`."""
    params = net.named_parameters()
    grads = net.named_gradients()
    names = list(params)
    sizes = [params[k].size for k in names]
    weights = [layer.params["weight"] for _, layer in net.dense_layers()]
    weight_grads = [layer.grads["weight"] for _, layer in net.dense_layers()]
    sw_sum = float(len(X) if sample_weight is None else np.sum(sample_weight))
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    dtype = net.dtype

    def unpack(theta):
        start = 0
        for k, size in zip(names, sizes, strict=True):
            params[k][...] = theta[start : start + size].reshape(params[k].shape)
            start += size

    def objective(theta):
        unpack(theta)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss = net.loss_and_grad(X, Y, **kw)
            penalty = 0.0
            for W, G in zip(weights, weight_grads, strict=True):
                penalty += float(np.sum(W * W))
                G += dtype.type(alpha / sw_sum) * W
        loss = float(loss) + 0.5 * alpha * penalty / sw_sum
        grad = np.concatenate([grads[k].ravel() for k in names]).astype(np.float64)
        return loss, grad

    curve: list[float] = []

    def record(intermediate_result):
        curve.append(float(intermediate_result.fun))
        if verbose:
            print(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")

    theta0 = np.concatenate([params[k].ravel() for k in names]).astype(np.float64)
    res = scipy.optimize.minimize(
        objective,
        theta0,
        method="L-BFGS-B",
        jac=True,
        callback=record,
        options={"maxfun": int(max_fun), "maxiter": int(max_iter), "gtol": float(tol)},
    )
    unpack(res.x)
    return LbfgsResult(
        loss=float(res.fun),
        n_iter=min(int(res.nit), int(max_iter)),
        status=int(res.status),
        message=str(res.message),
        curve=curve,
    )
