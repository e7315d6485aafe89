"""Rosenblatt's perceptron (1958): a step unit trained by the mistake-driven rule.

One unit computes ``ŷ = step(w·x + b)`` with ``step(z) = 1 if z ≥ 0 else 0`` (the engine's
:class:`~mlplab.core.activations.Step`).  Labels are written ``y ∈ {−1, +1}`` (``{0, 1}`` and any
other pair of class labels are mapped: the smaller label to −1, the larger to +1).  A *mistake*
is a point whose predicted side differs from its label, i.e. ``y = +1`` and ``z < 0`` or
``y = −1`` and ``z ≥ 0``; in both cases ``y·z ≤ 0``.  On every mistake::

    w ← w + η·y·x,      b ← b + η·y

starting from ``w = 0, b = 0`` and visiting the points in a fixed order every epoch (no
shuffling, unless asked).  Training stops at the first epoch without a mistake (*converged*).

Bias folded in
--------------
The bias is the weight of an extra constant input 1: ``x̃ = (x, 1)``, ``w̃ = (w, b)``, and the
update above is ``w̃ ← w̃ + η·y·x̃``.  All geometry below is in that augmented space.

Novikoff (1962)
---------------
If some unit vector ``ũ`` (in the augmented space) has ``y_i·ũ·x̃_i ≥ γ > 0`` for every point and
``‖x̃_i‖ ≤ R``, the rule above makes at most ``(R/γ)²`` mistakes in total, whatever the order
and whatever ``η > 0`` (starting from zero the weights just scale with η).  Here
``R = max_i ‖x̃_i‖ = max_i √(‖x_i‖² + 1)`` and ``γ`` is the margin of either a known separator
(``separator=(w*, b*)``: ``γ = min_i y_i (w*·x_i + b*) / ‖(w*, b*)‖``) or the maximum-margin
separator through the origin of the augmented space, found by a linear-programming separability
check and the hard-margin SVM through the origin of the augmented space (see
:func:`max_margin`).

Non-convergence, proved
-----------------------
With a fixed presentation order, the weights at the start of an epoch determine the whole
future.  If the state ``(w, b)`` at an epoch boundary ever equals an earlier one, the run is
periodic from then on and will never have a mistake-free epoch: a *cycle*.  States are compared
exactly (the bytes of the float64 arrays); with integer inputs and ``η = 1`` every update is exact
integer arithmetic, so on XOR the cycle is found after a handful of epochs.

Pocket (Gallant 1990)
---------------------
For data that are not separable the last weights are arbitrary; the pocket variant keeps the
weights with the highest training accuracy seen after any update ("with ratchet": it only
replaces them by strictly better ones) and returns those.

Several classes
---------------
One-vs-rest: one binary perceptron per class (that class +1, the rest −1); the prediction is the
class with the largest ``w_k·x + b_k``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mlplab.errors import ConfigError, DataError, check_range

__all__ = [
    "Perceptron",
    "PerceptronResult",
    "MarginInfo",
    "SeparableSet",
    "augment",
    "max_margin",
    "margin_of",
    "novikoff",
    "is_linearly_separable",
    "separable_set",
]


# ------------------------------------------------------------------------------ geometry
def augment(X: np.ndarray) -> np.ndarray:
    """``x̃ = (x, 1)``: the inputs with the bias's constant input appended, shape (n, d + 1)."""
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((len(X), 1))])


def _signs(y) -> np.ndarray:
    """Labels as float ±1 (two classes; smaller → −1)."""
    y = np.asarray(y).reshape(-1)
    classes = np.unique(y)
    if len(classes) != 2:
        raise DataError(f"a binary perceptron needs exactly two classes; got {len(classes)}")
    return np.where(y == classes[1], 1.0, -1.0)


def is_linearly_separable(X, y) -> tuple[bool, np.ndarray | None]:
    """Decide by linear programming whether some ``w̃`` has ``y_i·w̃·x̃_i ≥ 1`` for all i.

    Strict separability of a finite set is equivalent to this (rescale any strict separator).
    Returns ``(separable, w̃)`` with a feasible ``w̃`` (length d + 1, bias last) or None.
    """
    from scipy.optimize import linprog

    Z = _signs(y)[:, None] * augment(X)  # rows y_i x̃_i, (n, d+1)
    n, k = Z.shape
    res = linprog(
        np.zeros(k),
        A_ub=-Z,
        b_ub=-np.ones(n),
        bounds=[(None, None)] * k,
        method="highs",
    )
    if res.status == 0:
        return True, np.asarray(res.x, dtype=np.float64)
    if res.status == 2:  # infeasible
        return False, None
    raise DataError(f"the separability check failed: {res.message}")


