"""The classic results of the text's sections 1–2 beyond the single perceptron: XOR with two
layers (C03), the identity collapse (C04) and the single sigmoid neuron (C22); the perceptron
claims C01 and C02 are in :mod:`mlplab.experiments.perceptron_claims`.

Every measurement reuses the library: :mod:`mlplab.perceptron` (the rule, Novikoff's bound,
the separability LP), :mod:`mlplab.xor` (the hand-built step network, packed training of 2-H-1
nets, the linear collapse, the brute-force best linear classifier), :mod:`mlplab.logistic`
(the one-neuron network against scikit-learn) and :mod:`mlplab.perceptron_plots` for the
decision-boundary and hidden-layer figures.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import fit
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

# ============================================================================================
# C03 — two layers solve XOR
# ============================================================================================


def _net_from_state(activation: str, width: int, state: dict) -> Network:
    net = Network(mlp_spec([2, width, 1], activation, head="sigmoid_bce", dtype="float64"))
    net.load_state_dict({k: np.asarray(v, dtype=np.float64) for k, v in state.items()})
    return net


@register
class TwoLayerXor(Experiment):
    """The text's hand-built AND-NOT / OR step network, and trained 2-H-1 networks.

    Trained nets: :func:`mlplab.xor.train_xor` (full-batch Adam on the four points, each net
    with the engine's default init for its activation).  A net *succeeds* when all four points
    are classified correctly after the budget.  Each ledger seed trains its own block of
    ``nets`` networks (net seeds ``seed·nets … seed·nets + nets − 1``), so the success rate per
    cell is a mean over seeds with its spread.
    """

    id = "C03"
    title = "Two layers solve XOR"
    claim = "Two layers solve XOR"
    section = "2.2"
    measures = (
        "hand-built AND-NOT / OR net's truth table; success rate of trained 2-H-1 nets per "
        "width and activation"
    )
    RELIABLE = 0.9
    rule = (
        "A width is reliable for an activation when trained 2-H-1 nets solve XOR (all four "
        f"points right) at least {100 * RELIABLE:g} % of the time (mean over seeds). holds if "
        "the hand-built network reproduces the XOR truth table and every activation has a "
        "reliable width among those measured; partly if the hand-built net is right and some "
        "trained net solves XOR but some activation has no reliable width; fails if the "
        "hand-built net is wrong or no trained net ever solves XOR."
    )
    profiles = {
        "tiny": {
            "activations": ["tanh", "relu"],
            "widths": [2, 8],
            "nets": 8,
            "epochs": 300,
            "lr": 0.1,
        },
        "quick": {
            "activations": ["sigmoid", "tanh", "relu", "gelu"],
            "widths": [2, 3, 4, 8],
            "nets": 25,
            "epochs": 500,
            "lr": 0.1,
        },
        "full": {
            "activations": ["sigmoid", "tanh", "relu", "gelu"],
            "widths": [2, 3, 4, 8, 16],
            "nets": 100,
            "epochs": 1000,
            "lr": 0.1,
        },
    }
    cost = {"tiny": 0.5, "quick": 5.0, "full": 40.0}

    def cells(self, settings, seeds):
        """One cell per (activation, width, seed)."""
        return [
            {"activation": a, "width": int(w), "seed": int(s)}
            for a in settings["activations"]
            for w in settings["widths"]
            for s in seeds
        ]

    def measure_cell(self, settings, cell):
        """Train the seed's block of nets at one width; at width 2 also keep one solution."""
        from mlplab.xor import train_xor

        nets, a, w, seed = settings["nets"], cell["activation"], cell["width"], cell["seed"]
        block = range(seed * nets, (seed + 1) * nets)
        run = train_xor(a, w, block, epochs=settings["epochs"], lr=settings["lr"])
        out = {"rate": run.rate, "median_loss": float(np.median(run.final_loss)), "example": None}
        if w == min(settings["widths"]) and any(run.success):
            k = run.success.index(True)
            _, (net,) = train_xor(
                a,
                w,
                [run.seeds[k]],
                epochs=settings["epochs"],
                lr=settings["lr"],
                return_networks=True,
            )
            out["example"] = {
                "activation": a,
                "width": w,
                "net_seed": run.seeds[k],
                "state": {k2: v.tolist() for k2, v in net.state_dict().items()},
            }
        return out

    def combine(self, settings, seeds, results):
        """The hand-built net's truth table, success-rate stats per activation and width."""
        from mlplab.xor import XOR_Y, hand_built_xor, xor_truth_table

        table = xor_truth_table(hand_built_xor())
        exact = all(row["y"] == int(t) for row, t in zip(table, XOR_Y))
        groups: dict = {}
        example = None
        for cell, r in zip(self.cells(settings, seeds), results):
            groups.setdefault(cell["activation"], {}).setdefault(str(cell["width"]), []).append(r)
            if example is None and r["example"] is not None:
                example = r["example"]
        cells = {
            a: {
                w: {
                    "success_rate": stat([r["rate"] for r in runs]),
                    "median_final_loss": stat([r["median_loss"] for r in runs]),
                }
                for w, runs in by.items()
            }
            for a, by in groups.items()
        }
        return {
            "hand_built": {"truth_table": table, "exact": exact},
            "nets_per_seed": settings["nets"],
            "epochs": settings["epochs"],
            "lr": settings["lr"],
            "trained": cells,
            "example": example,
        }

    def smallest_reliable(self, m) -> dict:
        """Per activation, the smallest width with success ≥ RELIABLE (None if none)."""
        out = {}
        for a, c in m["trained"].items():
            ok = [int(w) for w, cell in c.items() if cell["success_rate"]["mean"] >= self.RELIABLE]
            out[a] = min(ok) if ok else None
        return out

    def judge(self, m):
        exact = m["hand_built"]["exact"]
        cells = m["trained"]
        small = self.smallest_reliable(m)
        any_success = any(
            (cell["success_rate"]["max"] or 0) > 0 for c in cells.values() for cell in c.values()
        )
        n = m["nets_per_seed"]
        per = "; ".join(
            f"{a}: "
            + ", ".join(
                f"H={w} {100 * c[w]['success_rate']['mean']:.0f}%" for w in sorted(c, key=int)
            )
            + (
                f" → smallest reliable width {small[a]}"
                if small[a] is not None
                else f" → no width reaches {100 * self.RELIABLE:g}%"
            )
            for a, c in cells.items()
        )
        text = (
            f"Hand-built step net: truth table {'exact' if exact else 'WRONG'}. Trained 2-H-1 "
            f"nets ({n} per seed, Adam lr {m['lr']}, {m['epochs']} full-batch steps), share "
            f"that solve XOR — {per}"
        )
        if not exact or not any_success:
            return Judgement(FAILS, text + ".")
        if all(v is not None for v in small.values()):
            return Judgement(HOLDS, text + ".")
        return Judgement(PARTLY, text + "; some activation never trains reliably here.")

    def breaks(self, m):
        small = self.smallest_reliable(m)
        lo = {
            a: (min(c, key=int), c[min(c, key=int)]["success_rate"]["mean"])
            for a, c in m["trained"].items()
        }
        return (
            "Two hidden units are enough to represent XOR, but training finds it only "
            + ", ".join(f"{100 * r:.0f}% of the time with {a} (H={w})" for a, (w, r) in lo.items())
            + "; reliability needs H = "
            + ", ".join(
                f"{small[a] if small[a] else '>' + max(m['trained'][a], key=int)} ({a})"
                for a in small
            )
            + "."
        )

    def figures(self, m):
        from mlplab.perceptron_plots import xor_network_figure
        from mlplab.xor import hand_built_xor

        panels = [("hand-built (step)", hand_built_xor())]
        ex = m["example"]
        if ex is not None:
            net = _net_from_state(ex["activation"], ex["width"], ex["state"])
            panels.append((f"trained {ex['activation']} 2-{ex['width']}-1", net))
        fig1 = xor_network_figure(panels)
        fig2, ax = new_figure(width=6.4, height=3.6)
        for a, c in m["trained"].items():
            ws = sorted(c, key=int)
            mean = [100 * c[w]["success_rate"]["mean"] for w in ws]
            lo = [100 * c[w]["success_rate"]["min"] for w in ws]
            hi = [100 * c[w]["success_rate"]["max"] for w in ws]
            x = [int(w) for w in ws]
            ax.plot(x, mean, "o-", label=a)
            ax.fill_between(x, lo, hi, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set(
            xlabel="hidden width H",
            ylabel="nets solving XOR (%)",
            ylim=(-3, 103),
            title="Trained 2-H-1 nets: success rate (band: min–max over seeds)",
        )
        ax.legend(fontsize=8)
        return [
            ("decision regions and the hidden layer's view (hand-built and trained)", fig1),
            ("success rate per width and activation", fig2),
        ]


# ============================================================================================
# C04 — identity activations collapse to one linear map
# ============================================================================================


@register
class IdentityCollapse(Experiment):
    """A deep net with identity activations is one affine map; on XOR it is stuck at 3/4.

    (a) Random float64 identity nets of several depths are collapsed by
    :func:`mlplab.xor.collapse_linear` into ``W = W_L⋯W_1``, ``b = W_L(⋯(W_2b_1 + b_2)⋯) + b_L``
    and compared with the layer-by-layer forward pass.  (b) :func:`mlplab.xor.best_linear_accuracy`
    checks all 16 labellings of the XOR points for linear separability.  (c) Identity nets of
    several depths are trained on XOR by the engine; their accuracy and loss are recorded.
    """

    id = "C04"
    title = "With the identity activation a deep MLP collapses to one linear map"
    claim = "With the identity activation a deep MLP collapses to one linear map"
    section = "2.3"
    measures = "composed net vs W₂W₁x + (W₂b₁+b₂); best XOR accuracy of any linear model"
    rule = (
        "Three parts: (a) the layer-by-layer output equals the collapsed W x + b to rounding "
        "(max deviation ≤ 1e-10 relative to the output scale) for every depth and seed; (b) the "
        "best accuracy of any linear classifier on XOR is 0.75; (c) no trained identity net, "
        "whatever its depth, classifies XOR better than 0.75. holds if all three are true, "
        "partly if two, fails otherwise."
    )
    profiles = {
        "tiny": {"depths": [2, 4], "width": 8, "points": 64, "train_depths": [1, 3], "epochs": 200},
        "quick": {
            "depths": [2, 3, 5, 8],
            "width": 16,
            "points": 256,
            "train_depths": [1, 2, 4],
            "epochs": 1000,
        },
        "full": {
            "depths": [2, 3, 5, 8, 16],
            "width": 64,
            "points": 1024,
            "train_depths": [1, 2, 4, 8],
            "epochs": 3000,
        },
    }
    cost = {"tiny": 0.2, "quick": 1.0, "full": 5.0}

    TOL = 1e-10

    def measure(self, settings, seeds, rng):
        from mlplab.xor import XOR_X, XOR_Y, best_linear_accuracy, collapse_linear

        dev: dict[str, list[float]] = {str(d): [] for d in settings["depths"]}
        trained: dict[str, dict] = {}
        example = None
        for seed in seeds:
            g = self.seed_rng(seed)
            for d in settings["depths"]:
                sizes = [3, *([settings["width"]] * (d - 1)), 2]
                net = Network(mlp_spec(sizes, "identity", head="identity_mse", dtype="float64"), g)
                for _, layer in net.dense_layers():
                    layer.params["bias"][...] = g.normal(size=layer.params["bias"].shape)
                X = g.normal(size=(settings["points"], 3))
                W, b = collapse_linear(net)
                out = net.forward(X)
                scale = float(np.max(np.abs(out)))
                dev[str(d)].append(float(np.max(np.abs(out - (X @ W.T + b)))) / scale)
        for depth in settings["train_depths"]:
            accs, losses = [], []
            for seed in seeds:
                g = self.seed_rng(seed)
                net = Network(
                    mlp_spec(
                        [2, *([4] * depth), 1], "identity", head="sigmoid_bce", dtype="float64"
                    ),
                    g,
                )
                fit(
                    net,
                    XOR_X,
                    XOR_Y,
                    optimizer="adam",
                    lr=0.05,
                    epochs=settings["epochs"],
                    batch_size=4,
                    shuffle=False,
                    rng=g,
                )
                accs.append(float(np.mean(net.predict(XOR_X).reshape(-1) == XOR_Y)))
                losses.append(float(net.loss(XOR_X, XOR_Y)))
                if example is None and depth == 1:
                    example = {k: v.tolist() for k, v in net.state_dict().items()}
            trained[str(depth)] = {"accuracy": stat(accs), "loss": stat(losses)}
        best = best_linear_accuracy()
        return {
            "relative_deviation": {d: stat(v) for d, v in dev.items()},
            "best_linear_accuracy": best["best_accuracy"],
            "separable_labellings": best["n_separable"],
            "inseparable_labellings": best["inseparable_labellings"],
            "trained_identity_nets": trained,
            "log2": math.log(2.0),
            "example": example,
        }

    def breaks(self, m):
        dev = max(s["max"] for s in m["relative_deviation"].values())
        return (
            f"The collapse holds to rounding ({dev:.1e} relative); any non-linear activation "
            f"breaks it, while identity nets stay at {m['best_linear_accuracy']:.2f} accuracy "
            "on XOR like every linear model."
        )

    def judge(self, m):
        worst = max(s["max"] for s in m["relative_deviation"].values())
        best = m["best_linear_accuracy"]
        top = max(t["accuracy"]["max"] for t in m["trained_identity_nets"].values())
        low_loss = min(t["loss"]["min"] for t in m["trained_identity_nets"].values())
        checks = {
            "collapse to rounding": worst <= self.TOL,
            "best linear accuracy 0.75": abs(best - 0.75) < 1e-12,
            "trained identity nets ≤ 0.75": top <= 0.75 + 1e-12,
        }
        passed = sum(checks.values())
        text = (
            f"Max deviation of the layer-by-layer output from W x + b: {worst:.1e} relative "
            f"(depths {', '.join(m['relative_deviation'])}); best linear classifier on XOR: "
            f"{best:.2f} ({m['separable_labellings']} of 16 labellings separable, the two "
            f"inseparable ones are XOR and XNOR); trained identity nets of "
            f"{', '.join(m['trained_identity_nets'])} hidden layer(s): best accuracy {top:.2f}, "
            f"lowest loss {low_loss:.4f} (ln 2 = {m['log2']:.4f})"
        )
        if passed < 3:
            text += "; not true: " + ", ".join(k for k, ok in checks.items() if not ok)
        return Judgement(score_verdict(passed, 3, fails_at_most=1), text + ".")

    def figures(self, m):
        from mlplab.perceptron_plots import xor_network_figure

        panels = []
        if m["example"] is not None:
            net = _net_from_state("identity", 4, m["example"])
            panels.append(("trained identity 2-4-1", net))
        fig1 = xor_network_figure(panels) if panels else None
        fig2, ax = new_figure(width=6.0, height=3.4)
        ds = list(m["relative_deviation"])
        ax.semilogy(
            [int(d) for d in ds],
            [max(m["relative_deviation"][d]["max"], 1e-18) for d in ds],
            "o-",
            label="max relative deviation",
        )
        ax.axhline(self.TOL, color="grey", ls=":", label="rule: 1e-10")
        ax.axhline(np.finfo(np.float64).eps, color="tab:green", ls="--", lw=0.8, label="float64 ε")
        ax.set(
            xlabel="depth (dense layers)",
            ylabel="|net(x) − (Wx + b)| / max|net(x)|",
            title="Identity net vs its collapsed affine map",
        )
        ax.legend(fontsize=8)
        out = [("collapse deviation vs depth", fig2)]
        if fig1 is not None:
            out.insert(0, ("a trained identity net on XOR: input space and hidden view", fig1))
        return out


# ============================================================================================
# C22 — a single sigmoid neuron is logistic regression
# ============================================================================================


@register
class SigmoidNeuronLogistic(Experiment):
    """The one-neuron mlplab network against scikit-learn's ``LogisticRegression``.

    Both sides solve the same problem: mean BCE + ½λ‖w‖² in mlplab with ``λ = 1/(C·n)`` is
    scikit-learn's ``C·Σ BCE + ½‖w‖²`` divided by ``C·n``.  Two cases: (a) overlapping
    Gaussian classes without a penalty (the maximum-likelihood solution exists), (b) linearly
    separable data with the same L2 penalty on both (C = 1).  The neuron is trained by the
    engine alone (full-batch Nesterov SGD, no Newton finish).  A third measurement shows why
    case (b) needs the penalty: without it the weight norm on separable data keeps growing.
    """

    id = "C22"
    title = "A single sigmoid neuron is logistic regression"
    claim = "A single sigmoid neuron is logistic regression"
    section = "2.1"
    measures = (
        "one-neuron mlplab model vs scikit-learn LogisticRegression: coefficients on "
        "non-separable data (no penalty) and on separable data with the same L2 penalty"
    )
    rule = (
        "Relative coefficient difference ‖θ_mlplab − θ_sklearn‖∞ / ‖θ_sklearn‖∞ (weights and "
        "intercept), worst over sets: holds if ≤ 1e-6 in both cases, partly if ≤ 1e-3, fails "
        "otherwise."
    )
    profiles = {
        "tiny": {"dims": [2, 5], "n": 200, "epochs": 300, "C": 1.0, "growth_epochs": [10, 100]},
        "quick": {
            "dims": [2, 5, 20],
            "n": 1000,
            "epochs": 800,
            "C": 1.0,
            "growth_epochs": [10, 30, 100, 300, 1000, 3000],
        },
        "full": {
            "dims": [2, 5, 20, 50],
            "n": 5000,
            "epochs": 1500,
            "C": 1.0,
            "growth_epochs": [10, 30, 100, 300, 1000, 3000, 10000],
        },
    }
    cost = {"tiny": 0.5, "quick": 2.0, "full": 10.0}

    def measure(self, settings, seeds, rng):
        from mlplab.logistic import compare_with_sklearn, fit_sigmoid_neuron, overlapping_gaussians
        from mlplab.perceptron import separable_set

        cases: dict[str, dict] = {"no_penalty": {}, "l2_separable": {}}
        example = None
        for d in settings["dims"]:
            a, b = [], []
            for seed in seeds:
                g = self.seed_rng(seed)
                X, y = overlapping_gaussians(settings["n"], d, g)
                ra = compare_with_sklearn(X, y, epochs=settings["epochs"])
                s = separable_set(settings["n"], d, 0.05, g)
                ys = (s.y > 0).astype(np.int64)
                rb = compare_with_sklearn(s.X, ys, C=settings["C"], epochs=settings["epochs"])
                a.append(ra["rel_diff"])
                b.append(rb["rel_diff"])
                if example is None:
                    example = {"no_penalty": ra, "l2_separable": rb, "dim": d}
                elif d > example["dim"] and seed == seeds[0]:
                    example = {"no_penalty": ra, "l2_separable": rb, "dim": d}
            cases["no_penalty"][str(d)] = stat(a)
            cases["l2_separable"][str(d)] = stat(b)
        g = self.seed_rng(seeds[0])
        s = separable_set(settings["n"], 2, 0.05, g)
        ys = (s.y > 0).astype(np.int64)
        growth = []
        for e in settings["growth_epochs"]:
            free = fit_sigmoid_neuron(s.X, ys, epochs=e)
            pen = fit_sigmoid_neuron(s.X, ys, epochs=e, l2=1.0 / (settings["C"] * settings["n"]))
            growth.append(
                {
                    "epochs": e,
                    "norm_no_penalty": float(np.linalg.norm(free.coef)),
                    "norm_l2": float(np.linalg.norm(pen.coef)),
                }
            )
        return {
            "n": settings["n"],
            "C": settings["C"],
            "cases": cases,
            "example": example,
            "separable_growth": growth,
        }

    def breaks(self, m):
        g = m["separable_growth"]
        return (
            "One sigmoid neuron matches scikit-learn where a maximum-likelihood solution "
            "exists; on separable data without a penalty none exists and ‖w‖ keeps growing "
            f"({g[0]['norm_no_penalty']:.2f} after {g[0]['epochs']} epochs, "
            f"{g[-1]['norm_no_penalty']:.2f} after {g[-1]['epochs']}), so no two fits agree."
        )

    def judge(self, m):
        worst = {c: max(s["max"] for s in v.values()) for c, v in m["cases"].items()}
        w = max(worst.values())
        verdict = HOLDS if w <= 1e-6 else PARTLY if w <= 1e-3 else FAILS
        g = m["separable_growth"]
        text = (
            f"Worst relative coefficient difference to scikit-learn: {worst['no_penalty']:.1e} "
            f"without penalty on overlapping classes, {worst['l2_separable']:.1e} with the same "
            f"L2 penalty (C = {m['C']}, λ = 1/(C·n)) on separable data (n = {m['n']}). Without "
            f"a penalty on separable data ‖w‖ grows from {g[0]['norm_no_penalty']:.2f} to "
            f"{g[-1]['norm_no_penalty']:.2f} over {g[0]['epochs']}–{g[-1]['epochs']} epochs "
            f"(no maximum-likelihood solution), while with it ‖w‖ settles at "
            f"{g[-1]['norm_l2']:.2f}."
        )
        return Judgement(verdict, text)

    def figures(self, m):
        fig, (ax, ax2) = new_figure(2, 1, width=10, height=3.8)
        ex = m["example"]
        for case, marker, label in (
            ("no_penalty", "o", "overlapping, no penalty"),
            ("l2_separable", "s", f"separable, L2 (C = {m['C']})"),
        ):
            a, b = np.asarray(ex[case]["sklearn"]), np.asarray(ex[case]["mlplab"])
            ax.scatter(a, b, marker=marker, s=28, alpha=0.8, label=label)
        lim = max(abs(v) for c in ("no_penalty", "l2_separable") for v in ex[c]["sklearn"])
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
        ax.set(
            xlabel="scikit-learn coefficient",
            ylabel="mlplab one-neuron coefficient",
            title=f"Coefficients (d = {ex['dim']}, weights and intercept)",
        )
        ax.legend(fontsize=8)
        g = m["separable_growth"]
        e = [r["epochs"] for r in g]
        ax2.semilogx(e, [r["norm_no_penalty"] for r in g], "o-", label="no penalty")
        ax2.semilogx(e, [r["norm_l2"] for r in g], "s-", label="L2 penalty")
        ax2.set(
            xlabel="training epochs",
            ylabel="‖w‖",
            title="Separable data: ‖w‖ grows without a penalty",
        )
        ax2.legend(fontsize=8)
        return [("one sigmoid neuron vs scikit-learn's logistic regression", fig)]
