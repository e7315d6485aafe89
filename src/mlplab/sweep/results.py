"""A sweep's results: the table (CSV and JSON), the best trial, and figures.

Everything is read back from the trials' run folders (``metrics.json``, ``history.json``), so
the table is complete after a resume and never depends on what Ray Tune kept.

Table rows: ``trial``, one column per swept setting, ``status`` (finished / stopped (ASHA) /
error / pending), ``epochs``, the last epoch's ``train_loss``/``val_loss`` and the sweep's
``metric``, every scalar ``test_*`` metric, ``seconds`` (training time, summed over epochs) and
``run`` (the run folder).  The best trial is the finished or stopped one with the best final
``metric``; ``best_setting`` averages the metric over seeds first (the fair comparison).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from mlplab import runs
from mlplab.io import atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_dir
from mlplab.sweep.tuning import read_status, trial_folder

__all__ = ["collect", "best_trials", "write_results", "plot_setting"]


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shown(value):
    """A setting as a table cell: lists as ``256x256``."""
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    return value


def collect(sweep_dir, spec: dict) -> list[dict]:
    """One row per trial of ``spec`` (see the module docstring)."""
    status = read_status(sweep_dir)
    metric = spec["metric"]
    rows = []
    for trial in spec["trials"]:
        folder = trial_folder(sweep_dir, trial["id"])
        row = {"trial": trial["id"]}
        row.update({k: _shown(v) for k, v in trial["settings"].items()})
        metrics = _read_json(folder / runs.RunDir.METRICS)
        history = _read_json(folder / runs.RunDir.HISTORY_JSON) or {}
        records = history.get("records") or []
        st = status.get(trial["id"], {})
        if metrics is not None:
            row["status"] = "stopped (ASHA)" if st.get("status") == "stopped" else "finished"
        else:
            row["status"] = "error" if st.get("status") == "error" else "pending"
        row["epochs"] = len(records)
        last = records[-1] if records else {}
        for key in dict.fromkeys(("train_loss", "val_loss", metric)):
            row[key] = last.get(key)
        for k, v in (metrics or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n":
                row[f"test_{k}"] = v
        row["seconds"] = float(sum(r.get("seconds", 0.0) for r in records))
        row["run"] = str(folder)
        if st.get("error"):
            row["error"] = st["error"]
        rows.append(row)
    return rows


def _value(row, metric):
    v = row.get(metric)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def best_trials(rows: list[dict], spec: dict) -> dict:
    """``{"best_trial": row, "best_setting": {...settings, "mean", "seeds"}}`` (None when no
    trial has a value of the metric)."""
    metric, sign = spec["metric"], (1 if spec["mode"] == "min" else -1)
    scored = [r for r in rows if r["status"] != "error" and _value(r, metric) is not None]
    best = min(scored, key=lambda r: sign * _value(r, metric), default=None)
    swept = [a["name"] for a in spec["axes"] if a["name"] != "seed"]
    groups: dict[tuple, list[float]] = {}
    for r in scored:
        groups.setdefault(tuple(json.dumps(r.get(k)) for k in swept), []).append(_value(r, metric))
    best_setting = None
    if groups:
        key = min(groups, key=lambda k: sign * float(np.mean(groups[k])))
        best_setting = {k: json.loads(v) for k, v in zip(swept, key)}
        best_setting.update(mean=float(np.mean(groups[key])), seeds=len(groups[key]))
    return {
        "metric": metric,
        "mode": spec["mode"],
        "best_trial": best,
        "best_setting": best_setting,
    }


def plot_setting(rows: list[dict], name: str, metric: str, *, log: bool = False) -> bytes:
    """PNG: ``metric`` against the swept setting ``name``: each trial a dot, and per value the
    mean of its trials (every seed, and every value of the other axes) as a line with their
    min–max as a bar; with only seeds besides ``name`` that bar is the seed spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r.get(name), _value(r, metric)) for r in rows if _value(r, metric) is not None]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x, _ in pts)
    labels = sorted({json.dumps(x) for x, _ in pts}, key=lambda s: (len(s), s))
    if numeric:
        labels = sorted({x for x, _ in pts})
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    pos = {lab: (lab if numeric else i) for i, lab in enumerate(labels)}
    xs = [pos[x if numeric else json.dumps(x)] for x, _ in pts]
    ax.scatter(xs, [y for _, y in pts], s=18, alpha=0.6, label="trial")
    if len(labels) <= 30:
        means, lo, hi = [], [], []
        for lab in labels:
            ys = [y for x, y in pts if (x if numeric else json.dumps(x)) == lab]
            means.append(np.mean(ys))
            lo.append(np.mean(ys) - min(ys))
            hi.append(max(ys) - np.mean(ys))
        xl = [pos[lab] for lab in labels]
        ax.errorbar(xl, means, yerr=[lo, hi], fmt="-o", color="C1", capsize=3,
                    label="mean of its trials (bar: min–max)")  # fmt: skip
    if not numeric:
        ax.set_xticks(range(len(labels)), [str(json.loads(s)).replace(" ", "") for s in labels])
    if log and numeric:
        ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_results(sweep_dir, spec: dict) -> dict:
    """Write results.csv, results.json, best.json and figures/<setting>.png; return
    ``{"rows", "best", "paths"}``."""
    sweep_dir = Path(sweep_dir)
    rows = collect(sweep_dir, spec)
    best = best_trials(rows, spec)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    paths = {"csv": str(sweep_dir / "results.csv"), "json": str(sweep_dir / "results.json"),
             "best": str(sweep_dir / "best.json"), "figures": []}  # fmt: skip
    atomic_write_text(paths["csv"], buf.getvalue())
    atomic_write_json(paths["json"], {"metric": spec["metric"], "mode": spec["mode"],
                                      "trials": rows})  # fmt: skip
    atomic_write_json(paths["best"], best)
    ensure_dir(sweep_dir / "figures")
    for axis in spec["axes"]:
        if axis["name"] == "seed":
            continue
        png = plot_setting(rows, axis["name"], spec["metric"], log=axis["kind"] == "log"
                           or _log_spaced(axis))  # fmt: skip
        path = sweep_dir / "figures" / f"{axis['name']}.png"
        atomic_write_bytes(path, png)
        paths["figures"].append(str(path))
    return {"rows": rows, "best": best, "paths": paths}


def _log_spaced(axis: dict) -> bool:
    """A grid of positive numbers spanning a factor of 100 or more is drawn on a log axis."""
    vals = axis.get("values") or []
    if not vals or not all(isinstance(v, (int, float)) and v > 0 for v in vals):
        return False
    return max(vals) / min(vals) >= 100
