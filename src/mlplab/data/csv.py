"""Read a numeric CSV file with a header row into a split :class:`~mlplab.data.splits.Dataset`.

Every problem is a :class:`~mlplab.errors.DataError` naming the file and, where the problem sits
in one cell, its line and column (1-based, counted as a text editor shows them), e.g.::

    data.csv, line 7, column 3 ('age'): non-numeric value 'n/a'
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from mlplab.data.splits import TASKS, Dataset, Raw, assemble, make_generator
from mlplab.errors import ConfigError, DataError, check_choice, check_range

__all__ = ["load_csv"]

_MAX_INFERRED_CLASSES = 20


def _read_table(name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return the header and the data rows as ``(line number, fields)``; blank lines skipped."""
    try:
        with open(name, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header, rows = None, []
            try:
                for fields in reader:
                    if not fields:
                        continue
                    if header is None:
                        header = fields
                        continue
                    if len(fields) != len(header):
                        raise DataError(_ragged_message(name, reader.line_num, fields, header))
                    rows.append((reader.line_num, fields))
            except csv.Error as exc:
                raise DataError(f"{name}, line {reader.line_num}: malformed CSV ({exc})") from None
    except FileNotFoundError:
        raise DataError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (bad byte at offset {exc.start})") from None
    if header is None:
        raise DataError(f"{name}: the file is empty (expected a header row and data rows)")
    if not rows:
        raise DataError(f"{name}: only a header row, no data rows")
    return header, rows


def _ragged_message(name: str, line: int, fields: list[str], header: list[str]) -> str:
    n, m = len(fields), len(header)
    if n < m:
        where = f"column {n + 1} ({header[n].strip()!r}) and after are missing"
    else:
        where = f"column {m + 1} and after are extra"
    return f"{name}, line {line}: {n} fields but the header has {m}; {where}"


def _check_header(name: str, header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    seen = set()
    for col, column in enumerate(names, start=1):
        if not column:
            raise DataError(f"{name}, line 1, column {col}: empty column name in the header")
        if column in seen:
            raise DataError(f"{name}, line 1, column {col}: duplicate column name {column!r}")
        seen.add(column)
    return names


def _where(name: str, line: int, col: int, column: str) -> str:
    return f"{name}, line {line}, column {col + 1} ({column!r})"


def _numeric_column(name, rows, col: int, column: str) -> np.ndarray:
    """Parse column ``col`` of every row as a finite float; shape (n_rows,)."""
    values = np.empty(len(rows))
    for i, (line, fields) in enumerate(rows):
        text = fields[col].strip()
        try:
            value = float(text)
        except ValueError:
            what = "empty value" if not text else f"non-numeric value {text!r}"
            raise DataError(f"{_where(name, line, col, column)}: {what}") from None
        if not math.isfinite(value):
            raise DataError(f"{_where(name, line, col, column)}: {text!r} is not a finite number")
        values[i] = value
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _class_ids(values) -> tuple[np.ndarray, list[str]]:
    """Map labels to ids 0..K−1 in sorted order; the names are the labels as strings."""
    classes, ids = np.unique(values, return_inverse=True)
    if classes.dtype.kind == "f":
        names = [str(int(c)) if float(c).is_integer() else repr(float(c)) for c in classes]
    else:
        names = [str(c) for c in classes]
    return ids.astype(np.int64), names


def load_csv(
    path,
    target,
    *,
    task: str | None = None,
    seed=0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    standardize: bool = True,
) -> Dataset:
    """Read a CSV file with a header row into a split Dataset.

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text read with the standard :mod:`csv` module; blank lines are skipped.
    target : str or list of str
        The target column(s).  All other columns are features and must be numeric.
    task : {"binary", "multiclass", "multilabel", "regression", "count"}, optional
        Inferred when None: one target that is integer-valued with at most 20 distinct values
        or non-numeric → binary (2 classes) or multiclass; several targets all 0/1 →
        multilabel; anything else → regression.
    seed : int or numpy.random.Generator
        For the split.
    val_fraction, test_fraction : float
        Fractions of the rows put into the validation and test splits (stratified for
        classification where possible).
    standardize : bool
        z-score the features with the training split's mean and standard deviation.

    Returns
    -------
    Dataset
        Named after the file.  For classification ``y`` holds ids 0..K−1 of the sorted
        distinct labels and ``class_names`` the labels as strings; for multilabel
        ``class_names`` are the target columns.  ``meta['target_names']`` lists the targets.

    Raises
    ------
    DataError
        Naming the file, and the line and column where one cell is at fault: missing or empty
        file, header only, ragged row, empty or duplicate column name, missing target column
        (the message lists the columns), non-numeric or non-finite value, a target with a
        single class, labels that do not fit the requested task.
    """
    name = str(path)
    targets = [target] if isinstance(target, str) else list(target)
    if not targets:
        raise ConfigError("target must name at least one column")
    if len(set(targets)) != len(targets):
        raise ConfigError(f"target names a column twice: {targets}")
    if task is not None:
        check_choice("task", task, TASKS)
    check_range("val_fraction", val_fraction, 0.0, 1.0, hi_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0, hi_open=True)
    rng = make_generator(seed)

    header, rows = _read_table(name)
    columns = _check_header(name, header)
    missing = [t for t in targets if t not in columns]
    if missing:
        raise DataError(
            f"{name}: no target column {', '.join(map(repr, missing))}; "
            f"the columns are {', '.join(columns)}"
        )
    target_cols = [columns.index(t) for t in targets]
    feature_cols = [c for c in range(len(columns)) if c not in target_cols]
    if not feature_cols:
        raise DataError(f"{name}: no feature columns besides the target(s)")

    X = np.column_stack([_numeric_column(name, rows, c, columns[c]) for c in feature_cols])
    task, y, class_names = _target(name, rows, target_cols, columns, task)
    raw = Raw(
        X,
        y,
        [columns[c] for c in feature_cols],
        class_names,
        meta={"source": name, "target_names": targets},
    )
    return assemble(
        Path(name).name,
        task,
        raw,
        rng,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        standardize=standardize,
    )


def _target(name, rows, target_cols, columns, task):
    """Parse the target column(s) and settle the task: ``(task, y, class_names)``."""
    if len(target_cols) == 1:
        col = target_cols[0]
        cells = [fields[col].strip() for _, fields in rows]
        categorical = not all(_is_number(cell) for cell in cells)
        if categorical and task in (None, "binary", "multiclass"):
            for (line, _), cell in zip(rows, cells):
                if not cell:
                    raise DataError(f"{_where(name, line, col, columns[col])}: empty target value")
            return _classes(name, columns[col], np.array(cells), task)
        values = _numeric_column(name, rows, col, columns[col])
        if task is None:
            few = len(np.unique(values)) <= _MAX_INFERRED_CLASSES
            if few and np.all(values == np.round(values)):
                return _classes(name, columns[col], values, None)
            task = "regression"
        if task in ("binary", "multiclass"):
            return _classes(name, columns[col], values, task)
        Y = values[:, None]
    else:
        if task in ("binary", "multiclass"):
            raise DataError(
                f"{name}: task {task} takes one target column; got {len(target_cols)} "
                "(use multilabel or regression)"
            )
        Y = np.column_stack([_numeric_column(name, rows, c, columns[c]) for c in target_cols])
        if task is None:
            task = "multilabel" if np.all((Y == 0) | (Y == 1)) else "regression"

    if task == "multilabel":
        _require(name, rows, Y, target_cols, columns, (Y == 0) | (Y == 1), "a 0/1 label")
    elif task == "count":
        _require(name, rows, Y, target_cols, columns, Y >= 0, "a non-negative count")
    class_names = [columns[c] for c in target_cols] if task == "multilabel" else None
    y = Y[:, 0] if Y.shape[1] == 1 and task != "multilabel" else Y
    return task, y, class_names


def _classes(name, column, labels, task):
    """Class ids for one target column, checking the class count against the task."""
    ids, class_names = _class_ids(labels)
    k = len(class_names)
    if k < 2:
        raise DataError(
            f"{name}: target column {column!r} has a single class {class_names[0]!r}; "
            "classification needs at least two"
        )
    if task == "binary" and k != 2:
        raise DataError(
            f"{name}: task binary needs 2 classes in {column!r}; got {k}: {', '.join(class_names)}"
        )
    if task is None:
        task = "binary" if k == 2 else "multiclass"
    return task, ids, class_names


def _require(name, rows, Y, target_cols, columns, ok, what: str):
    """Raise at the first cell of Y (n, k) where ``ok`` is False."""
    if np.all(ok):
        return
    i, j = np.argwhere(~ok)[0]
    col = target_cols[j]
    raise DataError(f"{_where(name, rows[i][0], col, columns[col])}: {Y[i, j]:g} is not {what}")
