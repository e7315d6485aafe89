"""The activation comparison of the text's §6.3: shallow nets (C08) and deeper nets (C09).

The set-up follows the text: the same MLP, the same hyperparameters (Adam, learning rate
1e-3, batches of 64), the same data (MNIST), and only the activation changes — sigmoid, tanh,
ReLU, GELU.  Every network is built and trained by the engine (``Network``, ``fit``).
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import evaluate, fit
from mlplab.experiments._common import (
    ACTIVATION_COLORS,
    LossRecorder,
    mnist,
    prior_entropy,
    smooth,
    torch_default_init,
)
from mlplab.experiments.base import (
    FAILS,
    HOLDS,
    MARGIN_SE,
    PARTLY,
    Experiment,
    Judgement,
    margin_text,
    new_figure,
    paired,
    register,
    score_text,
    score_verdict,
    short_stat,
    stat,
)

ACTS = ("sigmoid", "tanh", "relu", "gelu")


#: Each activation's intended init: Xavier for the saturating ones, He for the ReLU family.
INTENDED = {
    "sigmoid": "xavier_uniform",
    "tanh": "xavier_uniform",
    "relu": "he_normal",
    "gelu": "he_normal",
}


def _train(settings, act: str, hidden: list[int], data, rng) -> dict:
    """Build ``784 → hidden… → 10`` with ``act`` and the stated init, train, measure.

    ``settings["init"]`` is ``torch_default``, ``intended`` (:data:`INTENDED`) or an engine
    init name.  The final training loss is measured on the first ``eval_train`` training
    images (all when absent).
    """
    X, y, Xt, yt = data
    sizes = [X.shape[1], *hidden, 10]
    init = settings["init"]
    engine_init = {"torch_default": "xavier_uniform", "intended": INTENDED[act]}.get(init, init)
    model = Network.from_sizes(sizes, act, init=engine_init, rng=rng)
    if init == "torch_default":
        torch_default_init(model, rng)
    n_eval = settings.get("eval_train") or len(X)
    loss0 = float(model.loss(X[:n_eval], y[:n_eval]))
    rec = LossRecorder()
    hist = fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=settings["lr"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        rng=rng,
        callbacks=[rec],
    )
    final = float(model.loss(X[:n_eval], y[:n_eval]))
    test = evaluate(model, Xt, yt)
    return {
        "initial_loss": loss0,
        "final_train_loss": final if math.isfinite(final) else float("nan"),
        "test_accuracy": float(test["accuracy"]),
        "curve": smooth(rec.losses, settings.get("curve_points", 60)),
        "steps": len(rec.losses),
        "diverged": any(r.get("diverged") for r in hist.records),
    }


# ============================================================================================
# C08 — shallow nets end at about the same accuracy
# ============================================================================================


@register
class ShallowActivations(Experiment):
    """MNIST test accuracy of MLPs with one and with two hidden layers, per activation.

    The text's "2–3 layers" are both ends measured: ``784 → H → 10`` (2 weight layers) and
    ``784 → H → H → 10`` (3).  Weights use the same rule for every activation —
    ``torch_default``, what the text's PyTorch code gets from ``nn.Linear``: W, b ~
    U(±1/√fan_in) — and the same Adam hyperparameters, so the activation is the only
    difference between the runs of a seed (same init draw, same batch order).  One cell per
    depth, activation and seed.
    """

    id = "C08"
    title = "Shallow nets: sigmoid, tanh, ReLU, GELU reach about the same accuracy"
    claim = "Shallow nets (2–3 layers): sigmoid, tanh, ReLU, GELU end at roughly the same accuracy"
    section = "6.3"
    measures = (
        "MNIST test accuracy per activation at 2 and 3 weight layers, same hyperparameters, "
        "paired seeds"
    )
    SAME = 2.0  # points
    ROUGH = 5.0  # points
    rule = (
        "At each depth (2 and 3 weight layers) take each activation's mean test accuracy over "
        "seeds; gap = best − worst, in points, with a noise margin of "
        + margin_text()
        + f" between the best and the worst activation. A depth is 'same' if the gap is a tie "
        f"or at most {SAME:g} points, 'rough' if at most {ROUGH:g} points, 'apart' otherwise. "
        "holds if both depths are 'same', partly if the worse depth is 'rough', fails if "
        "either depth is 'apart'."
    )
    profiles = {
        "tiny": {
            "subset": 800,
            "test": 1000,
            "hidden": [[32], [32, 32]],
            "epochs": 1,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
            "eval_train": None,
        },
        "quick": {
            "subset": 5000,
            "test": None,
            "hidden": [[64], [64, 64]],
            "epochs": 3,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
            "eval_train": None,
        },
        "full": {
            "subset": None,
            "test": None,
            "hidden": [[128], [128, 128]],
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
            "eval_train": 10000,
        },
        "paper": {
            "subset": None,
            "test": None,
            "hidden": [[256], [256, 256]],
            "epochs": 10,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
            "eval_train": 10000,
        },
    }
    cost = {"tiny": 1.0, "quick": 6.0, "full": 60.0}

    def work(self, settings):
        """Multiply-adds of one seed's training, all depths and activations (rough)."""
        n = settings["subset"] or 54000
        total = 0
        for h in settings["hidden"]:
            sizes = [784, *h, 10]
            total += sum(a * b for a, b in zip(sizes, sizes[1:]))
        return float(settings["epochs"] * n * total * len(ACTS))

    def cells(self, settings, seeds):
        """One cell per (depth, activation, seed)."""
        return [
            {"layers": len(h) + 1, "activation": a, "seed": int(s)}
            for h in settings["hidden"]
            for a in ACTS
            for s in seeds
        ]

    def measure_cell(self, settings, cell):
        """Train one net; its test accuracy, final training loss and loss curve."""
        data = mnist(settings["subset"], settings["test"])
        hidden = next(h for h in settings["hidden"] if len(h) + 1 == cell["layers"])
        r = _train(settings, cell["activation"], hidden, data, self.seed_rng(cell["seed"]))
        r.update(n_train=int(len(data[0])), n_test=int(len(data[2])))
        return r

    def combine(self, settings, seeds, results):
        """Per depth and activation: stats over seeds (seed order kept for pairing)."""
        groups = self.group(settings, seeds, results, "layers", "activation")
        depths = {
            str(len(h) + 1): {a: groups[(str(len(h) + 1), a)] for a in ACTS}
            for h in settings["hidden"]
        }
        first = results[0]
        out = {k: first[k] for k in ("n_train", "n_test", "steps")}
        out.update(hidden=settings["hidden"], depths={})
        for L, per in depths.items():
            out["depths"][L] = {
                "test_accuracy": {a: stat([r["test_accuracy"] for r in per[a]]) for a in ACTS},
                "final_train_loss": {
                    a: stat([r["final_train_loss"] for r in per[a]]) for a in ACTS
                },
                "curves": {a: [r["curve"] for r in per[a]] for a in ACTS},
            }
        return out

    def depth_outcome(self, acc: dict) -> tuple[str, dict]:
        """``("same" | "rough" | "apart", facts)`` for one depth's accuracy stats."""
        means = {a: acc[a]["mean"] for a in ACTS}
        if any(v is None for v in means.values()):
            return "apart", {"best": None, "worst": None, "gap": None, "margin": None}
        best = max(means, key=means.get)
        worst = min(means, key=means.get)
        p = paired(acc[best], acc[worst])
        gap = round(100 * (means[best] - means[worst]), 9)  # points; exact at a boundary
        facts = {"best": best, "worst": worst, "gap": gap, "margin": 100 * p["margin"]}
        if p["outcome"] == "tie" or gap <= self.SAME:
            return "same", facts
        return ("rough" if gap <= self.ROUGH else "apart"), facts

    def judge(self, m):
        parts, outcomes = [], []
        for L, d in m["depths"].items():
            o, f = self.depth_outcome(d["test_accuracy"])
            outcomes.append(o)
            if f["gap"] is None:
                parts.append(f"{L} layers: a run produced no finite accuracy")
                continue
            listing = ", ".join(f"{a} {100 * d['test_accuracy'][a]['mean']:.2f}%" for a in ACTS)
            parts.append(
                f"{L} weight layers: {listing}; gap {f['gap']:.2f} points ({f['best']} over "
                f"{f['worst']}, noise margin ±{f['margin']:.2f}) → {o}"
            )
        verdict = FAILS if "apart" in outcomes else PARTLY if "rough" in outcomes else HOLDS
        return Judgement(
            verdict,
            f"Mean MNIST test accuracy ({m['n_train']:,} training images, {m['steps']} Adam "
            f"steps per run) — " + "; ".join(parts) + ".",
        )

    def breaks(self, m):
        facts = []
        for L, d in m["depths"].items():
            _, f = self.depth_outcome(d["test_accuracy"])
            if f["gap"] is not None:
                facts.append((f["gap"], L, f))
        if not facts:
            return ""
        gap, L, f = max(facts)
        return (
            f"The activations drift furthest apart at {L} weight layers: {f['worst']} ends "
            f"{gap:.2f} points behind {f['best']} (margin ±{f['margin']:.2f}); the verdict "
            f"turns on whether that gap stays within {self.SAME:g} points or the margin."
        )

    def rows(self, m):
        out = [("training / test images", f"{m['n_train']:,} / {m['n_test']:,}")]
        out.append(("Adam steps per run", f"{m['steps']:,}"))
        for L, d in m["depths"].items():
            for a in ACTS:
                out.append(
                    (
                        f"{L} layers, {a}",
                        f"test accuracy {short_stat(d['test_accuracy'][a], scale=100, unit='%')}"
                        f", final training loss {short_stat(d['final_train_loss'][a])}",
                    )
                )
        return out

    def figures(self, m):
        depths = list(m["depths"])
        fig, axes = new_figure(len(depths), 2, width=5.2 * len(depths), height=6.6)
        axes = np.asarray(axes).reshape(2, len(depths))
        for j, L in enumerate(depths):
            d = m["depths"][L]
            ax, ax2 = axes[0, j], axes[1, j]
            for a in ACTS:
                for i, c in enumerate(d["curves"][a]):
                    x = np.linspace(0, m["steps"], len(c))
                    ax.plot(
                        x,
                        c,
                        color=ACTIVATION_COLORS[a],
                        lw=1.2,
                        alpha=0.9 if i == 0 else 0.45,
                        label=a if i == 0 else None,
                    )
            ax.set(
                xlabel="optimizer step",
                ylabel="training loss (batch, smoothed)",
                title=f"{L} weight layers: training loss (one line per seed)",
            )
            ax.legend(fontsize=8)
            means = [100 * d["test_accuracy"][a]["mean"] for a in ACTS]
            errs = [100 * (d["test_accuracy"][a]["std"] or 0) for a in ACTS]
            ax2.bar(ACTS, means, yerr=errs, capsize=4, color=[ACTIVATION_COLORS[a] for a in ACTS])
            ax2.set_ylim(max(0, min(means) - 5), 100)
            for i, v in enumerate(means):
                ax2.annotate(
                    f"{v:.2f}",
                    (i, v),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    xytext=(0, 3),
                    textcoords="offset points",
                )
            ax2.set(ylabel="test accuracy (%)", title=f"{L} weight layers: test accuracy")
        return [("loss curves and MNIST test accuracy per activation, at 2 and 3 layers", fig)]


