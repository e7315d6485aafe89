"""How gradients and activations travel through depth: vanishing through sigmoid layers (C10),
ReLU's untouched positive side (C14) and the sensitivity to initialisation (C18).

All numbers come from the engine's own backward pass: ``Network.loss_and_grad`` fills the
per-layer deltas that ``Network.trace()`` exposes, and the per-layer norms are read from there.
Norms are measured on a fixed probe batch of real images (MNIST, or scikit-learn's 8×8 digits
in the tiny test profile).
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.layers import ActivationLayer
from mlplab.core.network import Network
from mlplab.core.train import Callback, fit
from mlplab.experiments._common import (
    ACTIVATION_COLORS,
    LossRecorder,
    delta_norms,
    loglinear_factor,
    mnist,
    prior_entropy,
    smooth,
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


def _data(settings):
    """Training rows ``(X, y)`` (float32) of the configured set."""
    if settings["data"] == "digits":
        from mlplab.data import load_dataset

        ds = load_dataset("digits", seed=0)
        return ds.X_train.astype(np.float32), ds.y_train
    X, y, _, _ = mnist(settings["subset"], 1)
    return X, y


def _net(X, act, depth, width, init, rng) -> Network:
    sizes = [X.shape[1], *([width] * depth), 10]
    return Network.from_sizes(sizes, act, init=init, rng=rng)


def _probe(model: Network, Xp, yp) -> dict:
    """One forward + backward on the probe batch: per hidden layer δ RMS, h std, mean φ′."""
    loss = model.loss_and_grad(Xp, yp, training=False)
    blocks = model.trace()[:-1]
    phi = []
    for b in blocks:
        z = np.asarray(b["z"], dtype=np.float64)
        phi.append(float(np.mean(get_activation(b["activation"]).df(z))))
    return {
        "loss": float(loss),
        "delta_rms": delta_norms(model),
        "h_std": [float(np.std(np.asarray(b["h"], dtype=np.float64))) for b in blocks],
        "mean_dphi": phi,
    }


class _ProbeEachEpoch(Callback):
    """After each epoch, measure the probe batch again (gradients are recomputed, not reused)."""

    def __init__(self, Xp, yp):
        self.Xp, self.yp = Xp, yp
        self.records: list[dict] = []

    def on_epoch_end(self, trainer) -> None:
        self.records.append(_probe(trainer.model, self.Xp, self.yp))


def _mean_curve(curves) -> list:
    """Element-wise mean of per-seed per-layer lists (NaN where a value is missing)."""
    arr = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=np.float64)
    with np.errstate(all="ignore"):
        return [None if not np.isfinite(v) else float(v) for v in np.nanmean(arr, axis=0)]


def _factor_stat(norm_lists, *, forward: bool = False) -> dict:
    """Fitted per-layer factor per seed: backward (g_ℓ / g_{ℓ+1}) or forward (g_{ℓ+1} / g_ℓ)."""
    vals = []
    for n in norm_lists:
        f = loglinear_factor(n)["factor"]
        vals.append(float("nan") if f is None else (1.0 / f if forward else f))
    return stat(vals)


# ============================================================================================
# C10 — gradients shrink like 0.25^L through sigmoid layers
# ============================================================================================


@register
class SigmoidVanishing(Experiment):
    """Per-layer gradient size through a deep sigmoid MLP, at init and while it trains.

    The gradient signal of hidden layer ℓ is δ^(ℓ) = ∂L/∂z^(ℓ); its RMS over the probe batch
    is fitted by ``log ‖δ^(ℓ)‖ = a − ℓ·log r`` and ``r`` — the factor by which one layer's
    gradient is smaller than the next one's — is compared with 0.25.  Weights start Xavier
    uniform, which keeps ``Wᵀδ`` at the size of δ on average, so r isolates the φ′ factor the
    claim is about.  Training is plain SGD; the probe is re-measured after every epoch.
    """

    id = "C10"
    title = "Gradients shrink by about 0.25 per sigmoid layer"
    claim = "Gradients shrink like 0.25^L through sigmoid layers"
    section = "4.4, 6.3, 8.1"
    measures = "per-layer gradient norms at init and during training; fitted decay per layer"
    rule = (
        "Fit the per-layer factor r of the gradient RMS ‖δ^(ℓ)‖ across the hidden layers (mean "
        "over seeds) at init and after the last training epoch. holds if both lie within a "
        "factor 2 of 0.25 (0.125 ≤ r ≤ 0.5); partly if gradients do shrink (r < 0.8) at both "
        "times but at least one r is outside that band; fails if r ≥ 0.8 at either time."
    )
    profiles = {
        "tiny": {
            "data": "digits",
            "subset": None,
            "depth": 6,
            "width": 32,
            "probe": 128,
            "epochs": 2,
            "lr": 0.1,
            "batch_size": 64,
        },
        "quick": {
            "data": "mnist",
            "subset": 3000,
            "depth": 10,
            "width": 64,
            "probe": 256,
            "epochs": 3,
            "lr": 0.1,
            "batch_size": 64,
        },
        "full": {
            "data": "mnist",
            "subset": 10000,
            "depth": 12,
            "width": 128,
            "probe": 512,
            "epochs": 4,
            "lr": 0.1,
            "batch_size": 64,
        },
    }
    cost = {"tiny": 0.5, "quick": 3.0, "full": 30.0}

    LO, HI, SHRINK = 0.125, 0.5, 0.8

    def measure(self, settings, seeds, rng):
        X, y = _data(settings)
        Xp, yp = X[: settings["probe"]], y[: settings["probe"]]
        init_d, last_d, dphi, per_epoch, loss0, loss1 = [], [], [], [], [], []
        for seed in seeds:
            g = self.seed_rng(seed)
            model = _net(X, "sigmoid", settings["depth"], settings["width"], "xavier_uniform", g)
            p0 = _probe(model, Xp, yp)
            cb = _ProbeEachEpoch(Xp, yp)
            fit(
                model,
                X,
                y,
                optimizer="sgd",
                lr=settings["lr"],
                epochs=settings["epochs"],
                batch_size=settings["batch_size"],
                rng=g,
                callbacks=[cb],
            )
            loss0.append(p0["loss"])
            loss1.append(cb.records[-1]["loss"] if cb.records else p0["loss"])
            init_d.append(p0["delta_rms"])
            dphi.append(p0["mean_dphi"])
            last_d.append(cb.records[-1]["delta_rms"] if cb.records else p0["delta_rms"])
            per_epoch.append([loglinear_factor(r["delta_rms"])["factor"] for r in cb.records])
        return {
            "depth": settings["depth"],
            "factor_init": _factor_stat(init_d),
            "factor_trained": _factor_stat(last_d),
            "factor_per_epoch": per_epoch,
            "r2_init": stat([loglinear_factor(d)["r2"] or float("nan") for d in init_d]),
            "probe_loss_init": stat(loss0),
            "probe_loss_trained": stat(loss1),
            "delta_rms_init": _mean_curve(init_d),
            "delta_rms_trained": _mean_curve(last_d),
            "mean_sigmoid_derivative": _mean_curve(dphi),
        }

    def breaks(self, m):
        a, b = m["factor_init"]["mean"], m["factor_trained"]["mean"]
        return (
            f"The fitted factor per sigmoid layer is {a:.3f} at init and {b:.3f} after "
            "training; it would leave the claim's band outside [0.125, 0.5], e.g. with weights "
            "large enough to lift σ′ or small enough to saturate it."
        )

    def judge(self, m):
        r0, r1 = m["factor_init"]["mean"], m["factor_trained"]["mean"]
        if r0 is None or r1 is None:
            return Judgement(FAILS, "the gradient norms were not finite and positive")
        band = [self.LO <= r <= self.HI for r in (r0, r1)]
        text = (
            f"Fitted per-layer factor over {m['depth']} sigmoid layers: {r0:.3f} at init, "
            f"{r1:.3f} after training (claim: 0.25; mean σ′ per layer at init "
            f"{np.nanmean([v for v in m['mean_sigmoid_derivative'] if v is not None]):.3f}); "
            f"probe loss {m['probe_loss_init']['mean']:.3f} → "
            f"{m['probe_loss_trained']['mean']:.3f} over the training"
        )
        if all(band):
            return Judgement(HOLDS, text + "; both within a factor 2 of 0.25.")
        if r0 < self.SHRINK and r1 < self.SHRINK:
            return Judgement(PARTLY, text + "; gradients shrink, but not at the stated rate.")
        return Judgement(FAILS, text + "; the gradient does not shrink layer by layer.")

    def figures(self, m):
        fig, (ax, ax2) = new_figure(2, 1, width=10, height=3.6)
        layers = np.arange(1, len(m["delta_rms_init"]) + 1)
        for key, label, color in (
            ("delta_rms_init", "at init", "tab:red"),
            ("delta_rms_trained", "after training", "tab:purple"),
        ):
            v = np.array([np.nan if x is None else x for x in m[key]])
            ax.semilogy(layers, v, "o-", color=color, label=label)
        top = m["delta_rms_init"][-1]
        if top:
            ref = top * 0.25 ** (layers[-1] - layers)
            ax.semilogy(layers, ref, "k:", label="0.25 per layer")
        ax.set(
            xlabel="hidden layer ℓ (1 = next to the input)",
            ylabel="RMS of δ^(ℓ)",
            title="Gradient size per sigmoid layer",
        )
        ax.legend(fontsize=8)
        eps = m["factor_per_epoch"]
        for i, f in enumerate(eps):
            xs = [0, *range(1, len(f) + 1)]
            ys = [m["factor_init"]["per_seed"][i], *f]
            ax2.plot(xs, ys, "o-", color="tab:red", alpha=0.8 if i == 0 else 0.4)
        ax2.axhline(0.25, color="k", ls=":", lw=1)
        ax2.axhspan(self.LO, self.HI, color="tab:green", alpha=0.08)
        ax2.set(
            xlabel="epoch",
            ylabel="fitted factor per layer",
            title="Fitted factor while training (band: 0.125–0.5)",
        )
        return [("per-layer gradient size through sigmoid layers", fig)]


# ============================================================================================
# C14 — ReLU passes the gradient untouched on its positive side
# ============================================================================================


@register
class ReluPassThrough(Experiment):
    """δ through ReLU layers (He init) against sigmoid and tanh (Xavier init), at init.

    Two measurements: the exact identity ``∂L/∂z = ∂L/∂h`` on every unit with z > 0 (and 0
    where z < 0), read from the engine's stored deltas; and the per-layer factor of the
    gradient RMS across the hidden layers, for each activation with its usual init.
    """

    id = "C14"
    title = "ReLU passes the gradient untouched on its positive side"
    claim = "ReLU passes gradient untouched on the positive side"
    section = "6.3, 8.1"
    measures = "per-layer gradient-norm ratio for ReLU with He init vs sigmoid/tanh"
    rule = (
        "(a) On every ReLU unit with z > 0, ∂L/∂z equals ∂L/∂h exactly (max relative "
        "difference ≤ 1e-12) and is 0 where z < 0; (b) the fitted per-layer factor of the "
        "gradient RMS through ReLU + He layers is within [0.8, 1.25]. holds if (a) and (b); "
        "partly if only (a); fails if not (a). The factors of sigmoid and tanh (Xavier) are "
        "measured as the contrast and reported, but the claim is about ReLU and they do not "
        "enter the verdict."
    )
    profiles = {
        "tiny": {"data": "digits", "subset": None, "depth": 6, "width": 32, "probe": 128},
        "quick": {"data": "mnist", "subset": 1000, "depth": 12, "width": 128, "probe": 256},
        "full": {"data": "mnist", "subset": 2000, "depth": 20, "width": 256, "probe": 512},
    }
    cost = {"tiny": 0.3, "quick": 1.5, "full": 8.0}

    SETUPS = {"relu": "he_normal", "sigmoid": "xavier_uniform", "tanh": "xavier_uniform"}

    def measure(self, settings, seeds, rng):
        X, y = _data(settings)
        Xp, yp = X[: settings["probe"]], y[: settings["probe"]]
        norms = {a: [] for a in self.SETUPS}
        pos_dev, neg_max, frac_pos = [], [], []
        for seed in seeds:
            for act, init in self.SETUPS.items():
                model = _net(
                    X, act, settings["depth"], settings["width"], init, self.seed_rng(seed)
                )
                norms[act].append(_probe(model, Xp, yp)["delta_rms"])
                if act != "relu":
                    continue
                dev, neg, frac = 0.0, 0.0, []
                for i, layer in enumerate(model.layers):
                    if not isinstance(layer, ActivationLayer):
                        continue
                    dh, dz, z = model.deltas[i], model.deltas[i - 1], layer.z
                    pos = z > 0
                    scale = max(float(np.max(np.abs(dh))), 1e-300)
                    dev = max(dev, float(np.max(np.abs(dz[pos] - dh[pos]), initial=0)) / scale)
                    neg = max(neg, float(np.max(np.abs(dz[~pos]), initial=0)))
                    frac.append(float(np.mean(pos)))
                pos_dev.append(dev)
                neg_max.append(neg)
                frac_pos.append(float(np.mean(frac)))
        return {
            "depth": settings["depth"],
            "relu_positive_max_rel_dev": stat(pos_dev),
            "relu_negative_max_abs_delta": stat(neg_max),
            "relu_fraction_positive": stat(frac_pos),
            "factor": {a: _factor_stat(n) for a, n in norms.items()},
            "delta_rms": {a: _mean_curve(n) for a, n in norms.items()},
            "inits": dict(self.SETUPS),
        }

    def breaks(self, m):
        f = {a: s["mean"] for a, s in m["factor"].items()}
        return (
            f"ReLU+He keeps the gradient per layer at {f['relu']:.3f}, against sigmoid "
            f"{f['sigmoid']:.3f} and tanh {f['tanh']:.3f} with Xavier; the pass-through is "
            "exact only on the positive side — units with z < 0 pass nothing."
        )

    def judge(self, m):
        f = {a: m["factor"][a]["mean"] for a in self.SETUPS}
        a_ok = (
            m["relu_positive_max_rel_dev"]["max"] <= 1e-12
            and m["relu_negative_max_abs_delta"]["max"] == 0.0
        )
        b_ok = f["relu"] is not None and 0.8 <= f["relu"] <= 1.25
        text = (
            f"On positive ReLU units ∂L/∂z − ∂L/∂h is at most "
            f"{m['relu_positive_max_rel_dev']['max']:.1e} (relative), on negative units |∂L/∂z| "
            f"≤ {m['relu_negative_max_abs_delta']['max']:.1e}; fitted per-layer factor over "
            f"{m['depth']} layers: ReLU+He {f['relu']:.3f}, sigmoid+Xavier {f['sigmoid']:.3f}, "
            f"tanh+Xavier {f['tanh']:.3f}"
        )
        shrinkers = [a for a in ("sigmoid", "tanh") if f[a] is not None and f[a] < 0.8]
        context = (
            f" For contrast, {' and '.join(shrinkers) or 'neither sigmoid nor tanh'} shrink"
            f"{'s' if len(shrinkers) == 1 else ''} the gradient per layer (factor < 0.8)"
        )
        if "tanh" not in shrinkers and f["tanh"] is not None:
            context += (
                f"; tanh with Xavier keeps it near 1 ({f['tanh']:.2f}) at init because tanh′ ≈ 1 "
                "around 0"
            )
        if a_ok and b_ok:
            return Judgement(HOLDS, f"{text}.{context}.")
        if a_ok:
            return Judgement(PARTLY, f"{text}; ReLU's factor is outside [0.8, 1.25].{context}.")
        return Judgement(FAILS, f"{text}; the positive side does not pass δ unchanged.")

    def figures(self, m):
        fig, ax = new_figure(width=7, height=3.8)
        for a in self.SETUPS:
            v = np.array([np.nan if x is None else x for x in m["delta_rms"][a]])
            ax.semilogy(
                np.arange(1, len(v) + 1),
                v,
                "o-",
                color=ACTIVATION_COLORS[a],
                label=f"{a} ({m['inits'][a]}), factor {m['factor'][a]['mean']:.2f}",
            )
        ax.set(
            xlabel="hidden layer ℓ (1 = next to the input)",
            ylabel="RMS of δ^(ℓ) at init",
            title="Gradient size per layer: ReLU + He vs sigmoid / tanh + Xavier",
        )
        ax.legend(fontsize=8)
        return [("per-layer gradient size at init per activation", fig)]


# ============================================================================================
# C18 — N(0, 1) init: exponential growth or decay; Xavier / He fix it
# ============================================================================================


@register
class InitSensitivity(Experiment):
    """Activation and gradient size per layer for each init, and whether training starts.

    For tanh and ReLU nets of ``depth`` hidden layers, each of three inits — N(0, 1), Xavier
    uniform, He normal — is measured at init (std of h^(ℓ), RMS of δ^(ℓ), fraction of
    saturated tanh units |h| > 0.99) and then trained briefly with Adam.  A run *fails to
    start* when its loss is not finite or stays above 0.9 × H (H: the loss of predicting the
    class frequencies).
    """

    id = "C18"
    title = "Init sensitivity: N(0,1) blows up or vanishes with depth; Xavier / He fix it"
    claim = (
        "Init sensitivity: N(0,1) init makes activations/gradients grow or shrink exponentially "
        "with depth; Xavier/He fix it"
    )
    section = "4.4, 8.5"
    measures = "per-layer activation std vs depth per init; NaN/flat-loss outcomes"
    rule = (
        "Per (activation, init), on means over seeds: 'exponential' = the fitted per-layer "
        "factor of the activation std or of the gradient RMS is outside [0.5, 2]; 'steady' = "
        "both within [2/3, 3/2]; training 'starts' = finite loss below 0.9 × H after the budget. "
        "Predictions: tanh+N(0,1) and ReLU+N(0,1) are exponential or fail to start; tanh+Xavier "
        "and ReLU+He are steady and start. holds if all four come true, partly if two or three, "
        "fails otherwise."
    )
    profiles = {
        "tiny": {
            "data": "digits",
            "subset": None,
            "depth": 6,
            "width": 32,
            "probe": 128,
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
        },
        "quick": {
            "data": "mnist",
            "subset": 2000,
            "depth": 16,
            "width": 128,
            "probe": 256,
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
        },
        "full": {
            "data": "mnist",
            "subset": 4000,
            "depth": 24,
            "width": 128,
            "probe": 512,
            "epochs": 2,
            "lr": 1e-3,
            "batch_size": 64,
        },
    }
    cost = {"tiny": 1.0, "quick": 8.0, "full": 60.0}

    ACTS = ("tanh", "relu")
    INITS = ("normal", "xavier_uniform", "he_normal")
    BAD = (("tanh", "normal"), ("relu", "normal"))
    GOOD = (("tanh", "xavier_uniform"), ("relu", "he_normal"))

    def measure(self, settings, seeds, rng):
        X, y = _data(settings)
        Xp, yp = X[: settings["probe"]], y[: settings["probe"]]
        H = prior_entropy(y, 10)
        out = {"depth": settings["depth"], "prior_entropy": H, "runs": {}}
        for act in self.ACTS:
            for init in self.INITS:
                h_std, d_rms, sat, loss0, final, curves = [], [], [], [], [], []
                for seed in seeds:
                    g = self.seed_rng(seed)
                    model = _net(X, act, settings["depth"], settings["width"], init, g)
                    with np.errstate(all="ignore"):
                        p = _probe(model, Xp, yp)
                        if act == "tanh":
                            sat.append(
                                float(
                                    np.mean(
                                        [np.mean(np.abs(b["h"]) > 0.99) for b in model.trace()[:-1]]
                                    )
                                )
                            )
                        rec = LossRecorder()
                        fit(
                            model,
                            X,
                            y,
                            optimizer="adam",
                            lr=settings["lr"],
                            epochs=settings["epochs"],
                            batch_size=settings["batch_size"],
                            rng=g,
                            callbacks=[rec],
                        )
                        last = float(model.loss(X, y))
                    h_std.append(p["h_std"])
                    d_rms.append(p["delta_rms"])
                    loss0.append(p["loss"])
                    final.append(last)
                    curves.append(smooth(rec.losses, 40))
                out["runs"][f"{act}/{init}"] = {
                    "h_std": _mean_curve(h_std),
                    "delta_rms": _mean_curve(d_rms),
                    "h_factor": _factor_stat(h_std, forward=True),
                    "delta_factor": _factor_stat(d_rms),
                    "initial_loss": stat(loss0),
                    "final_loss": stat(final),
                    "saturated_fraction": stat(sat) if sat else None,
                    "curves": curves,
                }
        return out

    @staticmethod
    def _within(f, lo, hi) -> bool:
        return f is not None and math.isfinite(f) and lo <= f <= hi

    def assess(self, m, act, init) -> dict:
        r = m["runs"][f"{act}/{init}"]
        hf, df = r["h_factor"]["mean"], r["delta_factor"]["mean"]
        fl = r["final_loss"]
        starts = (
            fl["nonfinite"] == 0
            and fl["mean"] is not None
            and fl["mean"] < 0.9 * m["prior_entropy"]
        )
        exponential = not (self._within(hf, 0.5, 2) and self._within(df, 0.5, 2))
        steady = self._within(hf, 2 / 3, 1.5) and self._within(df, 2 / 3, 1.5)
        return {"h": hf, "d": df, "starts": starts, "exponential": exponential, "steady": steady}

    def breaks(self, m):
        R = m["runs"]
        parts = [
            f"{k} h {r['h_factor']['mean']:.2f}, δ {r['delta_factor']['mean']:.2f}"
            for k, r in R.items()
            if r["h_factor"]["mean"] is not None and r["delta_factor"]["mean"] is not None
        ]
        return (
            f"Per-layer factors over {m['depth']} layers — "
            + "; ".join(parts)
            + ": the normal init's blow-up or decay compounds with depth, so a shallower net "
            "would hide it."
        )

    def judge(self, m):
        passed, notes = 0, []
        for act, init in self.BAD + self.GOOD:
            s = self.assess(m, act, init)
            if (act, init) in self.BAD:
                ok = s["exponential"] or not s["starts"]
            else:
                ok = s["steady"] and s["starts"]
            passed += ok

            def f(v):
                return "n/a" if v is None else f"{v:.3g}"

            notes.append(
                f"{act}+{init}: factor h {f(s['h'])}, δ {f(s['d'])}, "
                f"{'starts' if s['starts'] else 'does not start'}{'' if ok else ' ✗'}"
            )
        verdict = score_verdict(passed, 4, fails_at_most=1)
        return Judgement(
            verdict,
            f"Per-layer factors over {m['depth']} layers — {'; '.join(notes)}. "
            f"{passed}/4 predictions true.",
        )

    def rows(self, m):
        out = [
            ("hidden layers", str(m["depth"])),
            ("loss of the best constant prediction H", f"{m['prior_entropy']:.3f}"),
        ]
        for act in self.ACTS:
            for init in self.INITS:
                r = m["runs"][f"{act}/{init}"]
                s = self.assess(m, act, init)
                start = "starts" if s["starts"] else "does not start"
                text = (
                    f"h ×{short_stat(r['h_factor'])} per layer, δ ×{short_stat(r['delta_factor'])} "
                    f"per layer; loss {short_stat(r['initial_loss'])} → "
                    f"{short_stat(r['final_loss'])} ({start})"
                )
                if r.get("saturated_fraction"):
                    sat = short_stat(r["saturated_fraction"], scale=100, unit="%")
                    text += f"; saturated units {sat}"
                out.append((f"{act} + {init}", text))
        return out

    def figures(self, m):
        fig, axes = new_figure(3, 2, width=12, height=6.4)
        colors = {"normal": "tab:red", "xavier_uniform": "tab:blue", "he_normal": "tab:green"}
        for row, act in enumerate(self.ACTS):
            for init in self.INITS:
                r = m["runs"][f"{act}/{init}"]
                for col, key in ((0, "h_std"), (1, "delta_rms")):
                    v = np.array([np.nan if x is None else x for x in r[key]], dtype=float)
                    v[~np.isfinite(v) | (v <= 0)] = np.nan
                    axes[row, col].semilogy(
                        np.arange(1, len(v) + 1), v, "o-", ms=3, color=colors[init], label=init
                    )
                c = np.array(r["curves"][0], dtype=float) if r["curves"] else np.array([])
                c[~np.isfinite(c)] = np.nan
                axes[row, 2].semilogy(np.arange(len(c)), c, color=colors[init], label=init)
            axes[row, 0].set(ylabel=f"{act}\nstd of h^(ℓ)")
            axes[row, 1].set(ylabel="RMS of δ^(ℓ)")
            axes[row, 2].axhline(m["prior_entropy"], color="grey", ls=":", lw=0.8)
            axes[row, 2].set(ylabel="training loss (seed 0)")
            axes[row, 0].legend(fontsize=7)
        for col, title in enumerate(
            (
                "activation std per layer",
                "gradient RMS per layer",
                "training loss (dotted: class prior)",
            )
        ):
            axes[0, col].set_title(title, fontsize=10)
            axes[1, col].set_xlabel("hidden layer ℓ" if col < 2 else "window of steps")
        return [("activation std and gradient size vs depth per init (tanh top, ReLU bottom)", fig)]
