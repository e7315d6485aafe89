"""The registry of built-in data sets: one builder per set, and :func:`load_dataset`.

The :class:`~mlplab.data.splits.Dataset` container and the way a builder's raw arrays become
train/validation/test splits live in :mod:`mlplab.data.splits`.

:func:`load_dataset` builds any set of :data:`DATASETS` (or reads a ``.csv`` file) from one
``seed``; every random draw, data and split alike, comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from sklearn import datasets as skdatasets

from mlplab.data.idx import load_mnist
from mlplab.data.splits import (
    TASKS,
    Dataset,
    Raw,
    assemble,
    make_generator,
    n_outputs_for,
    random_state,
)
from mlplab.errors import ConfigError, DataError, check_range

__all__ = [
    "TASKS",
    "Dataset",
    "DatasetEntry",
    "DatasetRow",
    "DATASETS",
    "load_dataset",
    "list_datasets",
]


def _size(n_samples, default: int, lo: int = 4) -> int:
    return default if n_samples is None else check_range("n_samples", n_samples, lo, integer=True)


def _noise(noise, default: float) -> float:
    return default if noise is None else float(check_range("noise", noise, 0.0))


def _xy_names(d: int) -> list[str]:
    return ["x1", "x2"] if d == 2 else [f"x{j}" for j in range(d)]


_BINARY_NAMES = ["0", "1"]


def _xor(rng, *, n_samples=None, noise=None) -> Raw:
    """TF Playground XOR: label = 1 where x₁·x₂ ≥ 0, points padded 0.3 away from the axes.

    ``noise`` (0 to 0.5 in the Playground) jitters the point used for the label by
    U(−5, 5)·noise, so labels near the axes flip; the stored points are not moved.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    X = rng.uniform(-5.0, 5.0, size=(n, 2))
    X += np.where(X > 0, 0.3, -0.3)
    jittered = X + rng.uniform(-5.0, 5.0, size=(n, 2)) * noise
    y = (jittered[:, 0] * jittered[:, 1] >= 0).astype(np.int64)
    return Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _circle(rng, *, n_samples=None, noise=None) -> Raw:
    """TF Playground circle: class 1 inside radius 2.5, class 0 on the ring 3.5 ≤ r ≤ 5.

    ``noise`` jitters the point used for the label by U(−5, 5)·noise.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    radius = 5.0
    n_in = n // 2
    r = np.concatenate(
        [rng.uniform(0, 0.5 * radius, n_in), rng.uniform(0.7 * radius, radius, n - n_in)]
    )
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    jittered = X + rng.uniform(-radius, radius, size=(n, 2)) * noise
    y = (np.linalg.norm(jittered, axis=1) < 0.5 * radius).astype(np.int64)
    return Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _gauss(rng, *, n_samples=None, noise=None) -> Raw:
    """TF Playground two Gaussians at (2, 2) (class 1) and (−2, −2) (class 0).

    Variance 0.5 + 7·noise per coordinate (0.5 to 4 over the Playground's noise 0 to 0.5).
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    n_pos = n // 2
    y = np.r_[np.ones(n_pos, np.int64), np.zeros(n - n_pos, np.int64)]
    centres = np.where(y[:, None] == 1, 2.0, -2.0)
    X = centres + rng.normal(0.0, math.sqrt(0.5 + 7.0 * noise), size=(n, 2))
    return Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _spiral(rng, *, n_samples=None, noise=None) -> Raw:
    """TF Playground two-arm spiral: r = 5·i/m, θ = 3.5π·i/m (+π for class 0).

    Each coordinate is jittered by U(−1, 1)·noise.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    Xs, ys = [], []
    for label, m, delta in ((1, n // 2, 0.0), (0, n - n // 2, np.pi)):
        t = np.arange(m) / m
        r, theta = 5.0 * t, 1.75 * 2 * np.pi * t + delta
        arm = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
        Xs.append(arm + rng.uniform(-1.0, 1.0, size=(m, 2)) * noise)
        ys.append(np.full(m, label, np.int64))
    return Raw(np.concatenate(Xs), np.concatenate(ys), _xy_names(2), _BINARY_NAMES)


def _moons(rng, *, n_samples=None, noise=None) -> Raw:
    """Two interleaved half circles (as sklearn ``make_moons``) plus N(0, noise²) jitter."""
    n, noise = _size(n_samples, 1000), _noise(noise, 0.1)
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)]
    return Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _blobs(rng, *, n_samples=None, noise=None, n_classes=3) -> Raw:
    """K isotropic Gaussian blobs with standard deviation ``noise`` (default 1) whose centres
    sit evenly on a circle of radius 4."""
    n, noise = _size(n_samples, 900), _noise(noise, 1.0)
    k = check_range("n_classes", n_classes, 2, 50, integer=True)
    if n < 2 * k:
        raise ConfigError(f"n_samples must be at least 2·n_classes = {2 * k}; got {n}")
    y = np.arange(n, dtype=np.int64) % k
    angle = 2 * np.pi * y / k
    X = 4.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    X += rng.normal(0.0, noise, size=X.shape)
    return Raw(X, y, _xy_names(2), [str(c) for c in range(k)], meta={"n_classes": k})


def _spiral3(rng, *, n_samples=None, noise=None) -> Raw:
    """Three-arm spiral (CS231n): arm j has r ∈ [0, 1], θ ∈ [4j, 4j + 4] + N(0, noise²)."""
    n, noise = _size(n_samples, 900, lo=6), _noise(noise, 0.2)
    Xs, ys = [], []
    for j in range(3):
        m = n // 3 + (j < n % 3)
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.normal(0.0, noise, m)
        Xs.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        ys.append(np.full(m, j, np.int64))
    return Raw(np.concatenate(Xs), np.concatenate(ys), _xy_names(2), ["0", "1", "2"])


def _separable(rng, *, n_samples=None, margin=0.1, n_features=2) -> Raw:
    """Linearly separable points with a known geometric margin γ.

    Draw a unit vector w* and a bias b* ~ U(−0.2, 0.2); sample x ~ U([−1, 1]^d), reject points
    with |w*·x + b*| < γ, and label the rest y = 1[w*·x + b* > 0].  Because ‖w*‖ = 1 every
    kept point lies at distance ≥ γ from the hyperplane.  ``meta`` holds ``margin`` (γ),
    ``w_star``, ``b_star``, ``min_margin`` (the attained minimum distance) and ``radius``
    R = maxᵢ ‖xᵢ‖, the quantities of the perceptron bound (R/γ)².  X is not rescaled.
    """
    n = _size(n_samples, 500)
    gamma = float(check_range("margin", margin, 0.0, 0.5, lo_open=True))
    d = check_range("n_features", n_features, 1, 1000, integer=True)
    w = rng.normal(size=d)
    w /= np.linalg.norm(w)
    b = float(rng.uniform(-0.2, 0.2))
    kept = []
    while sum(len(k) for k in kept) < n:
        X = rng.uniform(-1.0, 1.0, size=(2 * n, d))
        kept.append(X[np.abs(X @ w + b) >= gamma])
    X = np.concatenate(kept)[:n]
    distance = X @ w + b
    y = (distance > 0).astype(np.int64)
    meta = {
        "margin": gamma,
        "w_star": w,
        "b_star": b,
        "min_margin": float(np.abs(distance).min()),
        "radius": float(np.linalg.norm(X, axis=1).max()),
    }
    return Raw(X, y, _xy_names(d), _BINARY_NAMES, fixed_scale=1.0, meta=meta)


_TRUTH_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _truth_table(column: list[int], description: str):
    def build(rng) -> Raw:
        y = np.array(column, dtype=np.int64)
        return Raw(
            _TRUTH_X.copy(), y, ["x1", "x2"], ["false", "true"], split=False, fixed_scale=1.0
        )

    build.__doc__ = f"The four points of {{0, 1}}² labelled by {description}; no split."
    return build


def _sin(rng, *, n_samples=None, noise=None) -> Raw:
    """y = sin x + N(0, noise²) at n evenly spaced x on [−2π, 2π]."""
    n, noise = _size(n_samples, 1024), _noise(noise, 0.0)
    x = np.linspace(-2 * np.pi, 2 * np.pi, n)
    y = np.sin(x) + rng.normal(0.0, 1.0, n) * noise
    return Raw(x[:, None], y, ["x"])


def _plane(rng, *, n_samples=None, noise=None) -> Raw:
    """y = a·x + N(0, noise²), x ~ U([−1, 1]²), a ~ N(0, I) stored as ``meta['coef']``.

    X is not rescaled, so ``coef`` holds for X as returned.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    a = rng.normal(size=2)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = X @ a + rng.normal(0.0, 1.0, n) * noise
    return Raw(X, y, _xy_names(2), fixed_scale=1.0, meta={"coef": a})


def _gauss_bump(rng, *, n_samples=None, noise=None) -> Raw:
    """y = exp(−‖x‖² / 2) + N(0, noise²), x ~ U([−3, 3]²)."""
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    X = rng.uniform(-3.0, 3.0, size=(n, 2))
    y = np.exp(-0.5 * np.sum(X**2, axis=1)) + rng.normal(0.0, 1.0, n) * noise
    return Raw(X, y, _xy_names(2))


def _take(X, y, n_samples, rng):
    """A random subset of ``n_samples`` rows of a fixed-size set (all rows for None)."""
    if n_samples is None:
        return X, y
    n = check_range("n_samples", n_samples, 4, len(X), integer=True)
    rows = np.sort(rng.choice(len(X), size=n, replace=False))
    return X[rows], y[rows]


def _breast_cancer(rng, *, n_samples=None) -> Raw:
    """Wisconsin breast cancer (sklearn): 569 × 30, malignant (0) vs benign (1)."""
    bunch = skdatasets.load_breast_cancer()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    return Raw(X, y, [str(f) for f in bunch.feature_names], [str(c) for c in bunch.target_names])


def _wine(rng, *, n_samples=None) -> Raw:
    """Wine cultivars (sklearn): 178 × 13, three classes."""
    bunch = skdatasets.load_wine()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    return Raw(X, y, [str(f) for f in bunch.feature_names], [str(c) for c in bunch.target_names])


def _diabetes(rng, *, n_samples=None) -> Raw:
    """Diabetes progression (sklearn, unscaled): 442 × 10, regression."""
    bunch = skdatasets.load_diabetes(scaled=False)
    X, y = _take(bunch.data, bunch.target.astype(np.float64), n_samples, rng)
    return Raw(X, y, [str(f) for f in bunch.feature_names])


def _digits(rng, *, n_samples=None) -> Raw:
    """Handwritten digits (sklearn): 1797 images of 8 × 8, intensities 0..16 scaled to [0, 1]."""
    bunch = skdatasets.load_digits()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    names = [str(f) for f in bunch.feature_names]
    return Raw(X, y, names, [str(c) for c in range(10)], fixed_scale=16.0, image_shape=(8, 8))


def _mnist(rng, *, subset=None, data_dir=None) -> Raw:
    """MNIST: 60000 training and 10000 test images of 28 × 28, pixels scaled to [0, 1].

    ``subset=N`` keeps the first N training images (validation is drawn from those); the test
    split is always the full fixed test set.  ``data_dir`` reads another MNIST-format set.
    """
    data = load_mnist(data_dir)
    n_train = len(data.train_images)
    n = n_train if subset is None else check_range("subset", subset, 1, n_train, integer=True)
    images, labels = data.train_images[:n], data.train_labels[:n]
    rows, cols = images.shape[1:]
    k = int(max(data.train_labels.max(), data.test_labels.max())) + 1
    return Raw(
        images.reshape(n, -1),
        labels.astype(np.int64),
        [f"px{r}_{c}" for r in range(rows) for c in range(cols)],
        [str(c) for c in range(k)],
        X_test=data.test_images.reshape(len(data.test_images), -1),
        y_test=data.test_labels.astype(np.int64),
        fixed_scale=255.0,
        image_shape=(rows, cols),
    )


def _tabular_irregular(
    rng, *, n_samples=None, noise=None, n_informative=10, n_uninformative=20
) -> Raw:
    """Tabular regression with a step-like target of the first ``n_informative`` features.

    x ~ N(0, I).  The target is a sum of 2·n_informative terms, each a weight times a product
    of one to three threshold indicators, ``w · Πⱼ 1[sⱼ (xⱼ − θⱼ) > 0]`` with θⱼ ~ N(0, 0.75²),
    sⱼ = ±1 and |w| ~ U(0.5, 2); term t always involves feature t mod n_informative, so every
    informative feature matters.  The last ``n_uninformative`` columns are pure noise.
    N(0, noise²) is added to y (default noise 0.1).  ``meta['informative']`` lists the
    informative columns and ``meta['terms']`` the terms.
    """
    n, noise = _size(n_samples, 2000), _noise(noise, 0.1)
    k = check_range("n_informative", n_informative, 1, 1000, integer=True)
    u = check_range("n_uninformative", n_uninformative, 0, 1000, integer=True)
    X = rng.normal(size=(n, k + u))
    y = np.zeros(n)
    terms = []
    for t in range(2 * k):
        n_extra = int(rng.integers(0, min(2, k - 1) + 1))
        others = rng.choice(np.delete(np.arange(k), t % k), size=n_extra, replace=False)
        features = [t % k, *(int(j) for j in others)]
        thresholds = rng.normal(0.0, 0.75, size=len(features))
        signs = rng.choice([-1.0, 1.0], size=len(features))
        weight = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0))
        active = np.all(signs * (X[:, features] - thresholds) > 0, axis=1)
        y += weight * active
        terms.append(
            {"features": features, "thresholds": thresholds, "signs": signs, "weight": weight}
        )
    y += rng.normal(0.0, 1.0, n) * noise
    meta = {"informative": list(range(k)), "terms": terms}
    return Raw(X, y, [f"x{j}" for j in range(k + u)], meta=meta)