def margin_of(X, y, w, b) -> float:
    """Margin of the separator ``(w, b)`` in the augmented space:
    ``γ = min_i y_i (w·x_i + b) / ‖(w, b)‖`` (negative if it does not separate)."""
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    norm = float(np.sqrt(w @ w + float(b) ** 2))
    if norm == 0:
        raise ConfigError("the separator (w, b) must not be zero")
    z = np.asarray(X, dtype=np.float64) @ w + float(b)
    return float(np.min(_signs(y) * z) / norm)


def max_margin(X, y) -> tuple[float, np.ndarray] | None:
    """Maximum margin γ over unit vectors ``ũ`` of the augmented space, or None if the data
    are not linearly separable.

    Solves the hard-margin SVM without a free bias (the bias is a coordinate of ``ũ``)::

        min ½‖v‖²   s.t.   y_i v·x̃_i ≥ 1  for all i,      γ = 1/‖v‖,  ũ = v/‖v‖

    by SLSQP on a working set of constraints: start from the LP's feasible point with the
    points nearest its hyperplane, solve, add the points the solution violates, repeat (the
    solution rests on at most d + 1 support vectors, so the set stays small).  The returned
    ``γ = min_i y_i ũ·x̃_i`` is measured over all points on the solution found, so it is a
    valid (certified) margin even if the optimiser stopped short.

    Returns
    -------
    (gamma, u) : float and ndarray of shape (d + 1,), ``u`` a unit vector, bias last.
    """
    from scipy.optimize import minimize

    separable, v = is_linearly_separable(X, y)
    if not separable:
        return None
    Z = _signs(y)[:, None] * augment(X)  # (n, d+1), constraints Z v ≥ 1
    n, k = Z.shape
    chunk = min(n, 4 * k + 8)
    work = np.argsort(Z @ v)[:chunk]
    best_gamma, best_u = float(np.min(Z @ v) / np.linalg.norm(v)), v / np.linalg.norm(v)
    for _ in range(100):
        Zw = Z[work]
        res = minimize(
            lambda u: 0.5 * float(u @ u),
            v,
            jac=lambda u: u,
            constraints=[
                {"type": "ineq", "fun": lambda u, A=Zw: A @ u - 1.0, "jac": lambda u, A=Zw: A}
            ],
            method="SLSQP",
            options={"maxiter": 1000, "ftol": 1e-15},
        )
        cand = np.asarray(res.x, dtype=np.float64)
        norm = float(np.linalg.norm(cand))
        margins = Z @ cand
        if norm > 0 and np.min(margins) / norm > best_gamma:
            best_gamma, best_u = float(np.min(margins) / norm), cand / norm
        violated = np.flatnonzero(margins < 1.0 - 1e-9)
        violated = np.setdiff1d(violated, work)
        if violated.size == 0:
            break
        worst = violated[np.argsort(margins[violated])[:chunk]]
        work = np.concatenate([work, worst])
        v = cand if np.min(margins) > 0 else v  # keep a sensible starting point
    return best_gamma, best_u


@dataclass
class MarginInfo:
    """The quantities of Novikoff's bound (augmented space, constant input 1).

    ``R = max_i ‖(x_i, 1)‖``; ``gamma`` the margin of a separating unit vector (None when the
    data are not separable); ``bound = (R/γ)²``; ``source`` is ``"known"`` (a separator passed
    in) or ``"max_margin"``.
    """

    R: float
    gamma: float | None
    bound: float | None
    separable: bool
    source: str | None


