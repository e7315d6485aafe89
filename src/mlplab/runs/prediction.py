"""Using a finished run: metrics on a split of its own or another data set, predictions for the
rows of a CSV file."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

import numpy as np

from mlplab.errors import DataError, check_choice
from mlplab.runs.building import load_data
from mlplab.runs.folder import RunDir
from mlplab.runs.metrics import split_metrics
from mlplab.runs.settings import RunConfig, is_csv
from mlplab.runs.workflow import resolved_saved, same_data

__all__ = ["evaluate_run", "read_feature_csv", "predict_csv"]


def evaluate_run(
    path, *, dataset: str | None = None, target=None, data_dir=None, split: str = "test"
) -> dict:
    """Metrics of a saved run on a split of its own data set or of another one.

    For its own data set the splits are rebuilt from the saved settings (same arrays).  For
    another data set (or CSV file) the raw inputs are read and mapped with the run's saved
    scaler; features are matched by name where the names agree, class labels by class name.
    """
    check_choice("--split", split, ["train", "val", "test"])
    run_dir = RunDir.open(path)
    spec = run_dir.read_spec()
    cfg = RunConfig.from_dict(spec["config"], source=str(run_dir.spec_path))
    model, source = run_dir.load_model()
    own = dataset is None or (
        dataset == cfg.dataset and target in (None, cfg.target) and data_dir in (None, cfg.data_dir)
    )
    if own:
        ds = same_data(
            resolved_saved(cfg, run_dir),
            spec,
            consequence="its metrics would score other rows than the run's own splits",
        )
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
    else:
        other = dataclasses.replace(
            cfg,
            dataset=str(Path(dataset).resolve()) if is_csv(dataset) else dataset,
            target=target if target is not None else (cfg.target if is_csv(dataset) else None),
            data_dir=data_dir,
            subset=None,
            noise=None,
        )
        ds = load_data(other, standardize=False)
        X, y = _align(ds, split, spec["data"], run_dir)
    task = spec["data"]["task"]
    fits = ds.task == task or (task, ds.task) in (("multiclass", "binary"), ("count", "regression"))
    if not fits:
        raise DataError(f"{ds.name} is a {ds.task} data set; the run was trained for {task}")
    metrics = split_metrics(model, X, y, task, spec["data"].get("class_names"))
    return {
        "run": str(run_dir.path),
        "weights": source,
        "dataset": ds.name,
        "split": split,
        "n": len(X),
        **metrics,
    }


def _align(ds, split: str, data: dict, run_dir: RunDir):
    """Inputs of another data set in the run's feature order and space; labels as run ids."""
    X = getattr(ds, f"X_{split}")
    y = getattr(ds, f"y_{split}")
    names = data["feature_names"]
    if list(ds.feature_names) != names:
        if set(ds.feature_names) == set(names):
            X = X[:, [list(ds.feature_names).index(n) for n in names]]
        elif len(ds.feature_names) != len(names):
            raise DataError(
                f"{ds.name} has {len(ds.feature_names)} features; the run was trained on "
                f"{len(names)} ({', '.join(names[:8])}{' …' if len(names) > 8 else ''})"
            )
    X = run_dir.transform(X)
    classes = data.get("class_names")
    if ds.task in ("binary", "multiclass") and classes and ds.class_names:
        unknown = [c for c in ds.class_names if c not in classes]
        if unknown:
            raise DataError(
                f"{ds.name} has class(es) {', '.join(unknown)} the run does not know "
                f"(its classes: {', '.join(classes)})"
            )
        remap = np.array([classes.index(c) for c in ds.class_names], dtype=np.int64)
        y = remap[y]
    return X, y


def read_feature_csv(path, feature_names: list[str], *, ignore=()) -> np.ndarray:
    """Read the feature columns of a CSV file (header row) as float64, in the given order.

    Columns in ``ignore`` (e.g. the targets) are skipped; any other unknown column, a missing
    feature, a ragged row or a non-numeric cell raises DataError naming line and column.
    """
    name = str(path)
    try:
        with open(name, newline="", encoding="utf-8-sig") as fh:
            rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1) if r]
    except FileNotFoundError:
        raise DataError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a folder, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{name}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{name}: the file is empty (expected a header row)")
    header = [h.strip() for h in rows[0][1]]
    missing = [f for f in feature_names if f not in header]
    if missing:
        raise DataError(
            f"{name}: missing feature column(s) {', '.join(missing[:8])}"
            f"{' …' if len(missing) > 8 else ''}; the model needs {len(feature_names)} features"
        )
    extra = [h for h in header if h not in feature_names and h not in ignore]
    if extra:
        raise DataError(
            f"{name}: unexpected column(s) {', '.join(extra[:8])}; the model was trained on "
            f"the features {', '.join(feature_names[:8])}{' …' if len(feature_names) > 8 else ''}"
        )
    cols = [header.index(f) for f in feature_names]
    X = np.empty((len(rows) - 1, len(cols)), dtype=np.float64)
    for r, (line, fields) in enumerate(rows[1:]):
        if len(fields) != len(header):
            raise DataError(
                f"{name}, line {line}: {len(fields)} fields but the header has {len(header)}"
            )
        for j, c in enumerate(cols):
            try:
                v = float(fields[c])
            except ValueError:
                raise DataError(
                    f"{name}, line {line}, column {c + 1} ({header[c]!r}): "
                    f"non-numeric value {fields[c]!r}"
                ) from None
            if not math.isfinite(v):
                raise DataError(f"{name}, line {line}, column {c + 1} ({header[c]!r}): value {v}")
            X[r, j] = v
    return X


def predict_csv(path, csv_path) -> str:
    """Predictions of a saved run for the rows of a CSV file, as CSV text.

    Columns: classification ``prediction`` (class name) and ``p_<class>`` per class;
    multilabel one 0/1 column per label and ``p_<label>``; regression and counts one column
    per target (``prediction`` when the target has no name).  Inputs are raw: the run's saved
    scaler is applied.
    """
    run_dir = RunDir.open(path)
    spec = run_dir.read_spec()
    data = spec["data"]
    model, _ = run_dir.load_model()
    targets = data.get("target_names") or []
    X = run_dir.transform(read_feature_csv(csv_path, data["feature_names"], ignore=targets))
    task = model.head.task
    fmt = "{:.9g}" if model.dtype == np.float32 else "{!r}"

    def num(v):
        return fmt.format(float(v))

    classes = data.get("class_names")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if task in ("binary", "multiclass"):
        proba = model.predict_proba(X)
        names = classes or [str(k) for k in range(proba.shape[1])]
        pred = np.asarray(model.predict(X)).astype(np.int64)
        w.writerow(["prediction", *[f"p_{c}" for c in names]])
        for k, p in zip(pred, proba):
            w.writerow([names[k], *map(num, p)])
    elif task == "multilabel":
        proba = model.predict_proba(X)
        pred = np.asarray(model.predict(X)).astype(np.int64).reshape(proba.shape)
        names = classes or [f"label{j}" for j in range(proba.shape[1])]
        w.writerow([*names, *[f"p_{c}" for c in names]])
        for labels, p in zip(pred, proba):
            w.writerow([*labels.tolist(), *map(num, p)])
    else:
        out = np.asarray(model.output(X)).reshape(len(X), -1)
        names = (
            targets
            if len(targets) == out.shape[1]
            else (
                ["prediction"]
                if out.shape[1] == 1
                else [f"prediction_{j}" for j in range(out.shape[1])]
            )
        )
        w.writerow(names)
        for row in out:
            w.writerow(list(map(num, row)))
    return buf.getvalue()
