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
    PARTLY,
    Experiment,
    Judgement,
    new_figure,
    register,
    score_verdict,
    short_stat,
    stat,
)

ACTS = ("sigmoid", "tanh", "relu", "gelu")


def _train(settings, act: str, hidden: list[int], data, rng) -> dict:
    """Build ``784 → hidden… → 10`` with ``act`` and the stated init, train, measure."""
    X, y, Xt, yt = data
    sizes = [X.shape[1], *hidden, 10]
    init = settings["init"]
    model = Network.from_sizes(
        sizes, act, init="xavier_uniform" if init == "torch_default" else init, rng=rng
    )
    if init == "torch_default":
        torch_default_init(model, rng)
    loss0 = float(model.loss(X, y))
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
    final = float(model.loss(X, y))
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
    """MNIST test accuracy of a 2-layer MLP (784 → H → 10) for each activation.

    Weights use the same rule for every activation — ``torch_default``, what the text's
    PyTorch code gets from ``nn.Linear``: W, b ~ U(±1/√fan_in) — so the activation is the only
    difference between the four runs of a seed.
    """

    id = "C08"
    title = "Shallow nets: sigmoid, tanh, ReLU, GELU reach about the same accuracy"
    claim = "Shallow nets (2–3 layers): sigmoid, tanh, ReLU, GELU end at roughly the same accuracy"
    section = "6.3"
    measures = "MNIST test accuracy per activation, same hyperparameters, several seeds"
    rule = (
        "Take each activation's mean test accuracy over seeds; spread = best − worst. holds if "
        "the spread is at most 2 percentage points, partly if at most 5, fails otherwise."
    )
    profiles = {
        "tiny": {
            "subset": 800,
            "test": 1000,
            "hidden": [32],
            "epochs": 1,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
        },
        "quick": {
            "subset": 5000,
            "test": None,
            "hidden": [64],
            "epochs": 4,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
        },
        "full": {
            "subset": None,
            "test": None,
            "hidden": [128],
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
            "init": "torch_default",
        },
    }
    cost = {"tiny": 1.0, "quick": 6.0, "full": 60.0}

    def measure(self, settings, seeds, rng):
        data = mnist(settings["subset"], settings["test"])
        runs = {a: [] for a in ACTS}
        for seed in seeds:
            for a in ACTS:
                runs[a].append(_train(settings, a, settings["hidden"], data, self.seed_rng(seed)))
        return {
            "n_train": int(len(data[0])),
            "n_test": int(len(data[2])),
            "test_accuracy": {a: stat([r["test_accuracy"] for r in runs[a]]) for a in ACTS},
            "final_train_loss": {a: stat([r["final_train_loss"] for r in runs[a]]) for a in ACTS},
            "curves": {a: [r["curve"] for r in runs[a]] for a in ACTS},
            "steps": runs[ACTS[0]][0]["steps"],
        }

    def judge(self, m):
        acc = {a: m["test_accuracy"][a]["mean"] for a in ACTS}
        if any(v is None for v in acc.values()):
            return Judgement(FAILS, "a run produced no finite accuracy")
        best = max(acc, key=acc.get)
        worst = min(acc, key=acc.get)
        spread = 100 * (acc[best] - acc[worst])
        verdict = HOLDS if spread <= 2 else PARTLY if spread <= 5 else FAILS
        listing = ", ".join(f"{a} {100 * acc[a]:.1f}%" for a in ACTS)
        return Judgement(
            verdict,
            f"Mean MNIST test accuracy: {listing} (n_train {m['n_train']}). Spread "
            f"{spread:.1f} points between {best} and {worst}.",
        )

    def rows(self, m):
        out = [("training / test images", f"{m['n_train']:,} / {m['n_test']:,}")]
        for a in ACTS:
            out.append(
                (
                    a,
                    f"test accuracy {short_stat(m['test_accuracy'][a], scale=100, unit='%')}, "
                    f"final training loss {short_stat(m['final_train_loss'][a])}",
                )
            )
        return out

    def figures(self, m):
        fig, (ax, ax2) = new_figure(2, 1, width=10, height=3.6)
        for a in ACTS:
            for i, c in enumerate(m["curves"][a]):
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
            title="Training loss per activation (one line per seed)",
        )
        ax.legend(fontsize=8)
        means = [100 * m["test_accuracy"][a]["mean"] for a in ACTS]
        errs = [100 * (m["test_accuracy"][a]["std"] or 0) for a in ACTS]
        ax2.bar(ACTS, means, yerr=errs, capsize=4, color=[ACTIVATION_COLORS[a] for a in ACTS])
        lo = min(means) - 5
        ax2.set_ylim(max(0, lo), 100)
        for i, v in enumerate(means):
            ax2.annotate(
                f"{v:.1f}",
                (i, v),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 3),
                textcoords="offset points",
            )
        ax2.set(ylabel="test accuracy (%)", title="MNIST test accuracy (mean ± std over seeds)")
        return [("shallow MLP: loss curves and test accuracy per activation", fig)]


