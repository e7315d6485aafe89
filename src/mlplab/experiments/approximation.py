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
from mlplab.experiments._common import torch_default_init
from mlplab.experiments.base import (
    FAILS,
    Experiment,
    Judgement,
    new_figure,
    register,
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


@register
class WidthSweep(Experiment):
    """MSE and maximum error of a 1-hidden-layer ReLU MLP on sin, per width, at a fixed budget."""

    id = "C11"
    title = "Width sweep on sin: 8 misses, 32 rough, 128 looks exact, wider only shrinks error"
    claim = (
        "Width sweep on sin over [−2π, 2π], 1024 points: 8 misses, 32 rough, 128 "
        "indistinguishable, 512+ no visible gain while error keeps shrinking"
    )
    section = "6.4"
    measures = "MSE and max error per width 8…2048, several seeds, fixed training budget"
    rule = (
        "On means over seeds, with 'visible' meaning a max error above 0.1 (5 % of the curve's "
        "height of 2): (a) width 8 misses — max error ≥ 0.5; (b) width 32 is rough — MSE below "
        "width 8's but max error > 0.1; (c) width 128 is indistinguishable — max error ≤ 0.1; "
        "(d) 512 and 2048 show no visible gain — max error ≤ 0.1 — while the error keeps "
        "shrinking — MSE(128) > MSE(512) > MSE(2048). holds if all four are true, partly if "
        "two or three, fails if at most one."
    )
    profiles = {
        "tiny": {
            "widths": [8, 32, 128, 512, 2048],
            "steps": 60,
            "batch_size": 128,
            "lr": 3e-3,
            "activation": "relu",
        },
        "quick": {
            "widths": [8, 32, 128, 512, 2048],
            "steps": 1500,
            "batch_size": 128,
            "lr": 3e-3,
            "activation": "relu",
        },
        "full": {
            "widths": [8, 32, 128, 512, 2048],
            "steps": 3000,
            "batch_size": 128,
            "lr": 3e-3,
            "activation": "relu",
        },
    }
    cost = {"tiny": 0.5, "quick": 8.0, "full": 60.0}

    VISIBLE = 0.1
    MISS = 0.5

    def measure(self, settings, seeds, rng):
        X, y, x_raw = _sin_points()
        n = len(X)
        epochs = max(1, math.ceil(settings["steps"] * settings["batch_size"] / n))
        keep = np.linspace(0, n - 1, 256).round().astype(int)
        out = {
            "n_points": n,
            "epochs": epochs,
            "steps": epochs * math.ceil(n / settings["batch_size"]),
            "x": [float(v) for v in x_raw[keep]],
            "widths": {},
        }
        for w in settings["widths"]:
            mse, mx, curves = [], [], []
            for seed in seeds:
                g = self.seed_rng(seed)
                model = Network.from_sizes(
                    [1, w, 1], settings["activation"], head="identity_mse", rng=g
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
                mse.append(float(np.mean(err**2)))
                mx.append(float(np.max(np.abs(err))))
                curves.append([float(v) for v in pred[keep]])
            out["widths"][str(w)] = {
                "mse": stat(mse),
                "max_error": stat(mx),
                "parameters": 3 * w + 1,
                "fit": curves[0],
            }
        return out

    def judge(self, m):
        W = m["widths"]
        need = {"8", "32", "128", "512", "2048"}
        if not need <= set(W):
            return Judgement(FAILS, f"widths {sorted(need - set(W))} were not measured")
        mse = {k: W[k]["mse"]["mean"] for k in need}
        mx = {k: W[k]["max_error"]["mean"] for k in need}
        if any(v is None for v in [*mse.values(), *mx.values()]):
            return Judgement(FAILS, "a run produced no finite error")
        checks = {
            "8 misses": mx["8"] >= self.MISS,
            "32 rough": mse["32"] < mse["8"] and mx["32"] > self.VISIBLE,
            "128 indistinguishable": mx["128"] <= self.VISIBLE,
            "512+ no visible gain, error shrinking": mx["512"] <= self.VISIBLE
            and mx["2048"] <= self.VISIBLE
            and mse["128"] > mse["512"] > mse["2048"],
        }
        passed = sum(checks.values())
        listing = "; ".join(
            f"{k}: MSE {mse[k]:.1e}, max error {mx[k]:.3f}"
            for k in ("8", "32", "128", "512", "2048")
        )
        text = f"After {m['steps']} Adam steps per width — {listing}. {passed}/4 parts true" + (
            f"; not true: {', '.join(k for k, ok in checks.items() if not ok)}"
            if passed < 4
            else ""
        )
        return Judgement(score_verdict(passed, 4, fails_at_most=1), text + ".")

    def rows(self, m):
        out = [("training budget", f"{m['steps']} Adam steps ({m['epochs']} epochs) per width")]
        for w, r in m["widths"].items():
            out.append(
                (
                    f"width {w} ({r['parameters']:,} parameters)",
                    f"MSE {short_stat(r['mse'])}, max error {short_stat(r['max_error'])}",
                )
            )
        return out

    def figures(self, m):
        widths = list(m["widths"])
        x = np.asarray(m["x"])
        fig, axes = new_figure(len(widths), 1, width=3.0 * len(widths), height=2.8)
        for ax, w in zip(np.atleast_1d(axes), widths):
            ax.plot(x, np.sin(x), color="black", lw=2.2, alpha=0.35, label="sin x")
            ax.plot(x, m["widths"][w]["fit"], color="tab:blue", lw=1.2, label="MLP")
            ax.set_title(
                f"width {w}: max err {m['widths'][w]['max_error']['mean']:.2f}", fontsize=9
            )
            ax.set_ylim(-1.5, 1.5)
            ax.set_xticks([-2 * np.pi, 0, 2 * np.pi], ["−2π", "0", "2π"])
        np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
        fig2, ax2 = new_figure(width=6.4, height=3.6)
        ws = np.array([int(w) for w in widths])
        for key, label, color in (
            ("mse", "MSE", "tab:blue"),
            ("max_error", "max |error|", "tab:red"),
        ):
            mean = np.array([m["widths"][w][key]["mean"] for w in widths], dtype=float)
            lo = np.array([m["widths"][w][key]["min"] for w in widths], dtype=float)
            hi = np.array([m["widths"][w][key]["max"] for w in widths], dtype=float)
            ax2.loglog(ws, mean, "o-", color=color, label=label)
            ax2.fill_between(ws, lo, hi, color=color, alpha=0.15)
        ax2.axhline(self.VISIBLE, color="grey", ls=":", lw=1)
        ax2.set(
            xlabel="hidden width",
            ylabel="error on the 1024 points",
            title="Error vs width (band: min–max over seeds; dotted: 0.1)",
        )
        ax2.legend(fontsize=8)
        return [
            ("fits at each width with the target sin x (seed 0)", fig),
            ("MSE and max error vs width", fig2),
        ]
