"""Data sets as train/validation/test splits, and the registry of built-in sets.

A :class:`Dataset` holds the three splits of one learning problem together with what a model
needs to know about it: the task (which output head fits it), feature and class names, and the
affine map ``x ↦ (x − mean_) / scale_`` that was applied to the inputs, so that new raw inputs
can be brought into the same space with :meth:`Dataset.transform`.

:func:`load_dataset` builds any set of :data:`DATASETS` (or reads a ``.csv`` file) from one
``seed``; every random draw, data and split alike, comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split

from mlplab.data.idx import load_mnist
from mlplab.errors import ConfigError, DataError, check_choice, check_range

__all__ = [
    "TASKS",
    "Dataset",
    "DatasetEntry",
    "DatasetRow",
    "DATASETS",
    "load_dataset",
    "list_datasets",
]

TASKS = ("binary", "multiclass", "multilabel", "regression", "count")
_CLASSIFICATION = ("binary", "multiclass")
_SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------------------------
# The Dataset container
# --------------------------------------------------------------------------------------------


def _n_outputs(task: str, y: np.ndarray, class_names) -> int:
    """Output units a model needs: 1 for binary, K for multiclass, k columns otherwise."""
    if task == "binary":
        return 1
    if task == "multiclass":
        return len(class_names) if class_names is not None else int(y.max(initial=-1)) + 1
    return 1 if y.ndim == 1 else y.shape[1]


@dataclass(eq=False, repr=False)
class Dataset:
    """One learning problem split into train, validation and test sets.

    Attributes
    ----------
    name : str
    task : {"binary", "multiclass", "multilabel", "regression", "count"}
    X_train, X_val, X_test : ndarray of float64, shape (n_split, n_features)
        Inputs, already transformed by ``(x − mean_) / scale_`` when that map is set.
    y_train, y_val, y_test : ndarray
        binary/multiclass: int64 class ids, shape (n_split,);
        multilabel: float 0/1, shape (n_split, k);
        regression: float, shape (n_split,) or (n_split, k);
        count: non-negative float counts, shape (n_split,) or (n_split, k).
    feature_names : list of str, length n_features
    class_names : list of str or None
        Names of the class ids 0..K−1 (of the k labels for multilabel); None for regression
        and count.
    image_shape : tuple of int or None
        ``(rows, cols)`` when each row of X is a flattened image (MNIST (28, 28), digits (8, 8)).
    meta : dict
        Extra facts about how the set was made (e.g. ``margin``, ``w_star``, ``b_star`` of the
        ``separable`` set).  They refer to X as returned by :func:`load_dataset`.
    mean_, scale_ : ndarray, shape (n_features,), or None
        The input map fitted on the training split only; None when the inputs are raw.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None
    meta: dict = field(default_factory=dict)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def __post_init__(self):
        check_choice("task", self.task, TASKS, error=DataError)
        d = None
        for split in _SPLITS:
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X.ndim != 2:
                raise DataError(f"{self.name}: X_{split} must be 2-D; got shape {X.shape}")
            if d is not None and X.shape[1] != d:
                raise DataError(f"{self.name}: X_{split} has {X.shape[1]} features, not {d}")
            d = X.shape[1]
            if len(y) != len(X):
                raise DataError(
                    f"{self.name}: {len(X)} rows in X_{split} but {len(y)} in y_{split}"
                )
            if self.task in _CLASSIFICATION and (y.ndim != 1 or y.dtype.kind not in "iu"):
                raise DataError(
                    f"{self.name}: y_{split} must hold integer class ids of shape (n,) for task "
                    f"{self.task}; got dtype {y.dtype}, shape {y.shape}"
                )
        if len(self.feature_names) != d:
            raise DataError(
                f"{self.name}: {len(self.feature_names)} feature names for {d} features"
            )

    # -- sizes ---------------------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        """Number of input features d."""
        return self.X_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Output units a model needs: 1 for binary, K for multiclass, k otherwise."""
        return _n_outputs(self.task, self.y_train, self.class_names)

    @property
    def n_classes(self) -> int | None:
        """Number of classes K for binary/multiclass, of labels k for multilabel, else None."""
        if self.task in _CLASSIFICATION:
            return self.n_outputs if self.task == "multiclass" else 2
        if self.task == "multilabel":
            return self.n_outputs
        return None

    # -- the input map ---------------------------------------------------------------------------

    def transform(self, X) -> np.ndarray:
        """Bring raw inputs into the space of ``X_train``: ``(X − mean_) / scale_``.

        Parameters
        ----------
        X : array_like, shape (..., n_features)
            Raw inputs, in the units of the source data (pixel intensities 0..255 for MNIST).

        Returns
        -------
        ndarray of float64, same shape as ``X``; a copy of ``X`` when no map is set.
        """
        X = np.array(X, dtype=np.float64)
        if X.ndim == 0 or X.shape[-1] != self.n_features:
            raise DataError(
                f"{self.name}: transform needs inputs with {self.n_features} features in the last "
                f"axis; got shape {X.shape}"
            )
        if self.mean_ is not None:
            X -= self.mean_
            X /= self.scale_
        return X

    def standardize(self) -> Dataset:
        """A copy whose inputs are z-scored with the mean and standard deviation of X_train.

        Each feature becomes ``(x − μ) / σ`` with μ, σ from the training split only, so the
        validation and test splits carry no information into the map.  Features with σ = 0
        are only centred (σ := 1).  The new map is composed with any existing one, so
        :meth:`transform` still accepts raw inputs.
        """
        if len(self.X_train) == 0:
            raise DataError(f"{self.name}: cannot standardise an empty training split")
        mean, scale = _zscore_stats(self.X_train)
        splits = {f"X_{s}": _affine(getattr(self, f"X_{s}"), mean, scale) for s in _SPLITS}
        old_mean = np.zeros(self.n_features) if self.mean_ is None else self.mean_
        old_scale = np.ones(self.n_features) if self.scale_ is None else self.scale_
        # (x_raw − m₀)/s₀ = x  and  (x − μ)/σ  ⇒  (x_raw − (m₀ + s₀μ)) / (s₀σ)
        return dataclasses.replace(
            self, **splits, mean_=old_mean + old_scale * mean, scale_=old_scale * scale
        )

    # -- description -------------------------------------------------------------------------------

    def info(self) -> dict:
        """A JSON-friendly summary: name, task, sizes, shapes and class names."""
        return {
            "name": self.name,
            "task": self.task,
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "n_classes": self.n_classes,
            "class_names": None if self.class_names is None else list(self.class_names),
            "n_train": len(self.X_train),
            "n_val": len(self.X_val),
            "n_test": len(self.X_test),
            "shapes": {
                f"{a}_{s}": list(getattr(self, f"{a}_{s}").shape) for s in _SPLITS for a in "Xy"
            },
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "scaled": self.mean_ is not None,
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s} {len(getattr(self, f'X_{s}'))}" for s in _SPLITS)
        classes = "" if self.n_classes is None else f", {self.n_classes} classes"
        return (
            f"Dataset({self.name!r}, {self.task}, {self.n_features} features, "
            f"{self.n_outputs} output(s){classes}; {sizes})"
        )


def _zscore_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean μ and standard deviation σ of X (σ = 0 replaced by 1)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def _affine(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    out = X - mean
    out /= scale
    return out


# --------------------------------------------------------------------------------------------
# From generated arrays to a split Dataset
# --------------------------------------------------------------------------------------------


@dataclass
class _Raw:
    """What a builder returns: the data before splitting and scaling.

    ``X``/``y`` is the pool the splits are drawn from; a fixed test split (MNIST) comes in
    ``X_test``/``y_test``.  ``split=False`` makes train = val = test = the whole set (truth
    tables).  ``fixed_scale`` replaces z-scoring by a division by one constant: the maximum
    pixel intensity for images, 1.0 for sets generated on a unit scale whose ``meta`` states
    facts about X (margin, true coefficients) that z-scoring would break.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    split: bool = True
    fixed_scale: float | None = None
    image_shape: tuple[int, ...] | None = None
    meta: dict = field(default_factory=dict)