# ============================================================================================
# C09 — deeper nets: sigmoid/tanh stall, ReLU/GELU converge
# ============================================================================================

INIT_NAMES = {
    "torch_default": "PyTorch nn.Linear default for every activation, W, b ~ U(±1/√fan_in)",
    "intended": "each activation's own rule: Xavier uniform (b = 0) for sigmoid/tanh, He "
    "normal (b = 0) for ReLU/GELU",
    "xavier_uniform": "Xavier/Glorot uniform, W ~ U(±√(6/(fan_in+fan_out))), b = 0",
}


@register
class DeepActivations(Experiment):
    """Training loss of MLPs with 4, 8 and 16 weight layers per activation and init rule.

    A net of depth D has D − 1 hidden layers of ``width`` units, trained with Adam (lr 1e-3,
    batch 64) on the full MNIST training set for a stated number of steps.  Two init rules:
    ``torch_default`` — one fixed rule for all activations, what the text's PyTorch code gets
    from ``nn.Linear`` — and ``intended`` — the rule each activation is meant for (Xavier for
    sigmoid/tanh, He for ReLU/GELU).  Seeds are paired: a seed gives every activation the same
    batch order.  A run's *final training loss* is measured on the first 10,000 training
    images; H is the loss of predicting the class frequencies (≈ ln 10 ≈ 2.30).  One cell
    per (init, depth, activation, seed).
    """

    id = "C09"
    title = "Deeper nets: sigmoid and tanh stall, ReLU and GELU converge"
    claim = (
        "Deeper nets (4+ layers): sigmoid and tanh barely move the loss; ReLU and GELU "
        "converge cleanly"
    )
    section = "6.3"
    measures = (
        "final training loss per activation at depths 4, 8, 16 on full MNIST, under one "
        "fixed init rule and under each activation's intended init"
    )
    STALL = 0.9
    CONVERGED = 0.5
    PREDICT = {"sigmoid": "stalled", "tanh": "stalled", "relu": "converged", "gelu": "converged"}
    rule = (
        "Per init rule, depth D and activation, with m = the mean final training loss over "
        f"seeds and e = {MARGIN_SE:g} standard errors of that mean: 'stalled' if m − e > "
        f"{STALL:g} × H (H = loss of predicting the class frequencies, ≈ 2.30); 'converged' if "
        f"m + e ≤ {CONVERGED:g} × H; 'slow' otherwise (between, or too noisy to say). The text "
        "predicts 'stalled' for sigmoid and tanh and 'converged' for ReLU and GELU — 4 "
        "predictions per depth and init rule; "
        + score_text("predictions (all depths, both init rules)")
    )
    profiles = {
        "tiny": {
            "subset": 600,
            "test": 500,
            "depths": [4, 8],
            "width": 16,
            "epochs": 1,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "intended"],
            "curve_points": 30,
            "eval_train": None,
        },
        "quick": {
            "subset": 3000,
            "test": 1000,
            "depths": [4, 8, 16],
            "width": 32,
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "intended"],
            "curve_points": 40,
            "eval_train": None,
        },
        "full": {
            "subset": None,
            "test": 2000,
            "depths": [4, 8, 16],
            "width": 64,
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "intended"],
            "curve_points": 60,
            "eval_train": 10000,
        },
        "paper": {
            "subset": None,
            "test": None,
            "depths": [4, 8, 16],
            "width": 256,
            "epochs": 5,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "intended"],
            "curve_points": 60,
            "eval_train": 10000,
        },
    }
    cost = {"tiny": 1.0, "quick": 14.0, "full": 200.0}

    def work(self, settings):
        """Rough cost of one seed: steps × layers × (a per-layer overhead equal to a
        64-wide layer's product + the products), over depths, inits and activations."""
        n = settings["subset"] or 54000
        steps = settings["epochs"] * math.ceil(n / settings["batch_size"])
        w = settings["width"]
        per_depth = sum(d * (1 + (w / 64) ** 2) for d in settings["depths"])
        return float(steps * per_depth * len(settings["inits"]) * len(ACTS))

    def cells(self, settings, seeds):
        """One cell per (init, depth, activation, seed), deepest first."""
        return [
            {"init": i, "depth": int(d), "activation": a, "seed": int(s)}
            for d in sorted(settings["depths"], reverse=True)
            for i in settings["inits"]
            for a in ACTS
            for s in seeds
        ]

    def measure_cell(self, settings, cell):
        """Train one net of ``depth`` weight layers; losses, accuracy and the curve."""
        data = mnist(settings["subset"], settings["test"])
        n_eval = settings.get("eval_train") or len(data[0])
        cfg = {**settings, "init": cell["init"]}
        hidden = [settings["width"]] * (cell["depth"] - 1)
        r = _train(cfg, cell["activation"], hidden, data, self.seed_rng(cell["seed"]))
        r.update(
            n_train=int(len(data[0])),
            n_eval=int(min(n_eval, len(data[0]))),
            n_test=int(len(data[2])),
            prior_entropy=prior_entropy(data[1][:n_eval], 10),
        )
        return r

    def combine(self, settings, seeds, results):
        """Per init, depth and activation: stats over seeds and the curves."""
        groups = self.group(settings, seeds, results, "init", "depth", "activation")
        first = results[0]
        out = {k: first[k] for k in ("n_train", "n_eval", "n_test", "steps", "prior_entropy")}
        out.update(width=settings["width"], inits={})
        for init in settings["inits"]:
            out["inits"][init] = {}
            for d in settings["depths"]:
                per = {}
                for a in ACTS:
                    runs = groups[(init, str(d), a)]
                    per[a] = {
                        "initial_loss": stat([r["initial_loss"] for r in runs]),
                        "final_train_loss": stat([r["final_train_loss"] for r in runs]),
                        "test_accuracy": stat([r["test_accuracy"] for r in runs]),
                        "curves": [r["curve"] for r in runs],
                        "steps": runs[0]["steps"],
                    }
                out["inits"][init][str(d)] = per
        return out

    @classmethod
    def outcome(cls, entropy, final) -> str:
        """``stalled``, ``converged`` or ``slow`` from H and a final-loss :func:`stat` (or a
        plain mean, taken with no margin)."""
        if isinstance(final, dict):
            mean = final.get("mean")
            n = final.get("n", 1) - final.get("nonfinite", 0)
            if final.get("nonfinite"):
                return "stalled"
            se = final["std"] / math.sqrt(n) if (n > 1 and final.get("std") is not None) else 0
        else:
            mean, se = final, 0.0
        if mean is None or not math.isfinite(mean):
            return "stalled"
        e = MARGIN_SE * se
        if mean - e > cls.STALL * entropy:
            return "stalled"
        if mean + e <= cls.CONVERGED * entropy:
            return "converged"
        return "slow"

    def judge(self, m):
        H = m["prior_entropy"]
        passed, total, parts = 0, 0, []
        for init, by_depth in m["inits"].items():
            ok_init = 0
            for depth, per in by_depth.items():
                cells = []
                for a in ACTS:
                    o = self.outcome(H, per[a]["final_train_loss"])
                    ok = o == self.PREDICT[a]
                    passed += ok
                    ok_init += ok
                    total += 1
                    mean = per[a]["final_train_loss"]["mean"]
                    loss = "—" if mean is None else f"{mean:.2f}"
                    cells.append(f"{a} {loss} {o}" + ("" if ok else " ✗"))
                parts.append(f"{init}, D={depth}: " + ", ".join(cells))
        verdict = score_verdict(passed, total)
        text = (
            f"Final training loss after {m['steps']:,} Adam steps on {m['n_train']:,} MNIST "
            f"images (width {m['width']}; H = {H:.2f}; ✗ = not as predicted) — "
            f"{'; '.join(parts)}. {passed}/{total} predictions true"
        )
        return Judgement(verdict, text + ".")

    def breaks(self, m):
        H = m["prior_entropy"]
        lines = []
        for a in ACTS:
            where = [
                (init, int(d))
                for init, by in m["inits"].items()
                for d, per in by.items()
                if self.outcome(H, per[a]["final_train_loss"]) == self.PREDICT[a]
            ]
            wrong = [
                (init, int(d))
                for init, by in m["inits"].items()
                for d, per in by.items()
                if (init, int(d)) not in where
            ]
            if wrong:
                lines.append(
                    f"{a} is not '{self.PREDICT[a]}' at "
                    + ", ".join(f"D={d} ({i})" for i, d in sorted(wrong, key=lambda x: x[1]))
                )
        if not lines:
            return "Every activation behaves as the text says at every depth under both inits."
        return "The text's split breaks where " + "; ".join(lines) + "."

    def rows(self, m):
        H = m["prior_entropy"]
        out = [
            ("training images / Adam steps per run", f"{m['n_train']:,} / {m['steps']:,}"),
            (f"loss of the best constant prediction H ({m['n_eval']:,} images)", f"{H:.3f}"),
        ]
        for init, by_depth in m["inits"].items():
            out.append((f"init rule {init}", INIT_NAMES.get(init, init)))
            for depth, per in by_depth.items():
                cells = " · ".join(
                    f"{a} {short_stat(per[a]['final_train_loss'])} "
                    f"({self.outcome(H, per[a]['final_train_loss'])})"
                    for a in ACTS
                )
                out.append((f"{init}, {depth} layers: final training loss", cells))
                acc = " · ".join(
                    f"{a} {short_stat(per[a]['test_accuracy'], scale=100, unit='%')}" for a in ACTS
                )
                out.append((f"{init}, {depth} layers: test accuracy ({m['n_test']:,})", acc))
        return out

    def figures(self, m):
        inits = list(m["inits"])
        depths = list(m["inits"][inits[0]])
        fig, axes = new_figure(
            len(depths), len(inits), width=3.8 * len(depths), height=3.1 * len(inits)
        )
        axes = np.array(axes).reshape(len(inits), len(depths))
        for row, init in enumerate(inits):
            for col, d in enumerate(depths):
                ax = axes[row, col]
                per = m["inits"][init][d]
                for a in ACTS:
                    for i, c in enumerate(per[a]["curves"]):
                        x = np.linspace(0, per[a]["steps"], len(c))
                        ax.plot(
                            x,
                            c,
                            color=ACTIVATION_COLORS[a],
                            lw=1.2,
                            alpha=0.9 if i == 0 else 0.4,
                            label=a if i == 0 else None,
                        )
                ax.axhline(m["prior_entropy"], color="grey", ls=":", lw=0.8)
                ax.set_ylim(0, 2.7)
                ax.set_title(f"{d} layers, {init} init", fontsize=9)
                if row == len(inits) - 1:
                    ax.set_xlabel("optimizer step")
            axes[row, 0].set_ylabel("training loss (smoothed)")
        axes[0, 0].legend(fontsize=8)
        return [("training loss per activation, depth and init rule (dotted: class prior)", fig)]
