"""Gradient boosting vs an MLP on tabular data (C19, the text's sections 7.5 and 8.4).

scikit-learn's ``HistGradientBoostingClassifier`` / ``Regressor`` (LightGBM-style histogram
boosting) against an engine MLP.  The *real* sets are every tabular set scikit-learn ships
offline (:data:`REAL_SETS`: iris, wine, breast cancer, diabetes; :data:`NOT_TABULAR` names the
bundled sets left out and why); the *synthetic* sets of :mod:`mlplab.data` are counted apart
and labelled by what they favour (:data:`SYNTHETIC_SETS`).  Both models get the same tuning
budget: a grid of the same size (:data:`MLP_GRID`, :data:`BOOST_GRID`), every point early-
stopped on the validation split, the point with the best validation score kept.  Scores are
on the test split: accuracy for classification, R² for regression.  Each seed draws a new
split and a new init, and the two models are compared on the same split (paired).
"""

from __future__ import annotations

import contextlib

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import fit
from mlplab.experiments.base import (
    FAILS,
    HOLDS,
    PARTLY,
    Experiment,
    Judgement,
    margin_text,
    new_figure,
    paired,
    register,
    short_stat,
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


#: Every tabular set bundled with scikit-learn (no download): name → (loader, task).
REAL_SETS = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}
#: Sets bundled with the installed libraries that are not used, with the reason.
NOT_TABULAR = {
    "digits": "8×8 image pixels, not tabular features",
    "linnerud": "20 rows: too few for a train/validation/test split",
    "sample_images": "photographs",
}
#: Synthetic sets of mlplab.data and what their construction favours.
SYNTHETIC_SETS = {
    "tabular_irregular": "tree-friendly: target built from axis-aligned thresholds",
    "tabular_cls": "neutral: Gaussian clusters (sklearn make_classification), no thresholds",
}
#: The tuning grids: the same number of points for both models.
MLP_GRID = [
    {"hidden": [64, 64], "lr": 1e-3},
    {"hidden": [64, 64], "lr": 3e-3},
    {"hidden": [256, 256], "lr": 1e-3},
    {"hidden": [256, 256], "lr": 3e-3},
]
BOOST_GRID = [
    {"learning_rate": 0.05, "max_leaf_nodes": 15},
    {"learning_rate": 0.05, "max_leaf_nodes": 63},
    {"learning_rate": 0.1, "max_leaf_nodes": 15},
    {"learning_rate": 0.1, "max_leaf_nodes": 63},
]


class _Split:
    """A train/validation/test split of a real set (features z-scored on the train part)."""

    def __init__(self, name: str, seed: int, fractions=(0.6, 0.2, 0.2)):
        from sklearn import datasets as skd
        from sklearn.model_selection import train_test_split

        loader, self.task = REAL_SETS[name]
        bunch = getattr(skd, loader)()
        X = np.asarray(bunch.data, dtype=np.float64)
        y = np.asarray(bunch.target)
        cls = self.task == "classification"
        y = y.astype(np.int64) if cls else y.astype(np.float64)
        rest = fractions[1] + fractions[2]
        X_tr, X_rest, y_tr, y_rest = train_test_split(
            X, y, test_size=rest, random_state=seed, stratify=y if cls else None
        )
        X_va, X_te, y_va, y_te = train_test_split(
            X_rest,
            y_rest,
            test_size=fractions[2] / rest,
            random_state=seed,
            stratify=y_rest if cls else None,
        )
        mu, sd = X_tr.mean(0), X_tr.std(0)
        sd[sd == 0] = 1.0
        self.X_train, self.X_val, self.X_test = ((a - mu) / sd for a in (X_tr, X_va, X_te))
        self.y_train, self.y_val, self.y_test = y_tr, y_va, y_te
        k = int(y.max()) + 1 if cls else 1
        self.n_outputs = (1 if k == 2 else k) if cls else 1
        self.n_features = X.shape[1]
        if self.task == "classification" and k == 2:
            self.task = "binary"