def novikoff(X, y, separator=None) -> MarginInfo:
    """R, γ and the mistake bound ``(R/γ)²`` for the data ``(X, y)``.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,), two classes
    separator : (w, b), optional
        A separator known to classify every point correctly (e.g. the generator's ``w*, b*``);
        without it the maximum-margin separator is computed.

    Raises
    ------
    DataError
        If ``separator`` does not separate the data.
    """
    X = np.asarray(X, dtype=np.float64)
    R = float(np.sqrt(np.max(np.sum(X * X, axis=1)) + 1.0))
    if separator is not None:
        w, b = separator
        gamma = margin_of(X, y, w, b)
        if gamma <= 0:
            raise DataError(f"the given separator does not separate the data (margin {gamma:.3g})")
        return MarginInfo(R, gamma, (R / gamma) ** 2, True, "known")
    found = max_margin(X, y)
    if found is None:
        return MarginInfo(R, None, None, False, None)
    gamma = found[0]
    return MarginInfo(R, gamma, (R / gamma) ** 2, True, "max_margin")


# ------------------------------------------------------------------------------ data
@dataclass
class SeparableSet:
    """A linearly separable sample: labels ``y = sign(w*·x + b*)`` in ±1, every point at
    distance ≥ ``margin`` from the hyperplane (``‖w*‖ = 1``), all inside the ball of radius
    ``radius``."""

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    b_star: float
    margin: float
    radius: float


def separable_set(
    n: int, dim: int, margin: float, rng: np.random.Generator, *, radius: float = 1.0
) -> SeparableSet:
    """Draw ``n`` points uniformly in the ball ‖x‖ ≤ ``radius`` of ℝ^dim, keeping those at
    distance ≥ ``margin`` from a random hyperplane ``w*·x + b* = 0`` (‖w*‖ = 1,
    ``b* ~ U(−radius/4, radius/4)``), labelled ±1 by its side.

    ``margin`` must lie in (0, radius/2) so that both sides keep room for points.
    """
    n = check_range("n", n, 2, None, integer=True)
    dim = check_range("dim", dim, 1, None, integer=True)
    radius = float(check_range("radius", radius, 0.0, None, lo_open=True))
    margin = float(check_range("margin", margin, 0.0, radius / 2, lo_open=True, hi_open=True))
    w = rng.normal(size=dim)
    w /= np.linalg.norm(w)
    b = float(rng.uniform(-radius / 4, radius / 4))
    kept, count = [], 0
    while count < n:
        direction = rng.normal(size=(2 * n, dim))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        X = direction * (radius * rng.uniform(size=(2 * n, 1)) ** (1.0 / dim))
        X = X[np.abs(X @ w + b) >= margin]
        kept.append(X)
        count += len(X)
    X = np.concatenate(kept)[:n]
    y = np.where(X @ w + b > 0, 1, -1).astype(np.int64)
    return SeparableSet(X, y, w, b, margin, radius)


# ------------------------------------------------------------------------------ the learner
@dataclass
class PerceptronResult:
    """What one run of the perceptron rule did.

    Attributes
    ----------
    converged : bool
        An epoch ended without a mistake.
    epochs : int
        Epochs run (the mistake-free one included).
    mistakes : int
        Total number of updates.
    mistakes_per_epoch : list of int
    bound : float or None
        Novikoff's ``(R/γ)²``; None when the data are not separable (or not computed).
    R, gamma : float
        ``R = max ‖(x, 1)‖``; γ the margin used for the bound (None if none).
    separable : bool or None
        From the LP check (None when the bound was not computed).
    cycle_detected : bool
        The state (w, b) at an epoch boundary repeated: the run is periodic and never
        converges (fixed order only).
    cycle_length, cycle_start : int or None
        Period in epochs, and the epoch (0-based, at its start) where the repeated state first
        appeared.
    accuracy : float
        Training accuracy of the returned weights (the pocket's with ``pocket=True``).
    last_accuracy : float
        Training accuracy of the weights after the last update.
    accuracy_per_epoch : list of float
        Training accuracy of the weights at the end of each epoch.
    pocket : bool
    weights_history : list of list of float, optional
        ``(w, b)`` flattened at the end of each epoch, when recorded.
    per_class : list of PerceptronResult, optional
        One-vs-rest: the binary run of each class.
    """

    converged: bool
    epochs: int
    mistakes: int
    mistakes_per_epoch: list[int]
    bound: float | None
    R: float
    gamma: float | None
    separable: bool | None
    cycle_detected: bool
    cycle_length: int | None
    cycle_start: int | None
    accuracy: float
    last_accuracy: float
    accuracy_per_epoch: list[float]
    pocket: bool
    weights_history: list[list[float]] | None = None
    per_class: list[PerceptronResult] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)