def _tabular_cls(
    rng, *, n_samples=None, noise=None, n_informative=5, n_redundant=2, n_uninformative=13
) -> Raw:
    """Binary tabular classification (sklearn ``make_classification``, columns unshuffled).

    Columns: ``n_informative`` informative, ``n_redundant`` linear combinations of those, then
    ``n_uninformative`` noise features.  ``noise`` is the fraction of labels flipped at random
    (default 0.01).  ``meta['informative']`` and ``meta['redundant']`` list the columns.
    """
    n = _size(n_samples, 1000)
    flip = float(check_range("noise", 0.01 if noise is None else noise, 0.0, 1.0))
    k = check_range("n_informative", n_informative, 2, 1000, integer=True)
    r = check_range("n_redundant", n_redundant, 0, 1000, integer=True)
    u = check_range("n_uninformative", n_uninformative, 0, 1000, integer=True)
    X, y = skdatasets.make_classification(
        n_samples=n,
        n_features=k + r + u,
        n_informative=k,
        n_redundant=r,
        n_repeated=0,
        n_classes=2,
        flip_y=flip,
        shuffle=False,
        random_state=random_state(rng),
    )
    meta = {"informative": list(range(k)), "redundant": list(range(k, k + r))}
    return Raw(X, y.astype(np.int64), [f"x{j}" for j in range(k + r + u)], _BINARY_NAMES, meta=meta)