def _boosting(ds, seed: int, settings, point: dict) -> tuple[float, float]:
    """(validation score, test score) of boosting at one grid point."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingRegressor if ds.task == "regression" else HistGradientBoostingClassifier
    )
    model = cls(
        early_stopping=True,
        max_iter=settings["boost_max_iter"],
        n_iter_no_change=settings["patience"],
        random_state=seed,
        **point,
    )
    with _openmp_like_blas():
        model.fit(ds.X_train, ds.y_train, X_val=ds.X_val, y_val=ds.y_val)
        pv, pt = model.predict(ds.X_val), model.predict(ds.X_test)
    return _metric(pv, ds.y_val, ds.task), _metric(pt, ds.y_test, ds.task)


def _metric(pred, y, task: str) -> float:
    if task == "regression":
        return _r2(np.asarray(pred, dtype=np.float64).reshape(-1), y)
    return float(np.mean(np.asarray(pred).reshape(-1) == y))


def _mlp(ds, rng, settings, point: dict) -> tuple[float, float]:
    """(validation score, test score) of the MLP at one grid point (early-stopped, best
    weights restored)."""
    f32 = np.float32
    X, Xv, Xt = (np.asarray(a, dtype=f32) for a in (ds.X_train, ds.X_val, ds.X_test))
    if ds.task == "regression":
        mu, sd = float(ds.y_train.mean()), float(ds.y_train.std()) or 1.0
        y, yv = (ds.y_train - mu) / sd, (ds.y_val - mu) / sd
        head, out = "identity_mse", 1
    else:
        mu, sd = 0.0, 1.0
        y, yv = ds.y_train, ds.y_val
        head = "sigmoid_bce" if ds.n_outputs == 1 else "softmax_ce"
        out = ds.n_outputs
    model = Network.from_sizes([X.shape[1], *point["hidden"], out], "relu", head=head, rng=rng)
    fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=point["lr"],
        epochs=settings["max_epochs"],
        batch_size=settings["batch_size"],
        validation=(Xv, yv),
        early_stopping=settings["patience"],
        rng=rng,
    )

    def score(Xs, ys):
        pred = np.asarray(model.predict(Xs))
        if ds.task == "regression":
            pred = pred.reshape(-1).astype(np.float64) * sd + mu
        return _metric(pred, ys, ds.task)

    return score(Xv, ds.y_val), score(Xt, ds.y_test)


def _load(name: str, seed: int):
    if name in REAL_SETS:
        return _Split(name, seed)
    from mlplab.data import load_dataset

    return load_dataset(name, seed=seed)


def _tuned(runs: list[tuple[float, float]]) -> tuple[int, float]:
    """(index of the best validation score — first on a tie —, its test score)."""
    i = max(range(len(runs)), key=lambda j: runs[j][0])
    return i, runs[i][1]


@register
class BoostingVsMLP(Experiment):
    """Test score of tuned histogram gradient boosting and a tuned MLP on every real tabular
    set shipped offline and on synthetic sets (counted apart), paired by seed.  One cell per
    (set, seed)."""

    id = "C19"
    title = "Gradient boosting usually beats MLPs on tabular data"
    claim = "Gradient boosting usually beats MLPs on tabular data"
    section = "7.5, 8.4"
    measures = (
        "tuned MLP vs tuned histogram gradient boosting on every real tabular set shipped "
        "offline (synthetic sets apart); win count"
    )
    MIN_NOISE = 0.005
    USUALLY = 2 / 3
    rule = (
        f"Each model is tuned on the validation split over a grid of {len(MLP_GRID)} points "
        "(MLP: width 64/256 × learning rate 1e-3/3e-3; boosting: learning rate 0.05/0.1 × "
        "15/63 leaves), every point early-stopped on validation. Per set, the paired test-score "
        "difference boosting − MLP (accuracy, or R² for regression) with a noise margin of "
        + margin_text(f"{MIN_NOISE:g}")
        + ": win, tie or loss. Only the real sets count: holds if boosting wins at least two "
        "thirds of them; partly if it wins more than it loses; fails otherwise. Synthetic sets "
        "are reported apart, labelled by what their construction favours."
    )
    profiles = {
        "tiny": {
            "sets": ["iris", "diabetes"],
            "batch_size": 32,
            "max_epochs": 40,
            "patience": 8,
            "boost_max_iter": 100,
            "grid": 2,
        },
        "quick": {
            "sets": [*REAL_SETS, *SYNTHETIC_SETS],
            "batch_size": 32,
            "max_epochs": 200,
            "patience": 15,
            "boost_max_iter": 300,
            "grid": 2,
        },
        "full": {
            "sets": [*REAL_SETS, *SYNTHETIC_SETS],
            "batch_size": 32,
            "max_epochs": 500,
            "patience": 30,
            "boost_max_iter": 1000,
            "grid": 4,
        },
    }
    cost = {"tiny": 0.5, "quick": 4.0, "full": 60.0}

    def cells(self, settings, seeds):
        """One cell per (set, seed)."""
        return [{"set": name, "seed": int(s)} for name in settings["sets"] for s in seeds]

    def measure_cell(self, settings, cell):
        """Both models over their grids (the first ``grid`` points of each) on one split."""
        ds = _load(cell["set"], cell["seed"])
        k = int(settings["grid"])
        g = self.seed_rng(cell["seed"])
        boost = [_boosting(ds, cell["seed"], settings, p) for p in BOOST_GRID[:k]]
        mlp = [_mlp(ds, g, settings, p) for p in MLP_GRID[:k]]
        bi, bt = _tuned(boost)
        mi, mt = _tuned(mlp)
        return {
            "task": ds.task,
            "sizes": [len(ds.X_train), len(ds.X_val), len(ds.X_test), int(ds.n_features)],
            "boosting": bt,
            "mlp": mt,
            "boosting_choice": bi,
            "mlp_choice": mi,
        }

    def combine(self, settings, seeds, results):
        """Per set: both models' test scores and their paired difference, in seed order."""
        groups: dict = {}
        for cell, r in zip(self.cells(settings, seeds), results):
            groups.setdefault(cell["set"], []).append(r)
        sets = {}
        for name, runs in groups.items():
            task = runs[0]["task"]
            sets[name] = {
                "kind": "real" if name in REAL_SETS else "synthetic",
                "favours": SYNTHETIC_SETS.get(name, ""),
                "task": task,
                "metric": "r2" if task == "regression" else "accuracy",
                "n_train_val_test_features": runs[0]["sizes"],
                "boosting": stat([r["boosting"] for r in runs]),
                "mlp": stat([r["mlp"] for r in runs]),
                "difference": stat([r["boosting"] - r["mlp"] for r in runs]),
                "boosting_choices": [BOOST_GRID[r["boosting_choice"]] for r in runs],
                "mlp_choices": [MLP_GRID[r["mlp_choice"]] for r in runs],
            }
        return {"sets": sets, "not_used": dict(NOT_TABULAR), "grid_points": int(settings["grid"])}

    @classmethod
    def outcome(cls, s: dict) -> tuple[str, dict]:
        """``("win" | "tie" | "loss", paired facts)`` for boosting on one set."""
        p = paired(s["boosting"], s["mlp"], floor=cls.MIN_NOISE)
        return {"a": "win", "b": "loss"}.get(p["outcome"], "tie"), p

    def tally(self, m, kind: str) -> tuple[int, int, int, list[str]]:
        """(wins, ties, losses, per-set texts) of boosting over the sets of one kind."""
        wins = ties = losses = 0
        texts = []
        for name, s in m["sets"].items():
            if s["kind"] != kind:
                continue
            o, p = self.outcome(s)
            wins += o == "win"
            ties += o == "tie"
            losses += o == "loss"
            label = f", {s['favours'].split(':')[0]}" if s["favours"] else ""
            winner = {"win": "boosting", "loss": "MLP", "tie": "tie"}[o]
            texts.append(
                f"{name} ({s['metric']}{label}): boosting {s['boosting']['mean']:.3f} vs MLP "
                f"{s['mlp']['mean']:.3f} → {winner} (margin ±{p['margin']:.3f})"
            )
        return wins, ties, losses, texts

    def judge(self, m):
        w, t, lo, real = self.tally(m, "real")
        sw, st, sl, synth = self.tally(m, "synthetic")
        total = w + t + lo
        text = f"Real sets — {'; '.join(real)}: boosting wins {w}, ties {t}, loses {lo} of {total}."
        if synth:
            text += (
                f" Synthetic sets (not counted) — {'; '.join(synth)}: boosting wins {sw}, ties "
                f"{st}, loses {sl}."
            )
        text += f" Not used: {', '.join(f'{k} ({v})' for k, v in m['not_used'].items())}."
        if total and w >= self.USUALLY * total:
            return Judgement(HOLDS, text)
        if w > lo:
            return Judgement(PARTLY, text + " Boosting wins more than it loses, not usually.")
        return Judgement(FAILS, text)

    def breaks(self, m):
        diffs = [
            (s["difference"]["mean"], name)
            for name, s in m["sets"].items()
            if s["kind"] == "real" and s["difference"]["mean"] is not None
        ]
        if not diffs:
            return ""
        lo, hi = min(diffs), max(diffs)
        rows = max(
            sum(s["n_train_val_test_features"][:3])
            for s in m["sets"].values()
            if s["kind"] == "real"
        )
        return (
            f"On the real sets the paired difference boosting − MLP runs from {lo[0]:+.3f} "
            f"({lo[1]}) to {hi[0]:+.3f} ({hi[1]}); every real set here is small (at most "
            f"{rows} rows), and larger tables are not bundled offline."
        )

    def rows(self, m):
        out = []
        for name, s in m["sets"].items():
            o, p = self.outcome(s)
            out.append(
                (
                    f"{name} ({s['kind']}, {s['metric']}; train/val/test/features "
                    f"{'/'.join(str(v) for v in s['n_train_val_test_features'])})",
                    f"boosting {short_stat(s['boosting'])}, MLP {short_stat(s['mlp'])}; "
                    f"{o} (difference {p['diff']:+.3f}, margin ±{p['margin']:.3f})",
                )
            )
        return out

    def figures(self, m):
        S = m["sets"]
        names = list(S)
        fig, ax = new_figure(width=9.5, height=3.8)
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
        ax.set_xticks(x, [f"{k}\n({S[k]['kind']}, {S[k]['metric']})" for k in names], fontsize=7)
        ax.set_ylim(0, 1.08)
        ax.set(
            ylabel="test score",
            title="Tuned gradient boosting vs tuned MLP (whiskers: min–max over seeds)",
        )
        ax.legend(fontsize=8, loc="lower left")
        return [("test score per tabular set (real and synthetic)", fig)]