class Perceptron:
    """Rosenblatt's perceptron (see the module docstring for the rule and the bound).

    Parameters
    ----------
    lr : float
        η > 0.  Starting from zero it does not change the mistakes (weights scale with η).
    epochs : int
        Maximum number of passes over the data.
    pocket : bool
        Return the best weights seen (Gallant's pocket with ratchet) instead of the last ones.
    shuffle : bool
        Visit the points in a fresh random order each epoch (from ``rng``).  Cycle detection
        needs a fixed order, so it is off when shuffling.
    rng : numpy.random.Generator or int, optional
        Only used when ``shuffle`` is true.
    compute_bound : bool
        Compute R, γ and the Novikoff bound for binary problems (an LP and a small QP).
    record_history : bool
        Keep ``(w, b)`` at the end of every epoch in ``result_.weights_history``.
    stop_on_cycle : bool
        Stop as soon as a cycle proves non-convergence (default: run all epochs).

    Attributes (after ``fit``)
    --------------------------
    coef_ : ndarray, shape (1, d) for two classes, (K, d) one-vs-rest
    intercept_ : ndarray, shape (1,) or (K,)
    classes_ : ndarray of the original labels
    result_ : PerceptronResult
    """

    def __init__(
        self,
        lr: float = 1.0,
        epochs: int = 1000,
        *,
        pocket: bool = False,
        shuffle: bool = False,
        rng=None,
        compute_bound: bool = True,
        record_history: bool = False,
        stop_on_cycle: bool = False,
    ):
        self.lr = float(check_range("lr", lr, 0.0, None, lo_open=True))
        self.epochs = check_range("epochs", epochs, 1, None, integer=True)
        self.pocket = bool(pocket)
        self.shuffle = bool(shuffle)
        if self.shuffle and not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(0 if rng is None else rng)
        self.rng = rng
        self.compute_bound = bool(compute_bound)
        self.record_history = bool(record_history)
        self.stop_on_cycle = bool(stop_on_cycle)

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y, *, separator=None) -> Perceptron:
        """Train on ``(X, y)``; ``separator=(w*, b*)`` gives a known separator for the bound
        (binary problems only).  Returns ``self``; the run is in ``self.result_``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise DataError(f"X must have shape (n, d) with n ≥ 1; got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError("X contains NaN or inf")
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        classes = np.unique(y)
        k = len(classes)
        if k < 2:
            raise DataError(f"the perceptron needs at least two classes; got {k}")
        if k > 2 and separator is not None:
            raise ConfigError("separator applies to two-class problems only")
        self.classes_ = classes
        if k == 2:
            s = np.where(y == self.classes_[1], 1.0, -1.0)
            w, b, res, _ = self._fit_binary(X, s, separator)
            self.coef_, self.intercept_ = w[None, :], np.array([b])
            self.result_ = res
            return self
        runs = [
            self._fit_binary(X, np.where(y == c, 1.0, -1.0), None, bound=False)
            for c in self.classes_
        ]
        last = [r[3] for r in runs]
        self.coef_ = np.vstack([r[0] for r in runs])
        self.intercept_ = np.array([r[1] for r in runs])
        per = [r[2] for r in runs]
        n_ep = max(r.epochs for r in per)
        mpe = [sum(r.mistakes_per_epoch[e] for r in per if e < r.epochs) for e in range(n_ep)]
        W_last = np.vstack([wl for wl, _ in last])
        b_last = np.array([bl for _, bl in last])
        last_acc = float(np.mean(self.classes_[np.argmax(X @ W_last.T + b_last, axis=1)] == y))
        self.result_ = PerceptronResult(
            converged=all(r.converged for r in per),
            epochs=n_ep,
            mistakes=int(sum(r.mistakes for r in per)),
            mistakes_per_epoch=mpe,
            bound=None,
            R=per[0].R,
            gamma=None,
            separable=None,
            cycle_detected=any(r.cycle_detected for r in per),
            cycle_length=None,
            cycle_start=None,
            accuracy=self.score(X, y),
            last_accuracy=last_acc,
            accuracy_per_epoch=[],
            pocket=self.pocket,
            per_class=per,
        )
        return self

    def _fit_binary(self, X, s, separator, *, bound=True):
        """The rule on labels ``s ∈ {−1, +1}``; returns ``(w, b, result, (w_last, b_last))``
        where ``(w, b)`` are the returned (pocket or last) weights."""
        n, d = X.shape
        lr = self.lr
        R = float(np.sqrt(np.max(np.sum(X * X, axis=1)) + 1.0))
        info = MarginInfo(R, None, None, False, None)
        computed = bound and (self.compute_bound or separator is not None)
        if computed:
            info = novikoff(X, s, separator)
        w, b = np.zeros(d), 0.0
        positive = s > 0

        def accuracy(w, b):
            return float(np.mean(((X @ w + b) >= 0) == positive))

        best_acc = accuracy(w, b) if self.pocket else None
        best = (w.copy(), b)
        seen: dict[bytes, int] = {}
        cycle_length = cycle_start = None
        mistakes_per_epoch, acc_per_epoch, history = [], [], []
        converged = False
        order = np.arange(n)
        Xo, so = X, s
        for epoch in range(self.epochs):
            if self.shuffle:
                order = self.rng.permutation(n)
                Xo, so = X[order], s[order]
            elif cycle_length is None:
                key = w.tobytes() + np.float64(b).tobytes()
                if key in seen:
                    cycle_start = seen[key]
                    cycle_length = epoch - cycle_start
                    if self.stop_on_cycle:
                        break
                else:
                    seen[key] = epoch
            m, pos = 0, 0
            while pos < n:
                # vectorised scan for the next mistake from ``pos`` with the current weights
                z = Xo[pos:] @ w + b
                wrong = np.flatnonzero((z >= 0) != (so[pos:] > 0))
                if wrong.size == 0:
                    break
                j = pos + int(wrong[0])
                w += (lr * so[j]) * Xo[j]
                b += lr * so[j]
                m += 1
                pos = j + 1
                if self.pocket:
                    acc = accuracy(w, b)
                    if acc > best_acc:
                        best_acc, best = acc, (w.copy(), b)
            mistakes_per_epoch.append(m)
            acc_per_epoch.append(accuracy(w, b))
            if self.record_history:
                history.append([*w.tolist(), float(b)])
            if m == 0:
                converged = True
                break
        last_acc = accuracy(w, b)
        if self.pocket and best_acc > last_acc:
            w_out, b_out, acc_out = best[0], best[1], best_acc
        else:
            w_out, b_out, acc_out = w, b, last_acc
        res = PerceptronResult(
            converged=converged,
            epochs=len(mistakes_per_epoch),
            mistakes=int(sum(mistakes_per_epoch)),
            mistakes_per_epoch=mistakes_per_epoch,
            bound=info.bound,
            R=R,
            gamma=info.gamma,
            separable=info.separable if computed else None,
            cycle_detected=cycle_length is not None,
            cycle_length=cycle_length,
            cycle_start=cycle_start,
            accuracy=acc_out,
            last_accuracy=last_acc,
            accuracy_per_epoch=acc_per_epoch,
            pocket=self.pocket,
            weights_history=history if self.record_history else None,
        )
        return w_out.copy(), float(b_out), res, (w.copy(), float(b))

    # ---------------------------------------------------------------- prediction
    def _check_fitted(self, X) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ConfigError("this Perceptron is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise DataError(f"X must have shape (n, {self.coef_.shape[1]}); got {X.shape}")
        return X

    def decision_function(self, X) -> np.ndarray:
        """``z = w·x + b``: shape (n,) for two classes, (n, K) one-vs-rest."""
        X = self._check_fitted(X)
        Z = X @ self.coef_.T + self.intercept_
        return Z[:, 0] if len(self.classes_) == 2 else Z

    def predict(self, X) -> np.ndarray:
        """Original class labels: ``step(z)`` for two classes, ``argmax_k z_k`` otherwise."""
        Z = self.decision_function(X)
        if len(self.classes_) == 2:
            return self.classes_[(Z >= 0).astype(int)]
        return self.classes_[np.argmax(Z, axis=1)]

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        y = np.asarray(y).reshape(-1)
        return float(np.mean(self.predict(X) == y))
