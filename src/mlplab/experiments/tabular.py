"""Gradient boosting vs an MLP on tabular data (C19, the text's sections 7.5 and 8.4).

scikit-learn's ``HistGradientBoostingClassifier`` / ``Regressor`` (LightGBM-style histogram
boosting) against an engine MLP on the tabular sets of :mod:`mlplab.data`.  Both get the same
information: they fit on the training split and use the validation split only to decide when
to stop (boosting: ``early_stopping`` on ``X_val``; MLP: early stopping on validation loss,
best weights restored).  Neither is tuned beyond that: boosting runs with scikit-learn's
defaults, the MLP with one standard setting for every set.  Scores are on the test split:
accuracy for classification, R² for regression.  Each seed draws a new split and a new init,
and the two models are compared on the same split (paired).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import fit
from mlplab.experiments.base import (
    FAILS,
    HOLDS,
    PARTLY,
    Experiment,
    Judgement,
    new_figure,
    register,
    stat,
)


@contextlib.contextmanager
def _openmp_like_blas():
    """Limit OpenMP (used by scikit-learn's boosting) to the BLAS thread limit in force.

    The runner caps BLAS threads per task before the experiment runs, but a library first
    loaded inside the experiment (scikit-learn's OpenMP runtime) is not covered by that cap;
    on a busy machine its default thread pool multiplies the CPU time many times over.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    if not blas:
        yield
        return
    with threadpool_limits(limits=min(blas), user_api="openmp"):
        yield


def _r2(pred, y) -> float:
    """Coefficient of determination ``1 − Σ(ŷ − y)² / Σ(y − ȳ)²``."""
    y = np.asarray(y, dtype=np.float64)
    return 1.0 - float(np.sum((pred - y) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def _boosting(ds, seed: int, settings) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingRegressor if ds.task == "regression" else HistGradientBoostingClassifier
    )
    model = cls(
        early_stopping=True,
        max_iter=settings["boost_max_iter"],
        n_iter_no_change=settings["patience"],
        random_state=seed,
    )
    with _openmp_like_blas():
        model.fit(ds.X_train, ds.y_train, X_val=ds.X_val, y_val=ds.y_val)
        pred = model.predict(ds.X_test)
    if ds.task == "regression":
        return _r2(pred, ds.y_test)
    return float(np.mean(pred == ds.y_test))


def _mlp(ds, rng, settings) -> float:
    f32 = np.float32
    X, Xv, Xt = (a.astype(f32) for a in (ds.X_train, ds.X_val, ds.X_test))
    hidden = settings["hidden"]
    if ds.task == "regression":
        mu, sd = float(ds.y_train.mean()), float(ds.y_train.std()) or 1.0
        y, yv = (ds.y_train - mu) / sd, (ds.y_val - mu) / sd
        head, out = "identity_mse", 1
    else:
        y, yv = ds.y_train, ds.y_val
        head = "sigmoid_bce" if ds.n_outputs == 1 else "softmax_ce"
        out = ds.n_outputs
    model = Network.from_sizes([X.shape[1], *hidden, out], "relu", head=head, rng=rng)
    fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=settings["lr"],
        epochs=settings["max_epochs"],
        batch_size=settings["batch_size"],
        validation=(Xv, yv),
        early_stopping=settings["patience"],
        rng=rng,
    )
    pred = np.asarray(model.predict(Xt))
    if ds.task == "regression":
        return _r2(pred.reshape(-1).astype(np.float64) * sd + mu, ds.y_test)
    return float(np.mean(pred.reshape(-1) == ds.y_test))


@register
class BoostingVsMLP(Experiment):
    """Test score of histogram gradient boosting and an MLP on each tabular set, paired by seed."""

    id = "C19"
    title = "Gradient boosting usually beats MLPs on tabular data"
    claim = "Gradient boosting usually beats MLPs on tabular data"
    section = "7.5, 8.4"
    measures = "MLP vs histogram gradient boosting on several tabular sets; win count"
    rule = (
        "Per set, the paired difference boosting − MLP of the test score (accuracy, or R² for "
        "regression), mean over seeds; a win needs the mean difference beyond the noise, 2 "
        "standard errors of the paired differences (at least 0.005), otherwise it is a tie. "
        "holds if boosting wins at least two thirds of the sets; partly if it wins more sets "
        "than it loses; fails otherwise."
    )
    profiles = {
        "tiny": {
            "sets": ["wine", "diabetes"],
            "hidden": [32, 32],
            "lr": 1e-3,
            "batch_size": 32,
            "max_epochs": 60,
            "patience": 10,
            "boost_max_iter": 100,
        },
        "quick": {
            "sets": ["breast_cancer", "wine", "diabetes", "tabular_irregular", "tabular_cls"],
            "hidden": [64, 64],
            "lr": 1e-3,
            "batch_size": 32,
            "max_epochs": 300,
            "patience": 20,
            "boost_max_iter": 500,
        },
        "full": {
            "sets": ["breast_cancer", "wine", "diabetes", "tabular_irregular", "tabular_cls"],
            "hidden": [128, 128],
            "lr": 1e-3,
            "batch_size": 32,
            "max_epochs": 500,
            "patience": 30,
            "boost_max_iter": 1000,
        },
    }
    cost = {"tiny": 0.5, "quick": 4.0, "full": 20.0}

    MIN_NOISE = 0.005

    def measure(self, settings, seeds, rng):
        from mlplab.data import load_dataset

        sets = {}
        for name in settings["sets"]:
            gb, mlp, task, sizes = [], [], None, None
            for seed in seeds:
                ds = load_dataset(name, seed=seed)
                task = ds.task
                sizes = [len(ds.X_train), len(ds.X_val), len(ds.X_test), ds.n_features]
                gb.append(_boosting(ds, seed, settings))
                mlp.append(_mlp(ds, self.seed_rng(seed), settings))
            sets[name] = {
                "task": task,
                "metric": "r2" if task == "regression" else "accuracy",
                "n_train_val_test_features": sizes,
                "boosting": stat(gb),
                "mlp": stat(mlp),
                "difference": stat([a - b for a, b in zip(gb, mlp)]),
            }
        return {"sets": sets}

    @classmethod
    def outcome(cls, diff: dict) -> tuple[str, float]:
        """``("win" | "tie" | "loss", noise)`` for boosting from the paired differences."""
        n = diff["n"]
        se = diff["std"] / math.sqrt(n) if n > 1 and diff["std"] is not None else 0.0
        noise = max(cls.MIN_NOISE, 2 * se)
        if diff["mean"] > noise:
            return "win", noise
        if diff["mean"] < -noise:
            return "loss", noise
        return "tie", noise

    def judge(self, m):
        S = m["sets"]
        res = {k: self.outcome(v["difference"]) for k, v in S.items()}
        wins = sum(r == "win" for r, _ in res.values())
        losses = sum(r == "loss" for r, _ in res.values())
        total = len(S)
        parts = ", ".join(
            f"{k} ({S[k]['metric']}) boosting {S[k]['boosting']['mean']:.3f} vs MLP "
            f"{S[k]['mlp']['mean']:.3f}: {res[k][0]} (noise ±{res[k][1]:.3f})"
            for k in S
        )
        text = (
            f"{parts}. Boosting wins {wins}, ties {total - wins - losses}, loses {losses} of "
            f"{total} sets"
        )
        if wins * 3 >= 2 * total:
            return Judgement(HOLDS, text + ".")
        if wins > losses:
            return Judgement(PARTLY, text + "; it wins more than it loses, but not usually.")
        return Judgement(FAILS, text + ".")

    def figures(self, m):
        S = m["sets"]
        names = list(S)
        fig, ax = new_figure(width=8.5, height=3.8)
        x = np.arange(len(names))
        for off, key, color in ((-0.2, "boosting", "tab:green"), (0.2, "mlp", "tab:blue")):
            means = [S[k][key]["mean"] for k in names]
            lo = [S[k][key]["mean"] - S[k][key]["min"] for k in names]
            hi = [S[k][key]["max"] - S[k][key]["mean"] for k in names]
            ax.bar(x + off, means, 0.4, yerr=[lo, hi], capsize=3, color=color, label=key)
            for xi, v in zip(x, means):
                ax.annotate(
                    f"{v:.3f}",
                    (xi + off, v),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        ax.set_xticks(x, [f"{k}\n({S[k]['metric']})" for k in names], fontsize=7)
        ax.set_ylim(0, 1.08)
        ax.set(
            ylabel="test score",
            title="Gradient boosting vs MLP (bars: mean; whiskers: min–max over seeds)",
        )
        ax.legend(fontsize=8, loc="lower left")
        return [("test score per tabular set", fig)]
