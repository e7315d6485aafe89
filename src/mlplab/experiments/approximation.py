"""Universal approximation in practice (C11): one hidden layer of growing width fitting sin.

The text's demo (§6.4): a single-hidden-layer MLP of width 8 → 32 → 128 → 512 → 2048 fits
y = sin x on [−2π, 2π] from 1024 evenly spaced points with the MSE loss.  Here each width is
trained by the engine with the same fixed budget (optimizer steps, batch size, learning rate)
from the PyTorch ``nn.Linear`` default init, and the fit is measured on the 1024 points.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import fit
from mlplab.experiments._common import ACTIVATION_COLORS, torch_default_init
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
    score_text,
    score_verdict,
    short_stat,
    stat,
)


def _sin_points():
    """The 1024 points of the text, inputs z-scored (x / σ_x), targets sin x; sorted by x."""
    from mlplab.data import load_dataset

    ds = load_dataset("sin", seed=0, val_fraction=0.0, test_fraction=0.0)
    order = np.argsort(ds.X_train[:, 0])
    X = ds.X_train[order].astype(np.float32)
    x_raw = ds.mean_[0] + ds.scale_[0] * ds.X_train[order, 0]
    return X, ds.y_train[order], x_raw


ACTS = ("sigmoid", "tanh", "relu", "gelu")

#: Widths the rule names; every one must be measured.
WIDTHS = ("8", "32", "128", "512", "2048")


@register
class WidthSweep(Experiment):
    """MSE and maximum error of 1-hidden-layer MLPs on sin, per activation and width, at one
    fixed budget (the same Adam steps, batch and learning rate at every width).

    The four activations of the text's comparison (sigmoid, tanh, ReLU, GELU) each get the
    whole sweep.  Seeds are paired across widths (a seed fixes the batch order and the init
    stream).  One cell per (activation, width, seed).
    """

    id = "C11"
    title = "Width sweep on sin: 8 misses, 32 rough, 128 looks exact, wider only shrinks error"
    claim = (
        "Width sweep on sin over [−2π, 2π], 1024 points: 8 misses, 32 rough, 128 "
        "indistinguishable, 512+ no visible gain while error keeps shrinking"
    )
    section = "6.4"
    measures = (
        "MSE and max error per width 8…2048 for sigmoid, tanh, ReLU and GELU, paired seeds, "
        "one fixed training budget"
    )
    VISIBLE = 0.1
    MISS = 0.5
    rule = (
        "Per activation, on means over seeds, with 'visible' meaning a max error above "
        f"{VISIBLE:g} (5 % of the curve's height of 2): (a) width 8 misses — max error ≥ "
        f"{MISS:g}; (b) width 32 is rough — MSE below width 8's and max error > {VISIBLE:g}; "
        f"(c) width 128 is indistinguishable — max error ≤ {VISIBLE:g}; (d) 512 and 2048 show "
        f"no visible gain — max error ≤ {VISIBLE:g} — while the error keeps shrinking — "
        "log MSE(128) > log MSE(512) > log MSE(2048), each step beyond a noise margin of "
        + margin_text()
        + ". An activation's verdict: "
        + score_text("four parts", fails_at_most=1)
        + " Overall: holds if every activation holds, fails if every activation fails, "
        "partly otherwise."
    )
    profiles = {
        "tiny": {
            "widths": [8, 32, 128, 512, 2048],
            "activations": ["tanh", "relu"],
            "steps": 60,
            "batch_size": 128,
            "lr": 3e-3,
        },
        "quick": {
            "widths": [8, 32, 128, 512, 2048],
            "activations": list(ACTS),
            "steps": 800,
            "batch_size": 128,
            "lr": 3e-3,
        },
        "full": {
            "widths": [8, 32, 128, 512, 2048],
            "activations": list(ACTS),
            "steps": 2000,
            "batch_size": 128,
            "lr": 3e-3,
        },
        "paper": {
            "widths": [8, 32, 128, 512, 2048],
            "activations": list(ACTS),
            "steps": 10000,
            "batch_size": 128,
            "lr": 3e-3,
        },
    }
    cost = {"tiny": 0.5, "quick": 8.0, "full": 80.0}

    def work(self, settings):
        """Rough cost of one seed: steps × Σ widths (a fixed per-step overhead + the width)."""
        per = sum(1 + w / 256 for w in settings["widths"])
        return float(settings["steps"] * per * len(settings["activations"]))

    def cells(self, settings, seeds):
        """One cell per (activation, width, seed), widest first."""
        return [
            {"activation": a, "width": int(w), "seed": int(s)}
            for w in sorted(settings["widths"], reverse=True)
            for a in settings["activations"]
            for s in seeds
        ]

    def measure_cell(self, settings, cell):
        """Train one width; MSE, max error and the fitted curve on 256 of the points."""
        X, y, x_raw = _sin_points()
        n = len(X)
        epochs = max(1, math.ceil(settings["steps"] * settings["batch_size"] / n))
        keep = np.linspace(0, n - 1, 256).round().astype(int)
        g = self.seed_rng(cell["seed"])
        model = Network.from_sizes(
            [1, cell["width"], 1], cell["activation"], head="identity_mse", rng=g
        )
        torch_default_init(model, g)
        fit(
            model,
            X,
            y,
            optimizer="adam",
            lr=settings["lr"],
            epochs=epochs,
            batch_size=settings["batch_size"],
            rng=g,
        )
        pred = np.asarray(model.predict(X), dtype=np.float64)
        err = pred - y
        return {
            "n_points": n,
            "epochs": epochs,
            "steps": epochs * math.ceil(n / settings["batch_size"]),
            "x": [float(v) for v in x_raw[keep]],
            "mse": float(np.mean(err**2)),
            "max_error": float(np.max(np.abs(err))),
            "fit": [float(v) for v in pred[keep]],
        }

    def combine(self, settings, seeds, results):
        """Per activation and width: stats over seeds (seed order kept) and seed 0's fit."""
        groups = self.group(settings, seeds, results, "activation", "width")
        first = results[0]
        out = {k: first[k] for k in ("n_points", "epochs", "steps", "x")}
        out["activations"] = {}
        for a in settings["activations"]:
            out["activations"][a] = {}
            for w in sorted(settings["widths"]):
                runs = groups[(a, str(w))]
                out["activations"][a][str(w)] = {
                    "mse": stat([r["mse"] for r in runs]),
                    "max_error": stat([r["max_error"] for r in runs]),
                    "parameters": 3 * int(w) + 1,
                    "fit": runs[0]["fit"],
                }
        return out

    def checks(self, W: dict) -> dict | None:
        """The four parts for one activation's widths; None when a width is missing."""
        if not set(WIDTHS) <= set(W):
            return None
        mse = {k: W[k]["mse"]["mean"] for k in WIDTHS}
        mx = {k: W[k]["max_error"]["mean"] for k in WIDTHS}
        if any(v is None for v in [*mse.values(), *mx.values()]):
            return None

        def logs(k):
            return [math.log(v) if v and v > 0 else None for v in W[k]["mse"]["per_seed"]]

        shrink1 = paired(logs("128"), logs("512"))["outcome"] == "a"
        shrink2 = paired(logs("512"), logs("2048"))["outcome"] == "a"
        return {
            "8 misses": mx["8"] >= self.MISS,
            "32 rough": mse["32"] < mse["8"] and mx["32"] > self.VISIBLE,
            "128 indistinguishable": mx["128"] <= self.VISIBLE,
            "512+ no visible gain, error shrinking": mx["512"] <= self.VISIBLE
            and mx["2048"] <= self.VISIBLE
            and shrink1
            and shrink2,
        }

    def judge(self, m):
        verdicts, parts = {}, []
        for a, W in m["activations"].items():
            c = self.checks(W)
            if c is None:
                verdicts[a] = FAILS
                parts.append(f"{a}: a width was not measured or gave no finite error")
                continue
            passed = sum(c.values())
            verdicts[a] = score_verdict(passed, 4, fails_at_most=1)
            listing = ", ".join(
                f"{k}: {W[k]['mse']['mean']:.1e}/{W[k]['max_error']['mean']:.3f}" for k in WIDTHS
            )
            miss = [k for k, ok in c.items() if not ok]
            parts.append(
                f"{a} ({verdicts[a]}, {passed}/4) — {listing}"
                + (f"; not true: {', '.join(miss)}" if miss else "")
            )
        vs = list(verdicts.values())
        overall = (
            HOLDS
            if all(v == HOLDS for v in vs)
            else FAILS
            if all(v == FAILS for v in vs)
            else PARTLY
        )
        text = (
            f"After {m['steps']} Adam steps at every width (batch 128), per width MSE/max "
            f"error — " + "; ".join(parts)
        )
        return Judgement(overall, text + ".")

    def breaks(self, m):
        best = []
        for a, W in m["activations"].items():
            ok = [
                k
                for k in WIDTHS
                if W[k]["max_error"]["mean"] is not None
                and W[k]["max_error"]["mean"] <= self.VISIBLE
            ]
            best.append(f"{a} at width {ok[0]}" if ok else f"{a} at no width up to 2048")
        return (
            f"The fit first looks exact (max error ≤ {self.VISIBLE:g}) for "
            + ", ".join(best)
            + f" after {m['steps']} steps; the text's 128 depends on the activation and budget."
        )

    def rows(self, m):
        out = [("training budget", f"{m['steps']} Adam steps ({m['epochs']} epochs) per width")]
        for a, W in m["activations"].items():
            for w, r in W.items():
                out.append(
                    (
                        f"{a}, width {w} ({r['parameters']:,} parameters)",
                        f"MSE {short_stat(r['mse'])}, max error {short_stat(r['max_error'])}",
                    )
                )
        return out

    def figures(self, m):
        acts = list(m["activations"])
        widths = list(m["activations"][acts[0]])
        x = np.asarray(m["x"])
        fig, axes = new_figure(
            len(widths), len(acts), width=2.6 * len(widths), height=2.2 * len(acts)
        )
        axes = np.asarray(axes).reshape(len(acts), len(widths))
        for i, a in enumerate(acts):
            for j, w in enumerate(widths):
                ax = axes[i, j]
                ax.plot(x, np.sin(x), color="black", lw=2.2, alpha=0.35)
                ax.plot(x, m["activations"][a][w]["fit"], color=ACTIVATION_COLORS[a], lw=1.2)
                ax.set_title(
                    f"{a}, width {w}: max err {m['activations'][a][w]['max_error']['mean']:.2f}",
                    fontsize=8,
                )
                ax.set_ylim(-1.5, 1.5)
                ax.set_xticks([-2 * np.pi, 0, 2 * np.pi], ["−2π", "0", "2π"])
        fig2, (ax2, ax3) = new_figure(2, 1, width=10, height=3.6)
        for a in acts:
            W = m["activations"][a]
            ws = np.array([int(w) for w in widths])
            for ax, key in ((ax2, "mse"), (ax3, "max_error")):
                mean = np.array([W[w][key]["mean"] for w in widths], dtype=float)
                lo = np.array([W[w][key]["min"] for w in widths], dtype=float)
                hi = np.array([W[w][key]["max"] for w in widths], dtype=float)
                ax.loglog(ws, mean, "o-", color=ACTIVATION_COLORS[a], label=a)
                ax.fill_between(ws, lo, hi, color=ACTIVATION_COLORS[a], alpha=0.12)
        ax3.axhline(self.VISIBLE, color="grey", ls=":", lw=1)
        ax2.set(xlabel="hidden width", ylabel="MSE on the 1024 points", title="MSE vs width")
        ax3.set(
            xlabel="hidden width",
            ylabel="max |error|",
            title=f"Max error vs width (dotted: {self.VISIBLE:g}; band: min–max over seeds)",
        )
        ax2.legend(fontsize=8)
        return [
            ("fits per activation and width with the target sin x (seed 0)", fig),
            ("MSE and max error vs width per activation", fig2),
        ]
