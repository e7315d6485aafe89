"""Failure modes of the text's section 8: overfitting on little data (C16) and regularizers alone
and together (C17); dead ReLUs (C15) are in :mod:`mlplab.experiments.dead_relu`.

Everything trains with the engine (``Network``, ``fit``) on MNIST subsets
(:func:`mnist_splits`, shared with :mod:`mlplab.experiments.dead_relu`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import evaluate, fit
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
    score_verdict,
    short_stat,
    stat,
)


@functools.lru_cache(maxsize=4)
def mnist_splits(n_train: int, n_val: int, n_test: int | None):
    """Fixed MNIST splits (float32): the first ``n_train`` training images, the next ``n_val``
    as validation, and the first ``n_test`` images of the official test set (kept in memory
    per process for the claim's other cells)."""
    from mlplab.data import load_dataset

    ds = load_dataset("mnist", subset=math.ceil((n_train + n_val) / 0.9) + 1, seed=0)
    f32 = np.float32
    X, y = ds.X_train.astype(f32), ds.y_train
    Xt, yt = ds.X_test.astype(f32), ds.y_test
    if n_test is not None:
        Xt, yt = Xt[:n_test], yt[:n_test]
    return (
        X[:n_train],
        y[:n_train],
        X[n_train : n_train + n_val],
        y[n_train : n_train + n_val],
        Xt,
        yt,
    )


# ============================================================================================
# C15 — dead ReLUs
# ============================================================================================

#: A unit passes (almost) no gradient when |φ′(z)| ≤ this fraction of max φ′ on every probe row.


# ============================================================================================
# C16 — overfitting on a small training set
# ============================================================================================


def _train_record(sizes, spec_kw: dict, fit_kw: dict, data, settings, rng) -> dict:
    """Train one net with validation; return curves and final train/test accuracy."""
    X, y, Xv, yv, Xt, yt = data
    model = Network(mlp_spec(sizes, "relu", **spec_kw), rng)
    hist = fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=settings["lr"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation=(Xv, yv),
        rng=rng,
        **fit_kw,
    )
    recs = [r for r in hist.records if "val_loss" in r]
    train_eval = evaluate(model, X, y)
    test_eval = evaluate(model, Xt, yt)
    return {
        "train_loss": [float(r["train_loss"]) for r in recs],
        "val_loss": [float(r["val_loss"]) for r in recs],
        "val_accuracy": [float(r["val_accuracy"]) for r in recs],
        "epochs_run": len(recs),
        "train_accuracy": float(train_eval["accuracy"]),
        "test_accuracy": float(test_eval["accuracy"]),
        "train_loss_eval": float(train_eval["loss"]),
        "test_loss": float(test_eval["loss"]),
    }


@register
class Overfitting(Experiment):
    """A ReLU MLP trained long on 500 MNIST images: train vs validation/test.

    The model (``784 → H → H → 10``, He init, Adam) has far more parameters than there are
    training images.  Validation: the next 1000 training images; test: the official test set
    (first images).  Curves are recorded per epoch.
    """

    id = "C16"
    title = "Overfitting: with little data train accuracy far exceeds test, val loss rises"
    claim = (
        "Overfitting: with limited data train accuracy far exceeds test; train loss falls "
        "while val loss rises"
    )
    section = "8.3"
    measures = "train/val curves on a small MNIST subset trained long; train–test accuracy gap"
    rule = (
        "Means over seeds. (1) Train accuracy ≥ 99 % and test accuracy at least 10 points "
        "lower; (2) validation loss rises: its final value is ≥ 1.2 × its minimum, reached "
        "before the last quarter of the epochs; (3) meanwhile train loss keeps falling: its "
        "final value is below its value at the validation minimum. holds if all three are "
        "true, partly if two, fails otherwise."
    )
    profiles = {
        "tiny": {
            "n_train": 200,
            "n_val": 300,
            "n_test": 500,
            "width": 64,
            "epochs": 25,
            "lr": 1e-3,
            "batch_size": 32,
        },
        "quick": {
            "n_train": 500,
            "n_val": 1000,
            "n_test": 2000,
            "width": 128,
            "epochs": 60,
            "lr": 1e-3,
            "batch_size": 32,
        },
        "full": {
            "n_train": 500,
            "n_val": 2000,
            "n_test": None,
            "width": 256,
            "epochs": 150,
            "lr": 1e-3,
            "batch_size": 32,
        },
    }
    cost = {"tiny": 0.5, "quick": 3.0, "full": 30.0}

    RISE = 1.2

    def measure(self, settings, seeds, rng):
        data = mnist_splits(settings["n_train"], settings["n_val"], settings["n_test"])
        w = settings["width"]
        runs = [
            _train_record([784, w, w, 10], {}, {}, data, settings, self.seed_rng(s)) for s in seeds
        ]
        n_params = 784 * w + w + w * w + w + w * 10 + 10
        mins = [int(np.argmin(r["val_loss"])) for r in runs]
        return {
            "n_train": len(data[0]),
            "n_val": len(data[2]),
            "n_test": len(data[4]),
            "parameters": n_params,
            "epochs": settings["epochs"],
            "train_accuracy": stat([r["train_accuracy"] for r in runs]),
            "test_accuracy": stat([r["test_accuracy"] for r in runs]),
            "gap_points": stat([100 * (r["train_accuracy"] - r["test_accuracy"]) for r in runs]),
            "val_loss_min": stat([min(r["val_loss"]) for r in runs]),
            "val_loss_min_epoch": stat([i + 1 for i in mins]),
            "val_loss_final": stat([r["val_loss"][-1] for r in runs]),
            "train_loss_at_val_min": stat([r["train_loss"][i] for r, i in zip(runs, mins)]),
            "train_loss_final": stat([r["train_loss"][-1] for r in runs]),
            "curves": [{k: r[k] for k in ("train_loss", "val_loss", "val_accuracy")} for r in runs],
        }

    def breaks(self, m):
        vmin, vend = m["val_loss_min"]["mean"], m["val_loss_final"]["mean"]
        return (
            f"With {m['n_train']} images the train–test gap is {m['gap_points']['mean']:.1f} "
            f"points and validation loss ends at {vend / vmin:.2f}× its minimum (the rule "
            f"needs ≥ {self.RISE:g}×); more data or fewer epochs shrink both."
        )

    def judge(self, m):
        tr, te = m["train_accuracy"]["mean"], m["test_accuracy"]["mean"]
        vmin, vend = m["val_loss_min"]["mean"], m["val_loss_final"]["mean"]
        at = m["val_loss_min_epoch"]["mean"]
        checks = {
            "train ≥ 99 %, test ≥ 10 points lower": tr >= 0.99 and te <= tr - 0.10,
            "val loss rises": vend >= self.RISE * vmin and at <= 0.75 * m["epochs"],
            "train loss keeps falling": m["train_loss_final"]["mean"]
            < m["train_loss_at_val_min"]["mean"],
        }
        passed = sum(checks.values())
        text = (
            f"{m['n_train']} training images, {m['parameters']:,} parameters, {m['epochs']} "
            f"epochs: train accuracy {100 * tr:.1f}%, test {100 * te:.1f}% (gap "
            f"{m['gap_points']['mean']:.1f} ± {m['gap_points']['std']:.1f} points; the text's "
            f"example is 99 % vs 70 %). Validation loss bottoms at {vmin:.3f} around epoch "
            f"{at:.0f} and ends at {vend:.3f} ({vend / vmin:.2f}×) while train loss falls from "
            f"{m['train_loss_at_val_min']['mean']:.2e} to {m['train_loss_final']['mean']:.2e}. "
            f"{passed}/3 parts true"
        )
        if passed < 3:
            text += "; not true: " + ", ".join(k for k, ok in checks.items() if not ok)
        return Judgement(score_verdict(passed, 3, fails_at_most=1), text + ".")

    def figures(self, m):
        fig, (ax, ax2) = new_figure(2, 1, width=10.5, height=3.8)
        for i, c in enumerate(m["curves"]):
            ep = np.arange(1, len(c["train_loss"]) + 1)
            alpha = 0.95 if i == 0 else 0.4
            ax.semilogy(
                ep,
                c["train_loss"],
                color="tab:blue",
                alpha=alpha,
                label="train loss" if i == 0 else None,
            )
            ax.semilogy(
                ep,
                c["val_loss"],
                color="tab:red",
                alpha=alpha,
                label="validation loss" if i == 0 else None,
            )
            ax2.plot(
                ep,
                [100 * v for v in c["val_accuracy"]],
                color="tab:red",
                alpha=alpha,
                label="validation accuracy" if i == 0 else None,
            )
        ax.axvline(m["val_loss_min_epoch"]["mean"], color="grey", ls=":", lw=1)
        ax.set(
            xlabel="epoch",
            ylabel="loss (log)",
            title=f"Loss curves, {m['n_train']} training images (one line per seed)",
        )
        ax.legend(fontsize=8)
        ax2.axhline(
            100 * m["train_accuracy"]["mean"],
            color="tab:blue",
            ls="--",
            label="final train accuracy",
        )
        ax2.axhline(
            100 * m["test_accuracy"]["mean"], color="black", ls=":", label="final test accuracy"
        )
        ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy: the gap")
        ax2.legend(fontsize=8)
        return [("train vs validation curves on a small MNIST subset", fig)]


# ============================================================================================
# C17 — regularizers alone and together
# ============================================================================================

#: Each regularizer's small grid of strengths (the same size, 3, for every tunable arm);
#: ``spec`` keywords go to the network, ``fit`` keywords to the trainer.  ``combined`` scales
#: dropout and weight decay together over 3 points, with batch norm and early stopping
#: (patience 10) on at every point.  Batch norm and layer norm have no strength to tune.
REG_GRIDS = {
    "none": [({}, {})],
    "dropout": [({"dropout": p}, {}) for p in (0.1, 0.3, 0.5)],
    "weight decay": [({}, {"l2": lam}) for lam in (1e-4, 1e-3, 1e-2)],
    "batch norm": [({"norm": "batch"}, {})],
    "layer norm": [({"norm": "layer"}, {})],
    "early stopping": [({}, {"early_stopping": k}) for k in (5, 10, 20)],
    "combined": [
        ({"dropout": p, "norm": "batch"}, {"l2": lam, "early_stopping": 10})
        for p, lam in ((0.1, 1e-4), (0.3, 1e-3), (0.5, 1e-2))
    ],
}


def strength_text(spec_kw: dict, fit_kw: dict) -> str:
    """``dropout 0.3, l2 1e-3`` — a grid point in words."""
    parts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in spec_kw.items()]
    parts += [f"{k} {v:g}" for k, v in fit_kw.items()]
    return ", ".join(parts) or "—"