def _random_state(rng: np.random.Generator) -> int:
    """An int seed for a library that takes ``random_state``, drawn from ``rng``."""
    return int(rng.integers(2**31 - 1))


def _can_stratify(y: np.ndarray, n_take: int) -> bool:
    counts = np.unique(y, return_counts=True)[1]
    k = len(counts)
    return counts.min() >= 2 and n_take >= k and len(y) - n_take >= k


def _split_off(X, y, n_take: int, rng, task: str):
    """Split ``n_take`` rows off (stratified for classification where possible)."""
    if n_take == 0:
        return X, X[:0], y, y[:0]
    stratify = y if task in _CLASSIFICATION and _can_stratify(y, n_take) else None
    return train_test_split(
        X, y, test_size=n_take, random_state=_random_state(rng), stratify=stratify
    )


def _assemble(
    name: str,
    task: str,
    raw: _Raw,
    rng: np.random.Generator,
    *,
    val_fraction: float,
    test_fraction: float,
    standardize: bool,
) -> Dataset:
    """Shuffle, split and scale a builder's output into a Dataset."""
    if not raw.split:
        parts = [raw.X, raw.y] * 3
    else:
        n = len(raw.X)
        n_test = round(test_fraction * n) if raw.X_test is None else 0
        n_val = round(val_fraction * n)
        if n - n_test - n_val < 1:
            raise DataError(
                f"{name}: {n} samples leave none for the training split after {n_val} for "
                f"validation and {n_test} for testing"
            )
        order = rng.permutation(n)
        X, y = raw.X[order], raw.y[order]
        if raw.X_test is None:
            X, X_test, y, y_test = _split_off(X, y, n_test, rng, task)
        else:
            X_test, y_test = raw.X_test, raw.y_test
        X_train, X_val, y_train, y_val = _split_off(X, y, n_val, rng, task)
        parts = [X_train, y_train, X_val, y_val, X_test, y_test]

    y_dtype = np.int64 if task in _CLASSIFICATION else np.float64
    Xs = [np.array(X, dtype=np.float64) for X in parts[0::2]]  # fresh copies, scaled in place
    ys = [np.array(y, dtype=y_dtype) for y in parts[1::2]]
    mean = scale = None
    if standardize:
        if raw.fixed_scale is None:
            mean, scale = _zscore_stats(Xs[0])
        else:
            mean = np.zeros(Xs[0].shape[1])
            scale = np.full(Xs[0].shape[1], float(raw.fixed_scale))
        for X in Xs:
            X -= mean
            X /= scale
    return Dataset(
        name=name,
        task=task,
        X_train=Xs[0],
        y_train=ys[0],
        X_val=Xs[1],
        y_val=ys[1],
        X_test=Xs[2],
        y_test=ys[2],
        feature_names=list(raw.feature_names),
        class_names=None if raw.class_names is None else list(raw.class_names),
        image_shape=raw.image_shape,
        meta=dict(raw.meta),
        mean_=mean,
        scale_=scale,
    )


