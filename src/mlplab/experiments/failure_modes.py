"""Failure modes of the text's section 8: dead ReLUs (C15), overfitting on little data (C16) and
regularizers alone and together (C17).

Everything trains with the engine (``Network``, ``fit``) on MNIST subsets.  Dead units are
read with :func:`mlplab.diagnostics.activation_stats` on a fixed probe batch (the first rows
of the training subset).
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import evaluate, fit
from mlplab.experiments.base import (
    FAILS,
    HOLDS,
    PARTLY,
    Experiment,
    Judgement,
    new_figure,
    register,
    score_verdict,
    stat,
)

_COLORS = {"relu": "tab:blue", "leaky_relu": "tab:cyan", "gelu": "tab:green"}


def _mnist_splits(n_train: int, n_val: int, n_test: int | None):
    """Fixed MNIST splits (float32): the first ``n_train`` training images, the next ``n_val``
    as validation, and the first ``n_test`` images of the official test set."""
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
NO_GRADIENT = 1e-3


def unit_states(model: Network, X) -> list[dict]:
    """Per hidden layer, on the probe rows ``X``: the fraction of *dead* units (|φ′(z)| ≤
    ``NO_GRADIENT``·max φ′ on every row: they pass no gradient, so their incoming weights
    stop moving), of *inactive* units (z < 0 on every row: pushed negative) and, for ReLU,
    the :func:`mlplab.diagnostics.activation_stats` dead fraction (φ′ = 0 on every row), plus
    the boolean inactive mask of each unit.
    """
    from mlplab.diagnostics import activation_stats, max_derivative

    stats = activation_stats(model, X)  # runs the probe forward; trace() then holds its z
    out = []
    for st, block in zip(stats, model.trace()[:-1]):
        act = get_activation(block["activation"])
        z = np.asarray(block["z"], dtype=np.float64)
        dphi = np.abs(act.df(z))
        dead = np.all(dphi <= NO_GRADIENT * max_derivative(act), axis=0)
        inactive = np.all(z < 0, axis=0)
        out.append(
            {
                "dead": float(np.mean(dead)),
                "inactive": float(np.mean(inactive)),
                "diagnostics_dead": st["dead"],
                "inactive_mask": inactive,
            }
        )
    return out


@register
class DeadReLU(Experiment):
    """Dead-unit fraction after training, per activation, learning rate and bias init.

    An MLP ``784 → H → H → 10`` (He/Kaiming init by the engine's ``auto`` rule, all biases set to
    ``bias_init``) trains on an MNIST subset with each optimizer/learning-rate pair.  After
    training, on a probe batch: the *dead* fraction (units passing no gradient: φ′ ≈ 0 on
    every row) and, for the first layer (whose inputs never change), the *recovered* fraction:
    of the units that started pushed negative (z < 0 on every row), the share that fire on some
    row at the end.  A negative ``bias_init`` pushes units negative on purpose.
    """

    id = "C15"
    title = "Dead ReLU: units pushed negative stop learning; Leaky ReLU and GELU avoid it"
    claim = "Dead ReLU: units pushed negative stop learning; Leaky ReLU / GELU avoid it"
    section = "8.2"
    measures = (
        "dead-unit fraction vs learning rate and bias init, per activation (relu, leaky, gelu)"
    )
    rule = (
        "Means over seeds. (1) ReLU units die: the dead fraction (φ′ ≈ 0 on every probe row) "
        "reaches ≥ 50 % in some cell, grows with the learning rate at bias 0 (highest-rate "
        "cell above the lowest-rate one of the same optimizer, for some optimizer), and "
        "first-layer ReLU units pushed negative never come back (recovered ≤ 1 %). Then for "
        "Leaky ReLU and for GELU, two checks each: (a) no dying — dead fraction ≤ 5 % in every "
        "cell; (b) recovery — over all negative-bias cells, at least half of the first-layer "
        "units pushed negative come back. holds if (1) and all four checks are true, partly "
        "if (1) and at least one, fails otherwise."
    )
    profiles = {
        "tiny": {
            "subset": 300,
            "probe": 256,
            "width": 32,
            "epochs": 1,
            "batch_size": 32,
            "activations": ["relu", "leaky_relu", "gelu"],
            "optimizers": [["adam", 1e-3], ["adam", 1e-2]],
            "bias_inits": [0.0, -1.0],
        },
        "quick": {
            "subset": 1000,
            "probe": 512,
            "width": 64,
            "epochs": 3,
            "batch_size": 32,
            "activations": ["relu", "leaky_relu", "gelu"],
            "optimizers": [["sgd", 0.05], ["sgd", 0.5], ["adam", 1e-3], ["adam", 1e-2]],
            "bias_inits": [0.0, -1.0, -3.0],
        },
        "full": {
            "subset": 5000,
            "probe": 1000,
            "width": 128,
            "epochs": 5,
            "batch_size": 64,
            "activations": ["relu", "leaky_relu", "gelu"],
            "optimizers": [
                ["sgd", 0.01],
                ["sgd", 0.1],
                ["sgd", 0.5],
                ["adam", 1e-3],
                ["adam", 1e-2],
                ["adam", 3e-2],
            ],
            "bias_inits": [0.0, -1.0, -3.0],
        },
    }
    cost = {"tiny": 0.5, "quick": 5.0, "full": 50.0}

    DEAD_MANY = 0.5
    DEAD_FEW = 0.05
    NEVER_BACK = 0.01
    COMES_BACK = 0.5

    @staticmethod
    def cell_name(opt, lr, bias) -> str:
        return f"{opt} lr={lr:g} bias={bias:g}"

    def measure(self, settings, seeds, rng):
        X, y, _, _, Xt, yt = _mnist_splits(settings["subset"], 0, 2000)
        P = X[: settings["probe"]]
        w = settings["width"]
        acts: dict[str, dict] = {}
        for act in settings["activations"]:
            cells = {}
            for opt, lr in settings["optimizers"]:
                for bias in settings["bias_inits"]:
                    dead, dead1, rec, pushed, acc, diag = [], [], [], [], [], []
                    for seed in seeds:
                        g = self.seed_rng(seed)
                        model = Network(mlp_spec([784, w, w, 10], act, bias_init=bias), g)
                        start = unit_states(model, P)
                        fit(
                            model,
                            X,
                            y,
                            optimizer=opt,
                            lr=lr,
                            epochs=settings["epochs"],
                            batch_size=settings["batch_size"],
                            rng=g,
                        )
                        end = unit_states(model, P)
                        was = start[0]["inactive_mask"]
                        back = was & ~end[0]["inactive_mask"]
                        dead.append(float(np.mean([e["dead"] for e in end])))
                        dead1.append(end[0]["dead"])
                        pushed.append(int(was.sum()))
                        rec.append(float(back.sum() / was.sum()) if was.any() else float("nan"))
                        acc.append(float(evaluate(model, Xt, yt)["accuracy"]))
                        if end[0]["diagnostics_dead"] is not None:
                            diag.append(float(np.mean([e["diagnostics_dead"] for e in end])))
                    cells[self.cell_name(opt, lr, bias)] = {
                        "optimizer": opt,
                        "lr": lr,
                        "bias_init": bias,
                        "dead": stat(dead),
                        "dead_layer1": stat(dead1),
                        "pushed_negative_at_init": stat(pushed),
                        "recovered": stat(rec),
                        "test_accuracy": stat(acc),
                        "diagnostics_dead": stat(diag) if diag else None,
                    }
            acts[act] = cells
        return {"n_train": len(X), "width": w, "activations": acts}

    @staticmethod
    def recovery(cells, optimizer=None):
        """Share of first-layer units pushed negative at init that fire at the end, pooled
        over the negative-bias cells (of one optimizer, or all); None if none was pushed."""
        back = [
            (c["recovered"]["mean"], c["pushed_negative_at_init"]["mean"])
            for c in cells.values()
            if c["bias_init"] < 0
            and c["recovered"]["mean"] is not None
            and (optimizer is None or c["optimizer"] == optimizer)
        ]
        total = sum(p for _, p in back)
        return sum(r * p for r, p in back) / total if total > 0 else None

    @staticmethod
    def lr_grows(cells) -> bool:
        """At bias 0, the highest-rate cell has more dead units than the lowest, for some
        optimizer."""
        for opt in {c["optimizer"] for c in cells.values()}:
            zero = sorted(
                (c["lr"], c["dead"]["mean"])
                for c in cells.values()
                if c["optimizer"] == opt and c["bias_init"] == 0
            )
            if len(zero) >= 2 and zero[-1][1] > zero[0][1]:
                return True
        return False

    def judge(self, m):
        A = m["activations"]
        checks, parts = {}, []

        def pct(v):
            if v is None:
                return "—"
            return f"{100 * v:.1f}%" if 0 < v < 0.1 else f"{100 * v:.0f}%"

        for act, cells in A.items():
            worst = max(cells.values(), key=lambda c: c["dead"]["mean"])
            max_dead = worst["dead"]["mean"]
            rec = self.recovery(cells)
            opts = list(dict.fromkeys(c["optimizer"] for c in cells.values()))
            per_opt = ", ".join(f"{pct(self.recovery(cells, o))} with {o}" for o in opts)
            if act == "relu":
                checks["relu units die"] = (
                    max_dead >= self.DEAD_MANY
                    and self.lr_grows(cells)
                    and rec is not None
                    and rec <= self.NEVER_BACK
                )
                zero = [c for c in cells.values() if c["bias_init"] == 0]
                lo = min(zero, key=lambda c: (c["optimizer"], c["lr"]))
                hi = max(zero, key=lambda c: c["dead"]["mean"])
                parts.append(
                    f"relu: dead up to {pct(max_dead)} ({worst['optimizer']} lr "
                    f"{worst['lr']:g}, bias {worst['bias_init']:g}); at bias 0 from "
                    f"{pct(lo['dead']['mean'])} ({lo['optimizer']} lr {lo['lr']:g}) to "
                    f"{pct(hi['dead']['mean'])} ({hi['optimizer']} lr {hi['lr']:g}); units "
                    f"pushed negative that came back: {per_opt}"
                )
            else:
                checks[f"{act} does not die"] = max_dead <= self.DEAD_FEW
                checks[f"{act} recovers"] = rec is not None and rec >= self.COMES_BACK
                parts.append(
                    f"{act}: dead at most {pct(max_dead)} ({worst['optimizer']} lr "
                    f"{worst['lr']:g}, bias {worst['bias_init']:g}); units pushed negative that "
                    f"came back: {per_opt}"
                )
        relu_ok = checks.get("relu units die", False)
        others = sum(ok for k, ok in checks.items() if k != "relu units die")
        n_others = len(checks) - 1
        if relu_ok and others == n_others:
            verdict = HOLDS
        elif relu_ok and others >= 1:
            verdict = PARTLY
        else:
            verdict = FAILS
        text = "; ".join(parts) + f" ({m['n_train']} MNIST images, width {m['width']})"
        not_true = [k for k, ok in checks.items() if not ok]
        if not_true:
            text += ". Not true: " + ", ".join(not_true)
        return Judgement(verdict, text + ".")

    def figures(self, m):
        A = m["activations"]
        acts = list(A)
        fig, axes = new_figure(len(acts), 2, width=4.6 * len(acts), height=6.4)
        axes = np.asarray(axes).reshape(2, len(acts))
        for j, act in enumerate(acts):
            cells = A[act]
            biases = sorted({c["bias_init"] for c in cells.values()}, reverse=True)
            opts = list(dict.fromkeys((c["optimizer"], c["lr"]) for c in cells.values()))
            x = np.arange(len(opts))
            width = 0.8 / len(biases)
            for i, b in enumerate(biases):
                d = [100 * cells[self.cell_name(o, lr, b)]["dead"]["mean"] for o, lr in opts]
                a = [
                    100 * cells[self.cell_name(o, lr, b)]["test_accuracy"]["mean"] for o, lr in opts
                ]
                off = (i - (len(biases) - 1) / 2) * width
                axes[0, j].bar(x + off, d, width, label=f"bias init {b:g}")
                axes[1, j].bar(x + off, a, width, label=f"bias init {b:g}")
            for row, ylabel in ((0, "dead units (%)"), (1, "test accuracy (%)")):
                ax = axes[row, j]
                ax.set_xticks(x, [f"{o}\n{lr:g}" for o, lr in opts], fontsize=7)
                ax.set_ylim(0, 103)
                ax.set_ylabel(ylabel, fontsize=8)
            axes[0, j].set_title(f"{act}: dead-unit fraction", fontsize=9)
            axes[1, j].set_title(f"{act}: test accuracy", fontsize=9)
        axes[0, 0].legend(fontsize=7)
        return [("dead-unit fractions and accuracy per activation, optimizer/lr, bias init", fig)]


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
        data = _mnist_splits(settings["n_train"], settings["n_val"], settings["n_test"])
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

#: The regularizers of the text's §7.2 with its settings: nn.Dropout(p=0.5),
#: Adam(weight_decay=1e-4) (an L2 term added to the gradient, the engine's ``l2``), a
#: normalization layer, and early stopping (patience 10 epochs on validation loss, best
#: weights restored).
REGULARIZERS = {
    "none": ({}, {}),
    "dropout": ({"dropout": 0.5}, {}),
    "weight decay": ({}, {"l2": 1e-4}),
    "batch norm": ({"norm": "batch"}, {}),
    "layer norm": ({"norm": "layer"}, {}),
    "early stopping": ({}, {"early_stopping": 10}),
    "combined": (
        {"dropout": 0.5, "norm": "batch"},
        {"l2": 1e-4, "early_stopping": 10},
    ),
}


@register
class Regularizers(Experiment):
    """The C16 set-up with each regularizer alone and with all of them together.

    ``combined`` = dropout 0.5 + weight decay 1e-4 + batch norm + early stopping, the text's
    "add all of" list (§7.2).  Each configuration trains on the same seeds (same data, same
    batch order per seed); test accuracy is measured on the official test images.
    """

    id = "C17"
    title = "Regularizers together close the gap better than any one"
    claim = (
        "Regularizers together (dropout, weight decay, normalization, early stopping) close "
        "the gap better than any one"
    )
    section = "7.2, 8.3"
    measures = "test accuracy for each regularizer alone and all combined on the C16 set-up"
    rule = (
        "Compare mean test accuracy over seeds; a difference counts only beyond the noise, "
        "2 standard errors of the difference of the two means (at least 0.3 points). holds if "
        "'combined' is clearly above every single regularizer; fails if some single "
        "regularizer is clearly above 'combined'; partly otherwise (combined ties some within "
        "noise and none beats it)."
    )
    profiles = {
        "tiny": {
            "n_train": 200,
            "n_val": 300,
            "n_test": 500,
            "width": 64,
            "epochs": 15,
            "lr": 1e-3,
            "batch_size": 32,
            "configs": ["none", "dropout", "early stopping", "combined"],
        },
        "quick": {
            "n_train": 500,
            "n_val": 500,
            "n_test": 2000,
            "width": 128,
            "epochs": 30,
            "lr": 1e-3,
            "batch_size": 64,
            "configs": list(REGULARIZERS),
        },
        "full": {
            "n_train": 500,
            "n_val": 1000,
            "n_test": None,
            "width": 256,
            "epochs": 80,
            "lr": 1e-3,
            "batch_size": 32,
            "configs": list(REGULARIZERS),
        },
    }
    cost = {"tiny": 1.0, "quick": 7.0, "full": 80.0}

    MIN_NOISE = 0.003

    def measure(self, settings, seeds, rng):
        data = _mnist_splits(settings["n_train"], settings["n_val"], settings["n_test"])
        w = settings["width"]
        out = {}
        for name in settings["configs"]:
            spec_kw, fit_kw = REGULARIZERS[name]
            runs = [
                _train_record([784, w, w, 10], spec_kw, fit_kw, data, settings, self.seed_rng(s))
                for s in seeds
            ]
            out[name] = {
                "test_accuracy": stat([r["test_accuracy"] for r in runs]),
                "train_accuracy": stat([r["train_accuracy"] for r in runs]),
                "gap_points": stat(
                    [100 * (r["train_accuracy"] - r["test_accuracy"]) for r in runs]
                ),
                "epochs_run": stat([r["epochs_run"] for r in runs]),
            }
        return {"n_train": len(data[0]), "n_test": len(data[4]), "configs": out}

    @classmethod
    def noise(cls, a: dict, b: dict) -> float:
        """Two standard errors of the difference of two seed means (floor MIN_NOISE).

        With one seed the spread is unknown and only the floor applies.
        """
        se2 = 0.0
        for s in (a, b):
            if s["n"] > 1 and s["std"] is not None:
                se2 += s["std"] ** 2 / s["n"]
        return max(cls.MIN_NOISE, 2 * math.sqrt(se2))

    def judge(self, m):
        C = m["configs"]
        comb = C["combined"]["test_accuracy"]
        singles = [k for k in C if k not in ("none", "combined")]
        above, below = [], []
        for k in singles:
            s = C[k]["test_accuracy"]
            nz = self.noise(comb, s)
            if comb["mean"] - s["mean"] > nz:
                above.append(k)
            elif s["mean"] - comb["mean"] > nz:
                below.append(k)
        listing = ", ".join(
            f"{k} {100 * C[k]['test_accuracy']['mean']:.1f}"
            + (
                f" ± {100 * C[k]['test_accuracy']['std']:.1f}"
                if C[k]["test_accuracy"]["n"] > 1
                else ""
            )
            for k in C
        )
        text = (
            f"Test accuracy (%, mean ± std over seeds, {m['n_train']} training images): "
            f"{listing}. Combined is clearly above {len(above)} of {len(singles)} single "
            f"regularizers"
        )
        if below:
            text += f" and clearly below {', '.join(below)}"
        if len(above) == len(singles):
            return Judgement(HOLDS, text + ".")
        if below:
            return Judgement(FAILS, text + ".")
        return Judgement(PARTLY, text + "; no single one is clearly above it (within noise).")

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
            title="Each regularizer alone and all combined (error bar: std over seeds)",
        )
        ax.legend(fontsize=8, loc="lower right")
        return [("train and test accuracy per regularizer", fig)]