@register
class Regularizers(Experiment):
    """The C16 set-up with each regularizer alone and all combined, strengths tuned alike.

    Each regularizer's strength is chosen per seed from its small grid (:data:`REG_GRIDS`)
    by validation accuracy (the validation split is the next images of the MNIST training
    set, never the test set); the combination's strengths are chosen the same way from a
    3-point grid.  The chosen run's test accuracy enters the comparison, paired by seed (a
    seed gives every arm the same init stream and batch order).  One cell per (regularizer,
    grid point, seed).
    """

    id = "C17"
    title = "Regularizers together close the gap better than any one"
    claim = (
        "Regularizers together (dropout, weight decay, normalization, early stopping) close "
        "the gap better than any one"
    )
    section = "7.2, 8.3"
    measures = (
        "test accuracy of each regularizer alone and all combined on the C16 set-up, each "
        "strength chosen on a validation split from a stated grid"
    )
    MIN_NOISE = 0.003
    rule = (
        "Each arm's strength is chosen per seed on validation accuracy from its grid (dropout "
        "0.1/0.3/0.5; weight decay 1e-4/1e-3/1e-2; early-stopping patience 5/10/20; combined "
        "= batch norm + early stopping (patience 10) + dropout/weight decay (0.1, 1e-4), "
        "(0.3, 1e-3), (0.5, 1e-2); batch and layer norm untuned). Then paired test accuracy "
        "differences combined − single, with a noise margin of "
        + margin_text(f"{100 * MIN_NOISE:g} points")
        + ". holds if 'combined' is above every single regularizer beyond the margin; fails "
        "if some single regularizer is above 'combined' beyond the margin; partly otherwise."
    )
    profiles = {
        "tiny": {
            "n_train": 200,
            "n_val": 300,
            "n_test": 500,
            "width": 64,
            "epochs": 10,
            "lr": 1e-3,
            "batch_size": 32,
            "configs": ["none", "dropout", "early stopping", "combined"],
        },
        "quick": {
            "n_train": 500,
            "n_val": 500,
            "n_test": 2000,
            "width": 128,
            "epochs": 25,
            "lr": 1e-3,
            "batch_size": 64,
            "configs": list(REG_GRIDS),
        },
        "full": {
            "n_train": 500,
            "n_val": 1000,
            "n_test": None,
            "width": 256,
            "epochs": 50,
            "lr": 1e-3,
            "batch_size": 32,
            "configs": list(REG_GRIDS),
        },
        "paper": {
            "n_train": 500,
            "n_val": 2000,
            "n_test": None,
            "width": 512,
            "epochs": 150,
            "lr": 1e-3,
            "batch_size": 32,
            "configs": list(REG_GRIDS),
        },
    }
    cost = {"tiny": 1.0, "quick": 7.0, "full": 120.0}

    def work(self, settings):
        """Rough cost of one seed: epochs × the net's multiply-adds × grid points."""
        w = settings["width"]
        points = sum(len(REG_GRIDS[c]) for c in settings["configs"])
        return float(settings["epochs"] * (784 * w + w * w + 10 * w) * points)

    def cells(self, settings, seeds):
        """One cell per (regularizer, grid point, seed)."""
        return [
            {"config": name, "point": i, "seed": int(s)}
            for name in settings["configs"]
            for i in range(len(REG_GRIDS[name]))
            for s in seeds
        ]

    def measure_cell(self, settings, cell):
        """Train one arm at one strength; validation and test accuracy."""
        data = mnist_splits(settings["n_train"], settings["n_val"], settings["n_test"])
        spec_kw, fit_kw = REG_GRIDS[cell["config"]][cell["point"]]
        w = settings["width"]
        r = _train_record(
            [784, w, w, 10], spec_kw, fit_kw, data, settings, self.seed_rng(cell["seed"])
        )
        # with early stopping the weights of the lowest validation loss are restored
        at = int(np.argmin(r["val_loss"])) if fit_kw.get("early_stopping") else -1
        return {
            "strength": strength_text(spec_kw, fit_kw),
            "val_accuracy": r["val_accuracy"][at],
            "test_accuracy": r["test_accuracy"],
            "train_accuracy": r["train_accuracy"],
            "epochs_run": r["epochs_run"],
            "n_train": len(data[0]),
            "n_val": len(data[2]),
            "n_test": len(data[4]),
        }

    def combine(self, settings, seeds, results):
        """Per arm and seed, the grid point with the best validation accuracy (first on a
        tie); the chosen runs' test accuracies as stats in seed order."""
        runs: dict = {}
        for cell, r in zip(self.cells(settings, seeds), results):
            runs.setdefault(cell["config"], {}).setdefault(cell["seed"], []).append(r)
        out = {
            "n_train": results[0]["n_train"],
            "n_val": results[0]["n_val"],
            "n_test": results[0]["n_test"],
            "configs": {},
        }
        for name in settings["configs"]:
            chosen = []
            for s in seeds:
                grid = runs[name][int(s)]
                chosen.append(max(grid, key=lambda r: r["val_accuracy"]))
            out["configs"][name] = {
                "grid": [r["strength"] for r in runs[name][int(seeds[0])]],
                "chosen": [r["strength"] for r in chosen],
                "val_accuracy": stat([r["val_accuracy"] for r in chosen]),
                "test_accuracy": stat([r["test_accuracy"] for r in chosen]),
                "train_accuracy": stat([r["train_accuracy"] for r in chosen]),
                "gap_points": stat(
                    [100 * (r["train_accuracy"] - r["test_accuracy"]) for r in chosen]
                ),
                "epochs_run": stat([r["epochs_run"] for r in chosen]),
            }
        return out

    def comparisons(self, m) -> dict:
        """``{single: paired(combined, single)}`` on test accuracy."""
        C = m["configs"]
        comb = C["combined"]["test_accuracy"]
        return {
            k: paired(comb, C[k]["test_accuracy"], floor=self.MIN_NOISE)
            for k in C
            if k not in ("none", "combined")
        }

    def judge(self, m):
        C = m["configs"]
        cmp = self.comparisons(m)
        above = [k for k, p in cmp.items() if p["outcome"] == "a"]
        below = [k for k, p in cmp.items() if p["outcome"] == "b"]
        listing = "; ".join(
            f"{k} {100 * C[k]['test_accuracy']['mean']:.2f}% (chosen: "
            f"{' | '.join(dict.fromkeys(C[k]['chosen']))})"
            for k in C
        )
        diffs = ", ".join(
            f"vs {k} {100 * p['diff']:+.2f} ± {100 * p['margin']:.2f}" for k, p in cmp.items()
        )
        text = (
            f"Test accuracy ({m['n_train']} training images, {m['n_test']:,} test images; "
            f"strengths chosen on {m['n_val']:,} validation images): {listing}. Combined minus "
            f"single (points, margin): {diffs}. Combined is above {len(above)} of {len(cmp)}"
        )
        if below:
            text += f" and below {', '.join(below)}"
        if len(above) == len(cmp):
            return Judgement(HOLDS, text + ".")
        if below:
            return Judgement(FAILS, text + ".")
        return Judgement(PARTLY, text + "; the rest are ties within the margin.")

    def breaks(self, m):
        cmp = self.comparisons(m)
        k, p = min(cmp.items(), key=lambda kv: kv[1]["diff"] if kv[1]["diff"] is not None else 0)
        return (
            f"The single regularizer that does best against the combination is {k}: combined "
            f"− {k} = {100 * p['diff']:+.2f} points (margin ±{100 * p['margin']:.2f}); the "
            "claim needs that difference above the margin."
        )

    def rows(self, m):
        out = []
        for k, c in m["configs"].items():
            out.append(
                (
                    f"{k} (grid: {' | '.join(c['grid'])})",
                    f"chosen per seed: {', '.join(c['chosen'])}; test "
                    f"{short_stat(c['test_accuracy'], scale=100, unit='%')}, train "
                    f"{short_stat(c['train_accuracy'], scale=100, unit='%')}",
                )
            )
        return out

    def figures(self, m):
        C = m["configs"]
        names = list(C)
        fig, ax = new_figure(width=8.5, height=3.8)
        x = np.arange(len(names))
        te = [100 * C[k]["test_accuracy"]["mean"] for k in names]
        tr = [100 * C[k]["train_accuracy"]["mean"] for k in names]
        err = [100 * (C[k]["test_accuracy"]["std"] or 0) for k in names]
        ax.bar(x - 0.2, tr, 0.4, color="tab:blue", alpha=0.5, label="train accuracy")
        ax.bar(x + 0.2, te, 0.4, yerr=err, capsize=3, color="tab:red", label="test accuracy")
        for xi, v in zip(x, te):
            ax.annotate(
                f"{v:.1f}",
                (xi + 0.2, v),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
        ax.set_xticks(x, names, fontsize=8, rotation=15)
        ax.set_ylim(max(0, min(te) - 15), 101)
        ax.set(
            ylabel="accuracy (%)",
            title="Each regularizer alone (tuned on validation) and combined",
        )
        ax.legend(fontsize=8, loc="lower right")
        return [("train and test accuracy per regularizer, strengths tuned on validation", fig)]
