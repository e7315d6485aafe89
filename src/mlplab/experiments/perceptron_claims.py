"""The perceptron claims of the text's sections 1–2: Rosenblatt's rule converges within
Novikoff's bound on separable data (C01) and cannot solve XOR (C02).

The measurements reuse :mod:`mlplab.perceptron` (the rule, Novikoff's bound, the separability
LP, cycle detection) and :mod:`mlplab.perceptron_plots` for the figures.  The other classic
claims (C03, C04, C22) are in :mod:`mlplab.experiments.classic`.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.errors import DataError
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

# ============================================================================================
# C01 — the perceptron converges within Novikoff's bound
# ============================================================================================


@register
class PerceptronConvergence(Experiment):
    """Mistakes of the perceptron rule on many separable sets against ``(R/γ)²``.

    Each set comes from :func:`mlplab.perceptron.separable_set`: ``n`` points in the unit ball
    of ℝ^d, at distance ≥ γ₀ from a random hyperplane ``(w*, b*)`` that labels them.  γ₀ is
    given as a multiple ``c`` of ``σ_d = 1/√(d + 2)``, the spread of a uniform point of the ball
    along any direction (so a margin means the same thing in every dimension), capped at 0.45;
    a set that came out with fewer than two points in a class is drawn again.  The bound uses
    the known separator (its margin in the augmented space ``(x, 1)``, where the bias is a
    weight), and on a few sets also the maximum-margin separator (the tightest γ, from a small
    QP).  The rule runs from zero weights in a fixed order and, as a second run, in a fresh
    random order every epoch; Novikoff's theorem covers both.  Each run may use ⌈(R/γ)²⌉ + 1
    epochs: every epoch without convergence has a mistake, so a run still going after that
    many epochs has already broken the bound.
    """

    id = "C01"
    title = "The perceptron converges on separable data within Novikoff's bound"
    claim = (
        "The perceptron rule converges on linearly separable data — within Novikoff's bound "
        "of (R/γ)² mistakes"
    )
    section = "1, 2.1"
    measures = "mistakes vs (R/γ)² on many separable sets with known margin, d and γ varied"
    rule = (
        "Over every set and both visiting orders: holds if every run converges (a mistake-free "
        "epoch) and no run makes more mistakes than (R/γ)² for the known separator (nor for "
        "the max-margin one where computed); fails if any run exceeds its bound or does not "
        "converge within the epoch cap (the theorem would be contradicted)."
    )
    profiles = {
        "tiny": {
            "dims": [2, 5],
            "margin_scales": [0.1, 0.5],
            "sets_per_cell": 2,
            "n": 100,
            "max_margin_sets": 1,
        },
        "quick": {
            "dims": [2, 5, 20],
            "margin_scales": [0.05, 0.15, 0.5, 1.0],
            "sets_per_cell": 6,
            "n": 200,
            "max_margin_sets": 1,
        },
        "full": {
            "dims": [2, 5, 20, 50],
            "margin_scales": [0.03, 0.05, 0.15, 0.5, 1.0],
            "sets_per_cell": 12,
            "n": 500,
            "max_margin_sets": 1,
        },
    }
    cost = {"tiny": 0.3, "quick": 2.0, "full": 20.0}

    MAX_DRAWS = 50

    def measure(self, settings, seeds, rng):
        from mlplab.perceptron import Perceptron, novikoff, separable_set

        runs = []
        example = None
        redraws = 0
        for seed in seeds:
            g = self.seed_rng(seed)
            for d in settings["dims"]:
                for c in settings["margin_scales"]:
                    gamma0 = min(c / math.sqrt(d + 2), 0.45)
                    for k in range(settings["sets_per_cell"]):
                        for _ in range(self.MAX_DRAWS):
                            s = separable_set(settings["n"], d, gamma0, g)
                            if min(np.sum(s.y > 0), np.sum(s.y < 0)) >= 2:
                                break
                            redraws += 1
                        else:
                            raise DataError(
                                f"no set with both classes in {self.MAX_DRAWS} draws (d = {d}, "
                                f"margin {gamma0:.3g}); use a smaller margin scale"
                            )
                        sep = (s.w_star, s.b_star)
                        cap = math.ceil(novikoff(s.X, s.y, sep).bound) + 1
                        fixed = Perceptron(epochs=cap).fit(s.X, s.y, separator=sep)
                        shuf = Perceptron(epochs=cap, shuffle=True, rng=g, compute_bound=False).fit(
                            s.X, s.y
                        )
                        r, rs = fixed.result_, shuf.result_
                        run = {
                            "seed": seed,
                            "dim": d,
                            "margin": gamma0,
                            "R": r.R,
                            "gamma": r.gamma,
                            "bound": r.bound,
                            "mistakes": r.mistakes,
                            "converged": r.converged,
                            "epochs": r.epochs,
                            "mistakes_shuffled": rs.mistakes,
                            "converged_shuffled": rs.converged,
                            "bound_max_margin": None,
                        }
                        if k < settings["max_margin_sets"]:
                            run["bound_max_margin"] = novikoff(s.X, s.y).bound
                        runs.append(run)
                        if example is None and d == 2:
                            example = {
                                "X": s.X.round(5).tolist(),
                                "y": s.y.tolist(),
                                "margin": round(gamma0, 4),
                            }
        ratio = [max(r["mistakes"], r["mistakes_shuffled"]) / r["bound"] for r in runs]
        return {
            "n_sets": len(runs),
            "n_points": settings["n"],
            "runs": runs,
            "mistakes_over_bound": stat(ratio),
            "all_converged": all(r["converged"] and r["converged_shuffled"] for r in runs),
            "redrawn_sets": redraws,
            "example": example,
        }

    def breaks(self, m):
        s = m["mistakes_over_bound"]
        return (
            f"The worst run used {s['max']:.2f} of its (R/γ)² mistake bound (median "
            f"{s['mean']:.2f}); one run above 1, or a set that never converged, would break it."
        )

    def judge(self, m):
        runs = m["runs"]
        over = [
            r
            for r in runs
            if max(r["mistakes"], r["mistakes_shuffled"]) > r["bound"]
            or (
                r["bound_max_margin"] is not None
                and max(r["mistakes"], r["mistakes_shuffled"]) > r["bound_max_margin"]
            )
        ]
        stuck = [r for r in runs if not (r["converged"] and r["converged_shuffled"])]
        worst = m["mistakes_over_bound"]["max"]
        median = float(np.median(m["mistakes_over_bound"]["per_seed"]))
        mm = [
            max(r["mistakes"], r["mistakes_shuffled"]) / r["bound_max_margin"]
            for r in runs
            if r["bound_max_margin"]
        ]
        text = (
            f"{len(runs)} separable sets (n = {m['n_points']}), fixed and shuffled order: "
            f"{len(runs) - len(stuck)} of {len(runs)} converged in both orders; mistakes / "
            f"(R/γ)² with the known separator: median {median:.3f}, max {worst:.3f}"
        )
        if mm:
            text += f"; against the max-margin bound (on {len(mm)} sets) max {max(mm):.3f}"
        if over or stuck:
            return Judgement(
                FAILS,
                text + f"; {len(over)} run(s) above the bound, {len(stuck)} not converged.",
            )
        return Judgement(HOLDS, text + "; the bound held on every run, usually far from tight.")

    def figures(self, m):
        from mlplab.perceptron import Perceptron
        from mlplab.perceptron_plots import plot_perceptron

        fig, (ax, ax2) = new_figure(2, 1, width=10.5, height=4.0)
        dims = sorted({r["dim"] for r in m["runs"]})
        colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
        for d, c in zip(dims, colors):
            rs = [r for r in m["runs"] if r["dim"] == d]
            ax.scatter(
                [r["bound"] for r in rs],
                [max(r["mistakes"], 0.8) for r in rs],
                s=14,
                color=c,
                alpha=0.7,
                label=f"d = {d}",
            )
            mm = [r for r in rs if r["bound_max_margin"]]
            ax.scatter(
                [r["bound_max_margin"] for r in mm],
                [max(r["mistakes"], 0.8) for r in mm],
                s=40,
                marker="x",
                color=c,
            )
        lo = min(r["bound_max_margin"] or r["bound"] for r in m["runs"])
        hi = max(r["bound"] for r in m["runs"])
        ax.loglog([lo, hi], [lo, hi], "k--", lw=1, label="mistakes = (R/γ)²")
        ax.set(
            xlabel="Novikoff bound (R/γ)²  (dots: known separator; ×: max margin)",
            ylabel="mistakes (fixed order)",
            title="Perceptron mistakes vs bound",
        )
        ax.legend(fontsize=8)
        ex = m["example"]
        if ex is not None:
            X, y = np.asarray(ex["X"]), np.asarray(ex["y"])
            model = Perceptron(epochs=100000, compute_bound=False).fit(X, y)
            plot_perceptron(ax2, model, X, y, f"a 2-D set with margin {ex['margin']}")
        return [("mistakes vs Novikoff's bound, and one learned separator", fig)]


# ============================================================================================
# C02 — a single-layer perceptron cannot solve XOR
# ============================================================================================


@register
class PerceptronXor(Experiment):
    """The perceptron rule on the four XOR points: never a mistake-free epoch; the weights cycle.

    In a fixed visiting order the state ``(w, b)`` at an epoch boundary determines the future,
    so a repeated state proves the run never converges (:class:`mlplab.perceptron.Perceptron`
    detects it).  Shuffled orders are run per seed too, and the LP separability check and the
    pocket variant's best accuracy complete the picture.
    """

    id = "C02"
    title = "A single-layer perceptron cannot solve XOR"
    claim = "A single-layer perceptron cannot solve XOR"
    section = "2.2"
    measures = "mistakes per epoch (never 0); a repeated weight state (a cycle); LP separability"
    rule = (
        "holds if the LP finds XOR not linearly separable, no run (fixed order, and a shuffled "
        "order per seed and learning rate) ever has a mistake-free epoch, and the fixed-order "
        "run's weights provably cycle; partly if no run converges but no cycle is found within "
        "the epoch cap; fails if any run reaches a mistake-free epoch."
    )
    profiles = {
        "tiny": {"epochs": 50, "lrs": [1.0, 0.1], "shuffled_runs": 2},
        "quick": {"epochs": 500, "lrs": [1.0, 0.1, 0.01], "shuffled_runs": 10},
        "full": {"epochs": 2000, "lrs": [1.0, 0.1, 0.01], "shuffled_runs": 20},
    }
    cost = {"tiny": 0.1, "quick": 0.5, "full": 3.0}

    def measure(self, settings, seeds, rng):
        from mlplab.perceptron import Perceptron, is_linearly_separable
        from mlplab.xor import XOR_X, XOR_Y

        separable, _ = is_linearly_separable(XOR_X, XOR_Y)
        fixed = Perceptron(epochs=settings["epochs"], record_history=True, pocket=True).fit(
            XOR_X, XOR_Y
        )
        r = fixed.result_
        shuffled = []
        for seed in seeds:
            g = self.seed_rng(seed)
            for lr in settings["lrs"]:
                for _ in range(settings["shuffled_runs"]):
                    rs = (
                        Perceptron(
                            lr=lr,
                            epochs=settings["epochs"],
                            shuffle=True,
                            rng=g,
                            compute_bound=False,
                            pocket=True,
                        )
                        .fit(XOR_X, XOR_Y)
                        .result_
                    )
                    shuffled.append(
                        {
                            "lr": lr,
                            "converged": rs.converged,
                            "min_mistakes_per_epoch": min(rs.mistakes_per_epoch),
                            "pocket_accuracy": rs.accuracy,
                        }
                    )
        return {
            "lp_separable": bool(separable),
            "fixed_order": {
                "epochs": r.epochs,
                "converged": r.converged,
                "mistakes_per_epoch": r.mistakes_per_epoch[:60],
                "min_mistakes_per_epoch": min(r.mistakes_per_epoch),
                "cycle_detected": r.cycle_detected,
                "cycle_length": r.cycle_length,
                "cycle_start": r.cycle_start,
                "weights_history": r.weights_history[:40],
                "pocket_accuracy": r.accuracy,
            },
            "shuffled_runs": len(shuffled),
            "shuffled_converged": sum(s["converged"] for s in shuffled),
            "shuffled_min_mistakes_per_epoch": min(s["min_mistakes_per_epoch"] for s in shuffled),
            "pocket_accuracy": stat([s["pocket_accuracy"] for s in shuffled]),
        }

    def breaks(self, m):
        f = m["fixed_order"]
        return (
            f"On XOR a lone perceptron never gets below {f['min_mistakes_per_epoch']} mistake(s) "
            f"per epoch in fixed order ({m['shuffled_min_mistakes_per_epoch']} shuffled); only a "
            "hidden layer (C03) or a product feature x₁x₂ changes that."
        )

    def judge(self, m):
        f = m["fixed_order"]
        never = (
            not f["converged"]
            and f["min_mistakes_per_epoch"] >= 1
            and m["shuffled_converged"] == 0
            and m["shuffled_min_mistakes_per_epoch"] >= 1
        )
        cyc = (
            f"the weights repeat with period {f['cycle_length']} epoch(s) from epoch "
            f"{f['cycle_start']}"
            if f["cycle_detected"]
            else "no repeated weight state was found"
        )
        text = (
            f"LP separability check: {'separable' if m['lp_separable'] else 'not separable'}. "
            f"Fixed order, {f['epochs']} epochs: at least {f['min_mistakes_per_epoch']} "
            f"mistake(s) every epoch, {cyc}; {m['shuffled_runs']} shuffled runs: "
            f"{m['shuffled_converged']} converged, at least "
            f"{m['shuffled_min_mistakes_per_epoch']} mistake(s) per epoch; the pocket's best "
            f"accuracy is {m['pocket_accuracy']['max']:.2f}"
        )
        if not never or m["lp_separable"]:
            return Judgement(FAILS, text + ".")
        if not f["cycle_detected"]:
            return Judgement(PARTLY, text + "; non-convergence is seen but not proved.")
        return Judgement(HOLDS, text + ".")

    def figures(self, m):
        from mlplab.perceptron import Perceptron
        from mlplab.perceptron_plots import plot_perceptron
        from mlplab.xor import XOR_X, XOR_Y

        fig, (ax0, ax1, ax2) = new_figure(3, 1, width=13, height=3.8)
        f = m["fixed_order"]
        model = Perceptron(epochs=f["epochs"], compute_bound=False).fit(XOR_X, XOR_Y)
        plot_perceptron(ax0, model, XOR_X, XOR_Y, "perceptron on XOR (last weights)")
        mpe = f["mistakes_per_epoch"]
        ax1.bar(np.arange(1, len(mpe) + 1), mpe, color="tab:red")
        ax1.axhline(0, color="black", lw=0.8)
        ax1.set(
            xlabel="epoch (fixed order)",
            ylabel="mistakes",
            title="Mistakes per epoch never reach 0",
            ylim=(0, 4.5),
        )
        W = np.asarray(f["weights_history"], dtype=float)
        for j, name in enumerate(["w1", "w2", "b"]):
            ax2.plot(np.arange(1, len(W) + 1), W[:, j], "o-", ms=3, label=name)
        if f["cycle_detected"]:
            ax2.axvspan(
                f["cycle_start"], f["cycle_start"] + f["cycle_length"], color="grey", alpha=0.2
            )
        ax2.set(
            xlabel="epoch",
            ylabel="weight at epoch end",
            title=f"Weights cycle (period {f['cycle_length']}, shaded)",
        )
        ax2.legend(fontsize=8)
        return [("perceptron on XOR: boundary, mistakes per epoch, weight cycle", fig)]