def _multilabel(rng, *, n_samples=None, noise=None, n_labels=5, n_features=10) -> Raw:
    """Multilabel set from a random linear model: y_l = 1[x·W*_l + b*_l + ε > 0].

    x ~ N(0, I_d), W* ~ N(0, 4/d) (so each logit has standard deviation about 2),
    b* ~ N(0, 0.5²), ε ~ N(0, noise²) with default noise 0.5.  ``meta`` holds ``W_star``
    (d, k) and ``b_star`` (k,); X is not rescaled.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.5)
    k = check_range("n_labels", n_labels, 1, 100, integer=True)
    d = check_range("n_features", n_features, 1, 1000, integer=True)
    X = rng.normal(size=(n, d))
    W = rng.normal(0.0, 2.0 / math.sqrt(d), size=(d, k))
    b = rng.normal(0.0, 0.5, size=k)
    Y = (X @ W + b + rng.normal(0.0, 1.0, size=(n, k)) * noise > 0).astype(np.float64)
    meta = {"W_star": W, "b_star": b}
    names = [f"label{j}" for j in range(k)]
    return Raw(X, Y, [f"x{j}" for j in range(d)], names, fixed_scale=1.0, meta=meta)


def _poisson(rng, *, n_samples=None, n_features=5) -> Raw:
    """Counts y ~ Poisson(exp(x·β* + c*)) with x ~ N(0, I_d), β* ~ N(0, 0.4²), c* = 1.

    ``meta`` holds ``beta_star`` (d,) and ``intercept`` c*; X is not rescaled.
    """
    n = _size(n_samples, 1000)
    d = check_range("n_features", n_features, 1, 1000, integer=True)
    X = rng.normal(size=(n, d))
    beta = rng.normal(0.0, 0.4, size=d)
    intercept = 1.0
    y = rng.poisson(np.exp(X @ beta + intercept)).astype(np.float64)
    meta = {"beta_star": beta, "intercept": intercept}
    return Raw(X, y, [f"x{j}" for j in range(d)], fixed_scale=1.0, meta=meta)


# --------------------------------------------------------------------------------------------
# Registry and entry points
# --------------------------------------------------------------------------------------------


class DatasetEntry(NamedTuple):
    """A registry row: ``builder(rng, **options) -> Raw``, a one-line description, the task."""

    builder: Callable[..., Raw]
    description: str
    task: str


class DatasetRow(NamedTuple):
    """One row of :func:`list_datasets` (sizes at the default options)."""

    name: str
    task: str
    n_samples: int
    n_features: int
    n_outputs: int
    description: str


DATASETS: dict[str, DatasetEntry] = {
    # images
    "mnist": DatasetEntry(_mnist, "MNIST handwritten digits, 28×28 pixels in [0, 1]", "multiclass"),
    "digits": DatasetEntry(_digits, "sklearn digits, 8×8 pixels in [0, 1]", "multiclass"),
    # TF Playground toys
    "xor": DatasetEntry(_xor, "TF Playground XOR quadrants", "binary"),
    "circle": DatasetEntry(_circle, "TF Playground disc inside a ring", "binary"),
    "gauss": DatasetEntry(_gauss, "TF Playground two Gaussian clouds", "binary"),
    "spiral": DatasetEntry(_spiral, "TF Playground two-arm spiral", "binary"),
    "moons": DatasetEntry(_moons, "two interleaved half moons", "binary"),
    "blobs": DatasetEntry(_blobs, "K Gaussian blobs on a circle (n_classes=3)", "multiclass"),
    "spiral3": DatasetEntry(_spiral3, "three-arm spiral", "multiclass"),
    "separable": DatasetEntry(
        _separable, "linearly separable with known margin γ (margin=0.1)", "binary"
    ),
    # truth tables for the perceptron
    "and": DatasetEntry(_truth_table([0, 0, 0, 1], "x1 AND x2"), "AND truth table", "binary"),
    "or": DatasetEntry(_truth_table([0, 1, 1, 1], "x1 OR x2"), "OR truth table", "binary"),
    "xor4": DatasetEntry(_truth_table([0, 1, 1, 0], "x1 XOR x2"), "XOR truth table", "binary"),
    # regression
    "sin": DatasetEntry(_sin, "y = sin x on [−2π, 2π]", "regression"),
    "plane": DatasetEntry(_plane, "y = a·x in 2-D", "regression"),
    "gauss_bump": DatasetEntry(_gauss_bump, "y = exp(−‖x‖²/2) in 2-D", "regression"),
    # tabular
    "breast_cancer": DatasetEntry(_breast_cancer, "sklearn breast cancer (Wisconsin)", "binary"),
    "wine": DatasetEntry(_wine, "sklearn wine cultivars", "multiclass"),
    "diabetes": DatasetEntry(_diabetes, "sklearn diabetes progression", "regression"),
    "tabular_irregular": DatasetEntry(
        _tabular_irregular, "10 informative + 20 noise features, step-like target", "regression"
    ),
    "tabular_cls": DatasetEntry(
        _tabular_cls, "make_classification with 13 uninformative features", "binary"
    ),
    # other heads
    "multilabel": DatasetEntry(_multilabel, "5 labels from a random linear model", "multilabel"),
    "poisson": DatasetEntry(_poisson, "counts from a Poisson GLM with known β*", "count"),
}


def _builder_options(builder) -> list[str]:
    return [p for p in inspect.signature(builder).parameters if p != "rng"]


def load_dataset(
    name: str,
    *,
    seed=0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    n_samples: int | None = None,
    noise: float | None = None,
    standardize: bool = True,
    data_dir=None,
    target=None,
    subset: int | None = None,
    **options,
) -> Dataset:
    """Build a registered data set, or read a CSV file, as a split :class:`Dataset`.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`, or a path ending in ``.csv`` (then ``target`` is required
        and the file is read by :func:`~mlplab.data.csv.load_csv`).
    seed : int or numpy.random.Generator
        Source of every random draw (data and split); same seed, same arrays.
    val_fraction, test_fraction : float
        Fractions of the samples put into the validation and test splits (stratified for
        classification where every class has at least two members).  For MNIST the test split
        is the fixed 10000-image test set and ``val_fraction`` applies to the training images.
        Truth tables (``and``, ``or``, ``xor4``) are not split: train = val = test.
    n_samples : int, optional
        Number of samples to generate (a random subset for the sklearn sets); None for the
        set's default.  Not for ``mnist`` (see ``subset``) or the truth tables.
    noise : float, optional
        Noise level of a synthetic set, in the set's own sense (see its builder); None for
        the set's default.
    standardize : bool
        Transform the inputs with a map fitted on the training split only.  Most sets are
        z-scored per feature; images are divided by their maximum intensity instead (255 for
        MNIST, 16 for digits) so pixels lie in [0, 1]; sets generated on a unit scale whose
        ``meta`` describes X (``separable``, ``plane``, ``multilabel``, ``poisson``, the truth
        tables) keep X unchanged.  Targets are never rescaled.
    data_dir : str or os.PathLike, optional
        For ``mnist``: a directory of MNIST-format files to read instead of the embedded copy.
    target : str or list of str, optional
        For CSV files: the target column(s).
    subset : int, optional
        For ``mnist``: keep only the first ``subset`` training images.
    **options
        Set-specific options, e.g. ``n_classes`` for ``blobs``, ``margin`` and ``n_features``
        for ``separable``, ``n_labels`` for ``multilabel``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        For an unknown name (the message lists the valid ones), a CSV without ``target`` or any
        problem reading the data.
    ConfigError
        For an option the set does not take or a value out of range.
    """
    check_range("val_fraction", val_fraction, 0.0, 1.0, hi_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0, hi_open=True)
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction must be below 1; got {val_fraction} + {test_fraction}"
        )
    asked = {
        "n_samples": n_samples,
        "noise": noise,
        "data_dir": data_dir,
        "subset": subset,
        **options,
    }
    asked = {key: value for key, value in asked.items() if value is not None}

    if str(name).lower().endswith(".csv"):
        from mlplab.data.csv import load_csv  # lazily: csv reading needs none of the builders

        if target is None:
            raise DataError(f"{name}: a CSV data set needs target=<column name or list of names>")
        if asked:
            raise ConfigError(f"a CSV data set takes no option(s) {', '.join(asked)}")
        return load_csv(
            name,
            target,
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            standardize=standardize,
        )

    if name not in DATASETS:
        raise DataError(
            f"unknown data set {name!r}; valid names: {', '.join(DATASETS)} "
            "(or a path ending in .csv)"
        )
    if target is not None:
        raise ConfigError("target applies to CSV files only")
    entry = DATASETS[name]
    accepted = _builder_options(entry.builder)
    unknown = [key for key in asked if key not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise ConfigError(
            f"data set {name!r} does not take {', '.join(unknown)}; it takes: {takes}"
        )
    rng = make_generator(seed)
    raw = entry.builder(rng, **asked)
    return assemble(
        name,
        entry.task,
        raw,
        rng,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        standardize=standardize,
    )


def list_datasets() -> list[DatasetRow]:
    """One :class:`DatasetRow` per registered set, sizes at the default options.

    ``n_samples`` counts all splits together (70000 for MNIST, 4 for a truth table).
    """
    return list(_dataset_rows())


@functools.lru_cache(maxsize=1)
def _dataset_rows() -> tuple[DatasetRow, ...]:
    rows = []
    for name, entry in DATASETS.items():
        raw = entry.builder(np.random.default_rng(0))
        n = len(raw.X) + (0 if raw.X_test is None else len(raw.X_test))
        n_out = n_outputs_for(entry.task, raw.y, raw.class_names)
        rows.append(DatasetRow(name, entry.task, n, raw.X.shape[1], n_out, entry.description))
    return tuple(rows)
