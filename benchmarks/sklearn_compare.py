"""mlplab's MLPs against scikit-learn's, defaults against defaults, on the data sets bundled with
scikit-learn (and three generated ones).

For each data set and seed s = 0..4: the same stratified (classification) 75/25 split
``train_test_split(..., test_size=0.25, random_state=s)``, ``StandardScaler()`` in front of each
model, each model with ``random_state=s`` and every other parameter at its default.  The score
is the estimator's own ``score`` on the test part (accuracy, or R² averaged over outputs).

The verdict per data set: ``ok`` when mlplab's mean score is at least scikit-learn's mean minus
scikit-learn's seed noise (the standard deviation of its five scores); on the regression sets
mlplab must also be better (higher mean).  The fit-time ratio is mlplab's median CPU seconds
(``time.process_time``, which counts every thread of the process) over scikit-learn's.

    .venv/bin/python benchmarks/sklearn_compare.py [--seeds 5] [--only iris,diabetes] [--json F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlplab.sklearn import MLPClassifier, MLPRegressor


def _generated(name):
    if name == "make_classification":
        return datasets.make_classification(n_samples=1000, n_features=20, random_state=0)
    if name == "make_moons":
        return datasets.make_moons(n_samples=1000, noise=0.25, random_state=0)
    return datasets.make_regression(n_samples=1000, n_features=20, noise=10.0, random_state=0)


#: name → (loader, task)
DATASETS = {
    "iris": (lambda: datasets.load_iris(return_X_y=True), "classification"),
    "wine": (lambda: datasets.load_wine(return_X_y=True), "classification"),
    "breast_cancer": (lambda: datasets.load_breast_cancer(return_X_y=True), "classification"),
    "digits": (lambda: datasets.load_digits(return_X_y=True), "classification"),
    "make_classification": (lambda: _generated("make_classification"), "classification"),
    "make_moons": (lambda: _generated("make_moons"), "classification"),
    "diabetes": (lambda: datasets.load_diabetes(return_X_y=True), "regression"),
    "linnerud": (lambda: datasets.load_linnerud(return_X_y=True), "regression"),
    "make_regression": (lambda: _generated("make_regression"), "regression"),
}


def run_one(name: str, seed: int) -> dict:
    """Both systems on one split: scores, CPU seconds of fit, ConvergenceWarnings."""
    load, task = DATASETS[name]
    X, y = load()
    strat = y if task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=strat
    )
    out = {}
    pair = (
        (SkClassifier, MLPClassifier) if task == "classification" else (SkRegressor, MLPRegressor)
    )
    for system, cls in zip(("sklearn", "mlplab"), pair, strict=True):
        model = make_pipeline(StandardScaler(), cls(random_state=seed))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.process_time()
            model.fit(X_tr, y_tr)
            cpu = time.process_time() - t0
        out[system] = {
            "score": float(model.score(X_te, y_te)),
            "cpu_s": cpu,
            "n_iter": int(model[-1].n_iter_),
            "convergence_warning": any(issubclass(w.category, ConvergenceWarning) for w in caught),
        }
    return out


def summarise(name: str, runs: list[dict]) -> dict:
    """Mean and seed noise per system, the verdict and the CPU-time ratio."""
    task = DATASETS[name][1]
    row = {"data set": name, "task": task, "seeds": len(runs)}
    for system in ("sklearn", "mlplab"):
        scores = [r[system]["score"] for r in runs]
        row[system] = {
            "mean": statistics.fmean(scores),
            "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "scores": scores,
            "median_cpu_s": statistics.median(r[system]["cpu_s"] for r in runs),
            "median_n_iter": statistics.median(r[system]["n_iter"] for r in runs),
        }
    sk, ml = row["sklearn"], row["mlplab"]
    ok = ml["mean"] >= sk["mean"] - sk["std"]
    if task == "regression":
        ok = ok and ml["mean"] > sk["mean"]
    row["ok"] = bool(ok)
    row["cpu_ratio"] = ml["median_cpu_s"] / sk["median_cpu_s"] if sk["median_cpu_s"] else None
    return row


def markdown(rows: list[dict]) -> str:
    """The table for BENCHMARKS.md."""
    lines = [
        "| data set | metric | scikit-learn (mean ± sd) | mlplab (mean ± sd) | Δ mean | verdict "
        "| epochs (median) sklearn / mlplab | fit CPU-time ratio mlplab/sklearn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sk, ml = r["sklearn"], r["mlplab"]
        metric = "accuracy" if r["task"] == "classification" else "R²"
        lines.append(
            f"| {r['data set']} | {metric} | {sk['mean']:.3f} ± {sk['std']:.3f} "
            f"| {ml['mean']:.3f} ± {ml['std']:.3f} | {ml['mean'] - sk['mean']:+.3f} "
            f"| {'ok' if r['ok'] else 'SHORT'} "
            f"| {sk['median_n_iter']:g} / {ml['median_n_iter']:g} | {r['cpu_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run every data set (or ``--only``) for ``--seeds`` seeds and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated data set names")
    ap.add_argument("--json", default=None, help="also write every score and time here")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(DATASETS)
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        ap.error(f"unknown data set(s) {unknown}; choose from {', '.join(DATASETS)}")
    rows = []
    for name in names:
        runs = [run_one(name, s) for s in range(args.seeds)]
        rows.append(summarise(name, runs))
        r = rows[-1]
        print(
            f"{name}: sklearn {r['sklearn']['mean']:.4f} ± {r['sklearn']['std']:.4f}, "
            f"mlplab {r['mlplab']['mean']:.4f} ± {r['mlplab']['std']:.4f}, "
            f"{'ok' if r['ok'] else 'SHORT'}, CPU ratio {r['cpu_ratio']:.2f}",
            flush=True,
        )
    print()
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
