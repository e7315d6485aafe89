"""The playground's data: built-in sets and uploaded CSV files, in the page's coordinates.

The page draws the square ``[−EXTENT, EXTENT]²`` of TF Playground.  The built-in sets are drawn
from :func:`mlplab.data.load_dataset` unstandardised and, where a set is generated on a smaller
scale (moons, the three-arm spiral, the regression plane), moved and scaled by a fixed affine map
(:data:`VIEW`); an uploaded CSV is scaled so that each feature spans ``[−5, 5]``.  The input
features (x₁, x₂, x₁², x₂², x₁x₂, sin x₁, sin x₂) are computed from these coordinates, as in TF
Playground (:func:`feature_matrix`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from mlplab.errors import DataError, MlplabError
from mlplab.web.schemas import MAX_CSV_ROWS, PlaygroundConfig

__all__ = [
    "EXTENT",
    "FEATURE_LABELS",
    "MAX_CLASSES",
    "MAX_TARGET",
    "VIEW",
    "PlayData",
    "csv_data",
    "feature_matrix",
    "make_data",
    "noise_option",
    "scale_to_box",
]

#: Half-width of the drawn square: the map covers [−EXTENT, EXTENT]².
EXTENT = 6.0
#: Most classes a CSV may have (colours on the page).
MAX_CLASSES = 8
#: Largest regression target of a CSV (its square must fit the engine's float32 losses).
MAX_TARGET = 1e15

FEATURE_LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1sq": "x₁²",
    "x2sq": "x₂²",
    "x1x2": "x₁x₂",
    "sinx1": "sin x₁",
    "sinx2": "sin x₂",
}


@dataclass
class PlayData:
    """A data set in page coordinates.

    ``X_*`` have shape (n, dim) with dim 1 or 2; ``y_*`` hold class ids (int64) for
    classification and values (float64) for regression.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] | None
    note: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Number of coordinates per point (1 or 2)."""
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names) if self.class_names else 0

    def y_range(self) -> tuple[float, float]:
        """The span of the targets with a 10 % margin (regression colour scale)."""
        y = np.concatenate([self.y_train, self.y_test]).astype(np.float64)
        lo, hi = float(y.min()), float(y.max())
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        return lo - pad, hi + pad


#: name → (centre, scale, noise map): page coordinates are (x − centre)·scale, and the page's
# noise slider (0 … 0.5, TF Playground's 0 … 50 %) is turned into the set's own noise option.
VIEW = {
    "circle": (0.0, 1.0, lambda n: n),
    "xor": (0.0, 1.0, lambda n: n),
    "gauss": (0.0, 1.0, lambda n: n),
    "spiral": (0.0, 1.0, lambda n: n),
    "moons": ((0.5, 0.25), 3.0, lambda n: 0.05 + 0.5 * n),
    "blobs": (0.0, 1.0, lambda n: 0.5 + 4.0 * n),
    "spiral3": (0.0, 5.0, lambda n: 0.05 + 0.6 * n),
    "plane": (0.0, 5.0, lambda n: n),
    "gauss_bump": (0.0, 5.0 / 3.0, lambda n: 0.4 * n),
    "sin": (0.0, 1.0, lambda n: 0.8 * n),
}


def make_data(cfg: PlaygroundConfig, csv_text: tuple[str, str] | None = None) -> PlayData:
    """Build the data of ``cfg`` in page coordinates.

    Built-in sets come from :func:`mlplab.data.load_dataset` (``standardize=False``, no
    validation split, ``test_fraction = 1 − train_ratio``, every draw from ``cfg.seed``).
    ``csv_text`` is ``(file name, text)`` of an uploaded CSV, needed when ``cfg.dataset`` is
    ``"csv"``.
    """
    from mlplab.data import load_dataset

    test_fraction = round(1.0 - cfg.train_ratio, 6)
    if cfg.dataset == "csv":
        if csv_text is None:
            raise DataError("dataset is 'csv' but no CSV file has been uploaded yet")
        return csv_data(csv_text[0], csv_text[1], cfg.seed, test_fraction)
    centre, scale, noise_of = VIEW[cfg.dataset]
    options = {"n_classes": cfg.n_classes} if cfg.dataset == "blobs" else {}
    ds = load_dataset(
        cfg.dataset,
        seed=cfg.seed,
        n_samples=cfg.n_samples,
        noise=float(noise_of(cfg.noise)),
        val_fraction=0.0,
        test_fraction=test_fraction,
        standardize=False,
        **options,
    )
    c = np.asarray(centre, dtype=np.float64)
    return PlayData(
        name=cfg.dataset,
        task=ds.task,
        X_train=(ds.X_train - c) * scale,
        y_train=ds.y_train,
        X_test=(ds.X_test - c) * scale,
        y_test=ds.y_test,
        class_names=ds.class_names,
        note="" if scale == 1.0 else f"coordinates = (x − {centre}) × {scale:g}",
    )


def csv_data(name: str, text: str, seed: int, test_fraction: float) -> PlayData:
    """Read an uploaded CSV with :func:`mlplab.data.load_csv`: one or two feature columns and
    a label (a column named label/y/target/class, else the last one).

    ``name`` is the file name shown in messages, ``test_fraction`` the share held out."""
    from mlplab.data import load_csv

    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{name}: the file is empty (expected a header row and data rows)")
    if len(lines) - 1 > MAX_CSV_ROWS:
        raise DataError(f"{name}: {len(lines) - 1} data rows; the limit is {MAX_CSV_ROWS}")
    header = [h.strip() for h in next(csv.reader([lines[0]]), [])]
    if len(header) not in (2, 3):
        raise DataError(
            f"{name}: the playground needs two feature columns and a label (or one feature "
            f"and a label); the header has {len(header)} columns: {', '.join(header[:8])}"
        )
    target = next((h for h in header if h.lower() in ("label", "y", "target", "class")), None)
    target = target or header[-1]
    with tempfile.TemporaryDirectory(prefix="mlplab-playground-") as tmp:
        path = os.path.join(tmp, "upload.csv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            ds = load_csv(
                path,
                target,
                seed=seed,
                val_fraction=0.0,
                test_fraction=test_fraction,
                standardize=False,
            )
        except MlplabError as exc:
            raise DataError(str(exc).replace(path, name)) from None
    if ds.task not in ("binary", "multiclass", "regression"):
        raise DataError(
            f"{name}: label column {target!r} gives a {ds.task} task; the playground "
            "takes class labels or one numeric target"
        )
    if ds.task == "multiclass" and ds.n_classes > MAX_CLASSES:
        raise DataError(
            f"{name}: {ds.n_classes} classes in {target!r}; the playground draws at most "
            f"{MAX_CLASSES}"
        )
    if ds.n_features == 1 and ds.task == "multiclass":
        raise DataError(f"{name}: a one-feature CSV must be two-class or regression")
    if ds.task == "regression":
        y_all = np.concatenate([ds.y_train, ds.y_test]).astype(np.float64)
        big = float(np.max(np.abs(y_all))) if len(y_all) else 0.0
        if not big <= MAX_TARGET:
            raise DataError(
                f"{name}: label column {target!r} has values up to {big:.3g} in size; the "
                f"playground takes regression targets within ±{MAX_TARGET:g} (rescale the column)"
            )
    X_all = np.vstack([ds.X_train, ds.X_test])
    X_train, X_test = scale_to_box(ds.X_train, X_all), scale_to_box(ds.X_test, X_all)
    if not (np.all(np.isfinite(X_train)) and np.all(np.isfinite(X_test))):
        raise DataError(f"{name}: the feature columns hold values that are not finite numbers")
    return PlayData(
        name=name,
        task=ds.task,
        X_train=X_train,
        y_train=ds.y_train,
        X_test=X_test,
        y_test=ds.y_test,
        class_names=ds.class_names,
        note=f"features {', '.join(ds.feature_names)} scaled to [−5, 5]; label {target!r}",
        meta={"feature_names": ds.feature_names, "target": target, "rows": len(X_all)},
    )


def scale_to_box(X: np.ndarray, X_all: np.ndarray, half_width: float = 5.0) -> np.ndarray:
    """X moved and scaled per column so that ``X_all`` spans ``[−half_width, half_width]``.

    A constant column goes to 0.  Columns whose span overflows (values near ±1.8e308) are
    first divided by their largest magnitude, so every finite input gives finite output.
    """
    lo, hi = X_all.min(axis=0), X_all.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        span = hi - lo
    if not np.all(np.isfinite(span)):
        m = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), np.finfo(np.float64).tiny)
        return scale_to_box(X / m, X_all / m, half_width)
    centre = (lo + hi) / 2
    half = np.where(hi > lo, span / 2, 1.0)
    return (X - centre) * (half_width / half)


def feature_matrix(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The input features ``names`` (see :data:`FEATURE_LABELS`) of points X (n, 1 or 2)."""
    x1 = X[:, 0]
    x2 = X[:, 1] if X.shape[1] > 1 else np.zeros_like(x1)
    table = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1sq": lambda: x1 * x1,
        "x2sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sinx1": lambda: np.sin(x1),
        "sinx2": lambda: np.sin(x2),
    }
    return np.column_stack([table[n]() for n in names]).astype(np.float64)


def noise_option(dataset: str, noise: float) -> float | None:
    """The ``noise`` option of built-in set ``dataset`` for the page's slider value ``noise``
    (None for an uploaded CSV, which has no noise option)."""
    if dataset not in VIEW:
        return None
    return float(VIEW[dataset][2](noise))
