"""A data set as train/validation/test splits: the :class:`Dataset` container and
:func:`assemble`, which shuffles, splits and scales a builder's raw arrays (:class:`Raw`).

A :class:`Dataset` holds the three splits of one learning problem together with what a model
needs to know about it: the task (which output head fits it), feature and class names, and the
affine map ``x ↦ (x − mean_) / scale_`` that was applied to the inputs, so that new raw inputs
can be brought into the same space with :meth:`Dataset.transform`.  Both the built-in builders
(:mod:`mlplab.data.datasets`) and the CSV reader (:mod:`mlplab.data.csv`) end here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from mlplab.errors import DataError, check_choice, check_range

__all__ = [
    "TASKS",
    "CLASSIFICATION",
    "SPLITS",
    "Dataset",
    "Raw",
    "n_outputs_for",
    "zscore_stats",
    "affine",
    "random_state",
    "assemble",
    "make_generator",
]

TASKS = ("binary", "multiclass", "multilabel", "regression", "count")
CLASSIFICATION = ("binary", "multiclass")
SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------------------------
# The Dataset container
# --------------------------------------------------------------------------------------------


def n_outputs_for(task: str, y: np.ndarray, class_names) -> int:
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
        for split in SPLITS:
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
            if self.task in CLASSIFICATION and (y.ndim != 1 or y.dtype.kind not in "iu"):
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
        return n_outputs_for(self.task, self.y_train, self.class_names)

    @property
    def n_classes(self) -> int | None:
        """Number of classes K for binary/multiclass, of labels k for multilabel, else None."""
        if self.task in CLASSIFICATION:
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
        mean, scale = zscore_stats(self.X_train)
        splits = {f"X_{s}": affine(getattr(self, f"X_{s}"), mean, scale) for s in SPLITS}
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
                f"{a}_{s}": list(getattr(self, f"{a}_{s}").shape) for s in SPLITS for a in "Xy"
            },
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "scaled": self.mean_ is not None,
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s} {len(getattr(self, f'X_{s}'))}" for s in SPLITS)
        classes = "" if self.n_classes is None else f", {self.n_classes} classes"
        return (
            f"Dataset({self.name!r}, {self.task}, {self.n_features} features, "
            f"{self.n_outputs} output(s){classes}; {sizes})"
        )


def zscore_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean μ and standard deviation σ of X (σ = 0 replaced by 1)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def affine(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X − mean) / scale`` as a new array."""
    out = X - mean
    out /= scale
    return out


# --------------------------------------------------------------------------------------------
# From generated arrays to a split Dataset
# --------------------------------------------------------------------------------------------


@dataclass
class Raw:
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


def random_state(rng: np.random.Generator) -> int:
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
    stratify = y if task in CLASSIFICATION and _can_stratify(y, n_take) else None
    return train_test_split(
        X, y, test_size=n_take, random_state=random_state(rng), stratify=stratify
    )


def assemble(
    name: str,
    task: str,
    raw: Raw,
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

    y_dtype = np.int64 if task in CLASSIFICATION else np.float64
    Xs = [np.array(X, dtype=np.float64) for X in parts[0::2]]  # fresh copies, scaled in place
    ys = [np.array(y, dtype=y_dtype) for y in parts[1::2]]
    mean = scale = None
    if standardize:
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            if raw.fixed_scale is None:
                mean, scale = zscore_stats(Xs[0])
            else:
                mean = np.zeros(Xs[0].shape[1])
                scale = np.full(Xs[0].shape[1], float(raw.fixed_scale))
            for X in Xs:
                X -= mean
                X /= scale
        _check_scaled(name, Xs, mean, scale, raw.feature_names)
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
# returns a Raw.  The keyword names are the options load_dataset accepts for that set.
# --------------------------------------------------------------------------------------------


def _check_scaled(name: str, Xs, mean, scale, feature_names) -> None:
    """DataError naming the columns whose standardisation overflowed float64 (values near
    ±1.8e308 have no finite mean, spread or difference from the mean)."""
    bad = ~(np.isfinite(mean) & np.isfinite(scale))
    for X in Xs:
        if X.size:
            bad |= ~np.all(np.isfinite(X), axis=0)
    if bad.any():
        cols = [str(feature_names[j]) for j in np.flatnonzero(bad)]
        shown = ", ".join(repr(c) for c in cols[:5]) + (" …" if len(cols) > 5 else "")
        raise DataError(
            f"{name}: column(s) {shown} hold values too large to standardise (their mean, "
            "spread or distance from the mean overflows a 64-bit float); divide them by a "
            "power of ten before training"
        )


def make_generator(seed) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else ``np.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_range("seed", seed, 0, integer=True))
