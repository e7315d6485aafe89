"""Metrics of a model on a split (via scikit-learn), the history as CSV, and the loss curves."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import evaluate

__all__ = ["is_scalar", "split_metrics", "history_csv", "plot_curves"]


def is_scalar(v) -> bool:
    """True for an int or float (not a bool): what a summary line can show."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def split_metrics(model: Network, X, y, task: str, class_names=None) -> dict:
    """Loss and task metrics of ``model`` on ``(X, y)``, via :mod:`sklearn.metrics`.

    binary/multiclass: ``accuracy``, ``balanced_accuracy``, ``f1_macro``, ``confusion_matrix``
    (rows = true class, columns = predicted, ``class_names`` order) and ``roc_auc`` (binary);
    multilabel: ``accuracy`` (per label), ``subset_accuracy``, ``hamming_loss``, ``f1_micro``,
    ``f1_macro`` and one 2×2 confusion matrix per label; regression: ``rmse``, ``mae``, ``r2``;
    count: ``deviance`` (mean Poisson deviance 2·[y log(y/ŷ) − (y − ŷ)]), ``d2`` (fraction of
    the null model's deviance explained), ``rmse``, ``mae``.

    A model whose outputs are not all finite (a run that diverged) still gets its metrics:
    ``nonfinite_outputs`` counts the rows concerned, predictions are made as usual (a NaN
    logit never wins), and the metrics that need finite outputs (``roc_auc``, ``rmse``,
    ``mae``, ``r2``, ``deviance``, ``d2``) are NaN (``null`` in JSON).
    """
    from sklearn import metrics as skm

    with np.errstate(all="ignore"):
        out = {"loss": float(evaluate(model, X, y)["loss"])}
        if len(X) == 0:
            return out
        z = np.asarray(model.forward(X), dtype=np.float64)
    bad_rows = int(np.sum(~np.all(np.isfinite(z.reshape(len(X), -1)), axis=1)))
    if bad_rows:
        out["nonfinite_outputs"] = bad_rows
        with np.errstate(all="ignore"):
            return _nonfinite_metrics(out, model, X, y, task, class_names)
    if task in ("binary", "multiclass"):
        y = np.asarray(y).astype(np.int64)
        pred = np.asarray(model.predict(X)).astype(np.int64)
        k = model.output_dim if model.output_dim > 1 else 2
        labels = list(range(k))
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["balanced_accuracy"] = float(
            np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])
        )
        out["f1_macro"] = float(
            skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)
        )
        out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
        if task == "binary" and len(np.unique(y)) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y, model.predict_proba(X)[:, 1]))
        out["class_names"] = (
            list(class_names) if class_names is not None else [str(c) for c in labels]
        )
    elif task == "multilabel":
        Y = np.asarray(y).astype(np.int64)
        P = np.asarray(model.predict(X)).astype(np.int64).reshape(Y.shape)
        out["accuracy"] = float(np.mean(P == Y))
        out["subset_accuracy"] = float(skm.accuracy_score(Y, P))
        out["hamming_loss"] = float(skm.hamming_loss(Y, P))
        out["f1_micro"] = float(skm.f1_score(Y, P, average="micro", zero_division=0))
        out["f1_macro"] = float(skm.f1_score(Y, P, average="macro", zero_division=0))
        out["confusion_matrices"] = skm.multilabel_confusion_matrix(Y, P).tolist()
        if class_names is not None:
            out["label_names"] = list(class_names)
    else:
        yt = np.asarray(y, dtype=np.float64)
        yhat = np.asarray(model.output(X), dtype=np.float64).reshape(yt.shape)
        out["rmse"] = float(np.sqrt(skm.mean_squared_error(yt, yhat)))
        out["mae"] = float(skm.mean_absolute_error(yt, yhat))
        if task == "regression":
            out["r2"] = float(skm.r2_score(yt, yhat)) if len(yt) > 1 else float("nan")
        else:
            rate = np.maximum(yhat, np.finfo(np.float64).tiny).ravel()
            out["deviance"] = float(skm.mean_poisson_deviance(yt.ravel(), rate))
            if len(yt) > 1:
                out["d2"] = float(skm.d2_tweedie_score(yt.ravel(), rate, power=1))
    return out


def _nonfinite_metrics(out: dict, model, X, y, task: str, class_names) -> dict:
    """The metrics :func:`split_metrics` can still give for outputs that are not all finite."""
    nan = float("nan")
    if task in ("binary", "multiclass", "multilabel"):
        z = np.nan_to_num(np.asarray(model.forward(X), dtype=np.float64), nan=-np.inf)
        y = np.asarray(y).astype(np.int64)
        if task == "multilabel" or z.shape[1] == 1:
            pred = (z > 0).astype(np.int64).reshape(y.shape)
        else:
            pred = np.argmax(z, axis=1)
        out["accuracy"] = float(np.mean(pred == y))
        if task == "binary":
            out["roc_auc"] = nan
        if class_names is not None:
            out["class_names" if task != "multilabel" else "label_names"] = list(class_names)
        return out
    out.update({"rmse": nan, "mae": nan})
    out["r2" if task == "regression" else "deviance"] = nan
    return out


def history_csv(records: list[dict]) -> str:
    """The history as CSV text: one row per epoch, one column per key (in first-seen order)."""
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    return buf.getvalue()


def plot_curves(records: list[dict], metric: str, title: str = "") -> bytes:
    """PNG bytes: loss (left) and ``metric`` (right) per epoch, train vs validation.

    Uses matplotlib's object API with the Agg canvas, so it never touches pyplot's global
    state or needs a display.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_metric = fig.subplots(1, 2)

    def series(key):
        pts = [(r["epoch"], r[key]) for r in records if _finite(r.get(key))]
        return [p[0] for p in pts], [p[1] for p in pts]

    for ax, keys, label in (
        (ax_loss, ("train_loss", "val_loss"), "loss"),
        (ax_metric, (f"train_{metric}", f"val_{metric}"), metric),
    ):
        drawn = False
        for key, style in zip(keys, ("-o", "-s")):
            xs, ys = series(key)
            if xs:
                ax.plot(xs, ys, style, ms=3, label=key.split("_")[0])
                drawn = True
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            ax.text(
                0.5, 0.5, f"no {label} recorded", ha="center", va="center", transform=ax.transAxes
            )
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