# ============================================================================================
# C09 — deeper nets: sigmoid/tanh stall, ReLU/GELU converge
# ============================================================================================

INIT_NAMES = {
    "torch_default": "PyTorch nn.Linear default, W, b ~ U(±1/√fan_in)",
    "xavier_uniform": "Xavier/Glorot uniform, W ~ U(±√(6/(fan_in+fan_out))), b = 0",
}


@register
class DeepActivations(Experiment):
    """Training-loss curves of MLPs with 4, 8 and 16 weight layers per activation.

    A net of depth D has D − 1 hidden layers of ``width`` units.  Within one init rule every
    activation gets the same init and the same optimizer (Adam, lr 1e-3, batch 64).  Two init
    rules that treat all activations alike are measured: ``torch_default`` (the text's
    implicit setting, PyTorch's ``nn.Linear`` default) and ``xavier_uniform``.
    A run *stalls* when its final training loss is above 90 % of the loss of the best constant
    prediction (the entropy H of the class frequencies, ≈ ln 10 ≈ 2.30): it learned little
    beyond the class prior.  It *converges* when the final training loss is at most half of H:
    it has clearly left the prior behind within the budget.
    """

    id = "C09"
    title = "Deeper nets: sigmoid and tanh stall, ReLU and GELU converge"
    claim = (
        "Deeper nets (4+ layers): sigmoid and tanh barely move the loss; ReLU and GELU "
        "converge cleanly"
    )
    section = "6.3"
    measures = "loss curves per activation at depths 4, 8, 16 with the same init rule stated"
    rule = (
        "Per init rule, depth D and activation, on the mean over seeds: stalled = final train "
        "loss > 0.9 × H, the loss of predicting the class frequencies (≈ 2.30); converged = "
        "final train loss ≤ 0.5 × H; anything between is 'slow'. The text predicts 'stalled' for "
        "sigmoid and tanh and 'converged' for ReLU and GELU — 4 predictions per depth and init "
        "rule. holds if every prediction comes true, fails if at most half do, partly otherwise."
    )
    profiles = {
        "tiny": {
            "subset": 600,
            "depths": [4, 8],
            "width": 16,
            "epochs": 1,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default"],
            "curve_points": 30,
        },
        "quick": {
            "subset": 2000,
            "depths": [4, 8, 16],
            "width": 48,
            "epochs": 3,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "xavier_uniform"],
            "curve_points": 40,
        },
        "full": {
            "subset": 4000,
            "depths": [4, 8, 16],
            "width": 64,
            "epochs": 3,
            "lr": 1e-3,
            "batch_size": 64,
            "inits": ["torch_default", "xavier_uniform"],
            "curve_points": 60,
        },
    }
    cost = {"tiny": 1.0, "quick": 14.0, "full": 80.0}

    STALL = 0.9
    CONVERGED = 0.5
    PREDICT = {"sigmoid": "stalled", "tanh": "stalled", "relu": "converged", "gelu": "converged"}

    def measure(self, settings, seeds, rng):
        data = mnist(settings["subset"], 1000)
        out = {
            "n_train": int(len(data[0])),
            "prior_entropy": prior_entropy(data[1], 10),
            "inits": {},
        }
        for init in settings["inits"]:
            cfg = {**settings, "init": init}
            by_depth = {}
            for depth in settings["depths"]:
                hidden = [settings["width"]] * (depth - 1)
                per = {}
                for a in ACTS:
                    runs = [_train(cfg, a, hidden, data, self.seed_rng(s)) for s in seeds]
                    per[a] = {
                        "initial_loss": stat([r["initial_loss"] for r in runs]),
                        "final_train_loss": stat([r["final_train_loss"] for r in runs]),
                        "test_accuracy": stat([r["test_accuracy"] for r in runs]),
                        "curves": [r["curve"] for r in runs],
                        "steps": runs[0]["steps"],
                    }
                by_depth[str(depth)] = per
            out["inits"][init] = by_depth
        return out

    @classmethod
    def outcome(cls, entropy, final) -> str:
        """``stalled``, ``converged`` or ``slow`` from the prior entropy and the final loss."""
        if final is None or not math.isfinite(final):
            return "stalled"
        if final > cls.STALL * entropy:
            return "stalled"
        if final <= cls.CONVERGED * entropy:
            return "converged"
        return "slow"

    def judge(self, m):
        passed, total, parts, misses = 0, 0, [], []
        for init, by_depth in m["inits"].items():
            for depth, per in by_depth.items():
                cells = []
                for a in ACTS:
                    o = self.outcome(m["prior_entropy"], per[a]["final_train_loss"]["mean"])
                    ok = o == self.PREDICT[a]
                    passed += ok
                    total += 1
                    cells.append(f"{a} {per[a]['final_train_loss']['mean']:.2f} ({o})")
                    if not ok:
                        misses.append((a, init, depth))
                parts.append(f"{init}, D={depth}: " + ", ".join(cells))
        verdict = score_verdict(passed, total)
        text = (
            f"Final training loss (constant-prediction loss H = {m['prior_entropy']:.2f}) — "
            f"{'; '.join(parts)}. {passed}/{total} predictions true"
        )
        wrong: dict[str, dict[str, list[str]]] = {}
        for a, init, d in misses:
            wrong.setdefault(a, {}).setdefault(init, []).append(d)
        if wrong:
            text += "; not as predicted: " + "; ".join(
                f"{a} ({', '.join(f'{i} D={chr(44).join(ds)}' for i, ds in by.items())})"
                for a, by in wrong.items()
            )
        return Judgement(verdict, text + ".")

    def rows(self, m):
        out = [
            ("training images", f"{m['n_train']:,}"),
            ("loss of the best constant prediction H", f"{m['prior_entropy']:.3f}"),
        ]
        for init, by_depth in m["inits"].items():
            for depth, per in by_depth.items():
                cells = " · ".join(
                    f"{a} {short_stat(per[a]['final_train_loss'])} "
                    f"({self.outcome(m['prior_entropy'], per[a]['final_train_loss']['mean'])})"
                    for a in ACTS
                )
                out.append((f"{init}, {depth} layers: final training loss", cells))
                acc = " · ".join(
                    f"{a} {short_stat(per[a]['test_accuracy'], scale=100, unit='%')}" for a in ACTS
                )
                out.append((f"{init}, {depth} layers: test accuracy (1000 images)", acc))
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
                ax.set_title(f"{d} layers, {init}", fontsize=9)
                if row == len(inits) - 1:
                    ax.set_xlabel("optimizer step")
            axes[row, 0].set_ylabel("training loss (smoothed)")
        axes[0, 0].legend(fontsize=8)
        return [("training loss per activation, depth and init rule (dotted: class prior)", fig)]