# --------------------------------------------------------------------------------------------
# Builders.  Each takes the generator and keyword options (None = the set's default) and
# returns a _Raw.  The keyword names are the options load_dataset accepts for that set.
# --------------------------------------------------------------------------------------------


def _size(n_samples, default: int, lo: int = 4) -> int:
    return default if n_samples is None else check_range("n_samples", n_samples, lo, integer=True)


def _noise(noise, default: float) -> float:
    return default if noise is None else float(check_range("noise", noise, 0.0))


def _xy_names(d: int) -> list[str]:
    return ["x1", "x2"] if d == 2 else [f"x{j}" for j in range(d)]


_BINARY_NAMES = ["0", "1"]


def _xor(rng, *, n_samples=None, noise=None) -> _Raw:
    """TF Playground XOR: label = 1 where x₁·x₂ ≥ 0, points padded 0.3 away from the axes.

    ``noise`` (0 to 0.5 in the Playground) jitters the point used for the label by
    U(−5, 5)·noise, so labels near the axes flip; the stored points are not moved.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    X = rng.uniform(-5.0, 5.0, size=(n, 2))
    X += np.where(X > 0, 0.3, -0.3)
    jittered = X + rng.uniform(-5.0, 5.0, size=(n, 2)) * noise
    y = (jittered[:, 0] * jittered[:, 1] >= 0).astype(np.int64)
    return _Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _circle(rng, *, n_samples=None, noise=None) -> _Raw:
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
    return _Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _gauss(rng, *, n_samples=None, noise=None) -> _Raw:
    """TF Playground two Gaussians at (2, 2) (class 1) and (−2, −2) (class 0).

    Variance 0.5 + 7·noise per coordinate (0.5 to 4 over the Playground's noise 0 to 0.5).
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    n_pos = n // 2
    y = np.r_[np.ones(n_pos, np.int64), np.zeros(n - n_pos, np.int64)]
    centres = np.where(y[:, None] == 1, 2.0, -2.0)
    X = centres + rng.normal(0.0, math.sqrt(0.5 + 7.0 * noise), size=(n, 2))
    return _Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _spiral(rng, *, n_samples=None, noise=None) -> _Raw:
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
    return _Raw(np.concatenate(Xs), np.concatenate(ys), _xy_names(2), _BINARY_NAMES)


def _moons(rng, *, n_samples=None, noise=None) -> _Raw:
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
    return _Raw(X, y, _xy_names(2), _BINARY_NAMES)


def _blobs(rng, *, n_samples=None, noise=None, n_classes=3) -> _Raw:
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
    return _Raw(X, y, _xy_names(2), [str(c) for c in range(k)], meta={"n_classes": k})


def _spiral3(rng, *, n_samples=None, noise=None) -> _Raw:
    """Three-arm spiral (CS231n): arm j has r ∈ [0, 1], θ ∈ [4j, 4j + 4] + N(0, noise²)."""
    n, noise = _size(n_samples, 900, lo=6), _noise(noise, 0.2)
    Xs, ys = [], []
    for j in range(3):
        m = n // 3 + (j < n % 3)
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.normal(0.0, noise, m)
        Xs.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        ys.append(np.full(m, j, np.int64))
    return _Raw(np.concatenate(Xs), np.concatenate(ys), _xy_names(2), ["0", "1", "2"])


def _separable(rng, *, n_samples=None, margin=0.1, n_features=2) -> _Raw:
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
    return _Raw(X, y, _xy_names(d), _BINARY_NAMES, fixed_scale=1.0, meta=meta)


_TRUTH_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _truth_table(column: list[int], description: str):
    def build(rng) -> _Raw:
        y = np.array(column, dtype=np.int64)
        return _Raw(
            _TRUTH_X.copy(), y, ["x1", "x2"], ["false", "true"], split=False, fixed_scale=1.0
        )

    build.__doc__ = f"The four points of {{0, 1}}² labelled by {description}; no split."
    return build


def _sin(rng, *, n_samples=None, noise=None) -> _Raw:
    """y = sin x + N(0, noise²) at n evenly spaced x on [−2π, 2π]."""
    n, noise = _size(n_samples, 1024), _noise(noise, 0.0)
    x = np.linspace(-2 * np.pi, 2 * np.pi, n)
    y = np.sin(x) + rng.normal(0.0, 1.0, n) * noise
    return _Raw(x[:, None], y, ["x"])


def _plane(rng, *, n_samples=None, noise=None) -> _Raw:
    """y = a·x + N(0, noise²), x ~ U([−1, 1]²), a ~ N(0, I) stored as ``meta['coef']``.

    X is not rescaled, so ``coef`` holds for X as returned.
    """
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    a = rng.normal(size=2)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = X @ a + rng.normal(0.0, 1.0, n) * noise
    return _Raw(X, y, _xy_names(2), fixed_scale=1.0, meta={"coef": a})


def _gauss_bump(rng, *, n_samples=None, noise=None) -> _Raw:
    """y = exp(−‖x‖² / 2) + N(0, noise²), x ~ U([−3, 3]²)."""
    n, noise = _size(n_samples, 1000), _noise(noise, 0.0)
    X = rng.uniform(-3.0, 3.0, size=(n, 2))
    y = np.exp(-0.5 * np.sum(X**2, axis=1)) + rng.normal(0.0, 1.0, n) * noise
    return _Raw(X, y, _xy_names(2))


def _take(X, y, n_samples, rng):
    """A random subset of ``n_samples`` rows of a fixed-size set (all rows for None)."""
    if n_samples is None:
        return X, y
    n = check_range("n_samples", n_samples, 4, len(X), integer=True)
    rows = np.sort(rng.choice(len(X), size=n, replace=False))
    return X[rows], y[rows]


def _breast_cancer(rng, *, n_samples=None) -> _Raw:
    """Wisconsin breast cancer (sklearn): 569 × 30, malignant (0) vs benign (1)."""
    bunch = skdatasets.load_breast_cancer()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    return _Raw(X, y, [str(f) for f in bunch.feature_names], [str(c) for c in bunch.target_names])


def _wine(rng, *, n_samples=None) -> _Raw:
    """Wine cultivars (sklearn): 178 × 13, three classes."""
    bunch = skdatasets.load_wine()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    return _Raw(X, y, [str(f) for f in bunch.feature_names], [str(c) for c in bunch.target_names])


def _diabetes(rng, *, n_samples=None) -> _Raw:
    """Diabetes progression (sklearn, unscaled): 442 × 10, regression."""
    bunch = skdatasets.load_diabetes(scaled=False)
    X, y = _take(bunch.data, bunch.target.astype(np.float64), n_samples, rng)
    return _Raw(X, y, [str(f) for f in bunch.feature_names])


def _digits(rng, *, n_samples=None) -> _Raw:
    """Handwritten digits (sklearn): 1797 images of 8 × 8, intensities 0..16 scaled to [0, 1]."""
    bunch = skdatasets.load_digits()
    X, y = _take(bunch.data, bunch.target.astype(np.int64), n_samples, rng)
    names = [str(f) for f in bunch.feature_names]
    return _Raw(X, y, names, [str(c) for c in range(10)], fixed_scale=16.0, image_shape=(8, 8))


def _mnist(rng, *, subset=None, data_dir=None) -> _Raw:
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
    return _Raw(
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
) -> _Raw:
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
    return _Raw(X, y, [f"x{j}" for j in range(k + u)], meta=meta)


def _tabular_cls(
    rng, *, n_samples=None, noise=None, n_informative=5, n_redundant=2, n_uninformative=13
) -> _Raw:
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
        random_state=_random_state(rng),
    )
    meta = {"informative": list(range(k)), "redundant": list(range(k, k + r))}
    return _Raw(
        X, y.astype(np.int64), [f"x{j}" for j in range(k + r + u)], _BINARY_NAMES, meta=meta
    )


def _multilabel(rng, *, n_samples=None, noise=None, n_labels=5, n_features=10) -> _Raw:
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
    return _Raw(X, Y, [f"x{j}" for j in range(d)], names, fixed_scale=1.0, meta=meta)


def _poisson(rng, *, n_samples=None, n_features=5) -> _Raw:
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
    return _Raw(X, y, [f"x{j}" for j in range(d)], fixed_scale=1.0, meta=meta)


# --------------------------------------------------------------------------------------------
# Registry and entry points
# --------------------------------------------------------------------------------------------


class DatasetEntry(NamedTuple):
    """A registry row: ``builder(rng, **options) -> _Raw``, a one-line description, the task."""

    builder: Callable[..., _Raw]
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
        from mlplab.data.csv import load_csv  # csv.py imports this module

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
    rng = _generator(seed)
    raw = entry.builder(rng, **asked)
    return _assemble(
        name,
        entry.task,
        raw,
        rng,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        standardize=standardize,
    )


def _generator(seed) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else ``np.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_range("seed", seed, 0, integer=True))


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
        n_out = _n_outputs(entry.task, raw.y, raw.class_names)
        rows.append(DatasetRow(name, entry.task, n, raw.X.shape[1], n_out, entry.description))
    return tuple(rows)
