"""Claims about backpropagation itself: the output delta (C05), the four equations (C06) and
the derivative bounds that drive vanishing gradients (C07).

All three reuse the engine's own pieces — the heads' ``delta``, the activations' ``df``, the
gradient checks of :mod:`mlplab.core.gradcheck` and the torch mirror of
:mod:`mlplab.backends.torch` — so what is measured is the code every other command runs.
"""

from __future__ import annotations

import numpy as np

from mlplab.backends.torch_gradcheck import check_network, run_gradcheck
from mlplab.core.activations import ACTIVATIONS, get_activation
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, rel_err
from mlplab.core.losses import HEADS, get_head
from mlplab.core.network import Network, mlp_spec
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

# ============================================================================================
# C07 — derivative bounds
# ============================================================================================

#: The exp/Poisson head's cap on the log-rate, read from the head's public behaviour (its
#: output at a huge logit is exp(cap)), so no private name of core is imported.
MAX_LOG_RATE = float(np.log(get_head("exp_poisson").output(np.array([[1e6]]))[0, 0]))


@register
class DerivativeBounds(Experiment):
    """Exact maxima of φ′ on a fine grid, and how far GELU's tanh form is from GELU.

    The grid runs over ``[−z_max, z_max]`` with spacing ``step`` and contains 0, where
    σ′ and tanh′ peak.  ``φ′`` is the engine's own ``df`` (written in terms of z).
    """

    id = "C07"
    title = "Derivative bounds of sigmoid, tanh, ReLU and the GELU approximation"
    claim = (
        "Derivative bounds: sigmoid′ ≤ 0.25; “sigmoid / tanh: φ′ caps at 0.25”; ReLU′ ∈ {0,1}; "
        "GELU's tanh form approximates GELU"
    )
    section = "4.4, 3.3"
    measures = "exact maxima of σ′, tanh′; the set of ReLU′ values; max |GELU − GELU_tanh|"
    rule = (
        "Four sub-claims, each checked on the grid: (a) max σ′ ≤ 0.25 (+1e-12); (b) max tanh′ "
        "≤ 0.25 (+1e-12), the text's wording; (c) every ReLU′ value is 0 or 1; (d) "
        "max |GELU − GELU_tanh| ≤ 1e-3. holds if all four are true, partly if two or three are, "
        "fails if at most one is."
    )
    uses_seeds = False
    profiles = {
        "tiny": {"z_max": 10.0, "step": 1e-3},
        "quick": {"z_max": 20.0, "step": 1e-4},
        "full": {"z_max": 20.0, "step": 1e-5},
    }
    cost = {"tiny": 0.1, "quick": 0.2, "full": 0.5}

    GELU_TOL = 1e-3
    CAP = 0.25

    def measure(self, settings, seeds, rng):
        n_half = int(round(settings["z_max"] / settings["step"]))
        z = np.arange(-n_half, n_half + 1, dtype=np.float64) * settings["step"]  # includes 0
        out = {"grid": {"points": int(z.size), "z_max": settings["z_max"]}}
        for name in ("sigmoid", "tanh"):
            d = get_activation(name).df(z)
            i = int(np.argmax(d))
            out[name] = {"max_derivative": float(d[i]), "argmax_z": float(z[i])}
        relu_d = get_activation("relu").df(z)
        out["relu"] = {
            "derivative_values": sorted({float(v) for v in np.unique(relu_d)}),
            "fraction_one": float(np.mean(relu_d == 1.0)),
        }
        g = get_activation("gelu").f(z)
        gt = get_activation("gelu_tanh").f(z)
        err = np.abs(g - gt)
        j = int(np.argmax(err))
        dg = np.abs(get_activation("gelu").df(z) - get_activation("gelu_tanh").df(z))
        out["gelu_tanh"] = {
            "max_abs_error": float(err[j]),
            "at_z": float(z[j]),
            "max_abs_error_derivative": float(dg.max()),
        }
        return out

    def breaks(self, m):
        return (
            f"The 0.25 cap is right for sigmoid (max σ′ = {m['sigmoid']['max_derivative']:.4f}) "
            f"and wrong for tanh, whose derivative peaks at {m['tanh']['max_derivative']:.4f} "
            "at z = 0: the sentence holds for sigmoid only."
        )

    def judge(self, m):
        checks = {
            "σ′ ≤ 0.25": m["sigmoid"]["max_derivative"] <= self.CAP + 1e-12,
            "tanh′ ≤ 0.25": m["tanh"]["max_derivative"] <= self.CAP + 1e-12,
            "ReLU′ ∈ {0,1}": set(m["relu"]["derivative_values"]) <= {0.0, 1.0},
            "GELU_tanh ≈ GELU": m["gelu_tanh"]["max_abs_error"] <= self.GELU_TOL,
        }
        passed = sum(checks.values())
        verdict = score_verdict(passed, len(checks), fails_at_most=1)
        failed = [k for k, ok in checks.items() if not ok]
        evidence = (
            f"max σ′ = {m['sigmoid']['max_derivative']:.6f} at z = "
            f"{m['sigmoid']['argmax_z']:g}; max tanh′ = {m['tanh']['max_derivative']:.6f} at z = "
            f"{m['tanh']['argmax_z']:g}; ReLU′ values {m['relu']['derivative_values']}; "
            f"max |GELU − GELU_tanh| = {m['gelu_tanh']['max_abs_error']:.2e} at z = "
            f"{m['gelu_tanh']['at_z']:.3g}. {passed}/4 sub-claims hold"
        )
        if failed:
            evidence += f"; not true: {', '.join(failed)}"
            if "tanh′ ≤ 0.25" in failed:
                evidence += (
                    " — tanh′ peaks at 1, four times the stated cap, so the [4.4] line is right "
                    "for sigmoid only"
                )
        return Judgement(verdict, evidence + ".")

    def figures(self, m):
        z = np.linspace(-6, 6, 1201)
        fig, (ax, ax2) = new_figure(2, 1, width=9.5, height=3.6)
        for name, style in (("sigmoid", "-"), ("tanh", "-"), ("relu", "--"), ("gelu", "-.")):
            ax.plot(z, get_activation(name).df(z), style, label=f"{name}′")
        ax.axhline(self.CAP, color="grey", lw=0.8, ls=":")
        ax.annotate("0.25", (-6, self.CAP), xytext=(2, 3), textcoords="offset points", fontsize=8)
        ax.set(xlabel="z", ylabel="φ′(z)", title="Derivatives (tanh′ peaks at 1, σ′ at 0.25)")
        ax.legend(fontsize=8)
        zz = np.linspace(-8, 8, 3201)
        diff = get_activation("gelu").f(zz) - get_activation("gelu_tanh").f(zz)
        ax2.plot(zz, diff, color="tab:purple")
        ax2.axhline(0, color="grey", lw=0.6)
        ax2.set(xlabel="z", ylabel="GELU − GELU_tanh", title="Error of GELU's tanh form")
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        return [("derivatives and the GELU approximation error", fig)]


# ============================================================================================
# Shared: labels drawn from each head's distribution
# ============================================================================================


def _labels(head: str, rng: np.random.Generator, n: int, k: int):
    """Targets of the right kind for ``head``: class ids, 0/1 rows, counts or real values."""
    if head == "softmax_ce":
        return rng.integers(0, k, size=n)
    if head in ("sigmoid_bce", "multilabel_bce"):
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if head == "exp_poisson":
        return rng.poisson(1.5, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


def _n_out(head: str, k: int) -> int:
    return 1 if head == "sigmoid_bce" else k


# ============================================================================================
# C05 — the output delta of canonical heads
# ============================================================================================


@register
class OutputDelta(Experiment):
    """δ_out = ∂L/∂z against ŷ − y, for the engine's heads and for torch autograd.

    Losses are means over the batch, so the per-sample delta is ``n · ∂L/∂z``.  For each head,
    random logits z ~ N(0, 2²) and targets drawn from the head's distribution are used; the
    deviation is ``max |n·δ − (ŷ − y)| / max |ŷ − y|``.  Mean absolute error is the control: a
    non-canonical pair whose δ is sign(ŷ − y), so the measurement must see a large deviation.
    """

    id = "C05"
    title = "The output delta of a canonical head is ŷ − y"
    claim = "With sigmoid+BCE / softmax+CE the output delta is ŷ − y"
    section = "4.1"
    measures = "δ_out vs ŷ − y and vs torch autograd, per head; MAE as the non-canonical control"
    rule = (
        "With dev = max|n·∂L/∂z − (ŷ − y)| / max|ŷ − y| from both the engine and torch autograd: "
        "holds if dev ≤ 1e-10 for sigmoid+BCE and softmax+CE and for the other canonical heads "
        "(½MSE, Poisson, multilabel BCE) on every seed, and the MAE control deviates by more "
        "than 0.01 (the check can tell a non-canonical head); partly if the two claimed heads "
        "pass but another canonical head or the control does not; fails if sigmoid+BCE or "
        "softmax+CE deviates."
    )
    profiles = {
        "tiny": {"n": 16, "k": 3},
        "quick": {"n": 64, "k": 4},
        "full": {"n": 256, "k": 5},
    }
    cost = {"tiny": 0.2, "quick": 0.3, "full": 0.5}

    CLAIMED = ("sigmoid_bce", "softmax_ce")
    CANONICAL = ("sigmoid_bce", "softmax_ce", "identity_mse", "exp_poisson", "multilabel_bce")
    CONTROL = "identity_mae"
    TOL = 1e-10

    def measure(self, settings, seeds, rng):
        import torch

        from mlplab.backends.torch import head_loss

        n, k = settings["n"], settings["k"]
        per = {h: {"engine": [], "torch": []} for h in HEADS}
        for seed in seeds:
            g = self.seed_rng(seed)
            for name in HEADS:
                head = get_head(name)
                kk = _n_out(name, k)
                z = g.normal(0.0, 2.0, size=(n, kk))
                y = head.validate(_labels(name, g, n, kk), kk)
                target = np.eye(kk)[y] if name == "softmax_ce" else y
                resid = head.output(z) - target  # ŷ − y
                scale = float(np.max(np.abs(resid)))
                per[name]["engine"].append(rel_err(n * head.delta(z, y), resid, scale))
                zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
                head_loss(name, zt, torch.as_tensor(y)).backward()
                per[name]["torch"].append(rel_err(n * zt.grad.numpy(), resid, scale))
        return {
            "heads": {
                h: {"engine": stat(v["engine"]), "torch": stat(v["torch"])} for h, v in per.items()
            },
            "canonical": {h: bool(get_head(h).canonical) for h in HEADS},
        }

    def breaks(self, m):
        dev = {h: max(v["engine"]["max"], v["torch"]["max"]) for h, v in m["heads"].items()}
        off = {h: d for h, d in dev.items() if not m["canonical"][h]}
        on = max(d for h, d in dev.items() if m["canonical"][h])
        return (
            f"δ = ŷ − y holds to {on:.1e} for every canonical head; it breaks for a "
            "non-canonical pairing: "
            + ", ".join(f"{h} deviates by {d:.2f}" for h, d in off.items())
            + "."
        )

    def judge(self, m):
        def worst(h):
            d = m["heads"][h]
            return max(d["engine"]["max"], d["torch"]["max"])

        claimed_ok = all(worst(h) <= self.TOL for h in self.CLAIMED)
        others_bad = [h for h in self.CANONICAL if h not in self.CLAIMED and worst(h) > self.TOL]
        control = min(m["heads"][self.CONTROL]["engine"]["min"], 1e300)
        control_ok = control > 0.01
        text = (
            f"sigmoid+BCE dev {worst('sigmoid_bce'):.1e}, softmax+CE dev "
            f"{worst('softmax_ce'):.1e}; ½MSE {worst('identity_mse'):.1e}, Poisson "
            f"{worst('exp_poisson'):.1e}, multilabel BCE {worst('multilabel_bce'):.1e} "
            f"(tolerance {self.TOL:.0e}, engine and torch autograd); the MAE control deviates "
            f"by {control:.2f} (its δ is sign(ŷ − y), not ŷ − y)"
        )
        if not claimed_ok:
            return Judgement(FAILS, text + ". A claimed head does not give ŷ − y.")
        if others_bad or not control_ok:
            why = []
            if others_bad:
                why.append(f"{', '.join(others_bad)} deviate")
            if not control_ok:
                why.append("the MAE control does not deviate, so the check cannot discriminate")
            return Judgement(PARTLY, text + ". " + "; ".join(why) + ".")
        return Judgement(HOLDS, text + ".")

    def rows(self, m):
        out = []
        for h, d in m["heads"].items():
            kind = "canonical" if m["canonical"][h] else "non-canonical (control)"
            out.append(
                (
                    f"{h} ({kind})",
                    f"max|n·δ − (ŷ − y)| / max|ŷ − y|: engine {short_stat(d['engine'])}, "
                    f"torch autograd {short_stat(d['torch'])}",
                )
            )
        return out

    def figures(self, m):
        fig, ax = new_figure(width=7.5, height=3.4)
        names = list(m["heads"])
        vals = [max(m["heads"][h]["engine"]["max"], 1e-18) for h in names]
        colors = ["tab:green" if m["canonical"][h] else "tab:red" for h in names]
        ax.bar(names, vals, color=colors)
        ax.set_yscale("log")
        ax.axhline(self.TOL, color="grey", ls=":", lw=1)
        ax.set(ylabel="max |n·δ − (ŷ − y)| / max|ŷ − y|", title="Output delta vs ŷ − y per head")
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        return [("deviation of δ_out from ŷ − y per head (red: non-canonical)", fig)]


# ============================================================================================
# C06 — the four backprop equations give every gradient
# ============================================================================================

LAYER_TYPES = {
    "plain": {},
    "dropout": {"dropout": 0.3},
    "batchnorm": {"norm": "batch"},
    "layernorm": {"norm": "layer"},
}


@register
class BackpropEquations(Experiment):
    """Hand-written backprop (the engine) against torch autograd on every combination.

    Two parts: the engine's own ``gradcheck`` suite (each activation, head, layer type and a
    few networks, against torch and central differences), and a grid of small float64
    networks ``[5, 7, 6, k]`` over every differentiable activation × head × layer type
    (plain, dropout with a fixed mask, batch norm in training mode, layer norm), compared with
    torch autograd on every parameter.  The suite runs on every seed; the grid on the first
    ``grid_seeds`` seeds (one in the quick profile, to stay within its budget).

    The Poisson head caps the log-rate at 80 inside its exponential (a guard against float
    overflow); a network whose logits pass that cap differentiates a different function than
    torch's uncapped Poisson loss, so such a case is set aside and listed, not compared.
    """

    id = "C06"
    title = "The four backprop equations give every gradient"
    claim = "The four backprop equations give all gradients"
    section = "4.1, 6.2"
    measures = "hand backprop vs torch autograd, every activation × head × layer type"
    rule = (
        f"Let e_t be the largest relative gradient error against torch autograd over every case "
        f"and seed, and e_fd the largest against central differences. holds if e_t ≤ "
        f"{TOL_TORCH:.0e} and e_fd ≤ {TOL_FD:.0e}; partly if e_t ≤ 1e-4 (right up to numerical "
        f"noise); fails otherwise. Networks whose Poisson logits exceed the head's "
        f"log-rate cap ({MAX_LOG_RATE:g}), where the engine's loss deliberately differs from "
        f"torch's, are listed and left out of e_t."
    )
    profiles = {
        "tiny": {
            "activations": ["tanh", "relu", "gelu"],
            "heads": ["softmax_ce", "identity_mse"],
            "layer_types": ["plain", "batchnorm"],
            "n": 8,
            "grid_seeds": 1,
        },
        "quick": {
            "activations": "all",
            "heads": "all",
            "layer_types": "all",
            "n": 8,
            "grid_seeds": 1,
        },
        "full": {
            "activations": "all",
            "heads": "all",
            "layer_types": "all",
            "n": 16,
            "grid_seeds": 3,
        },
    }
    cost = {"tiny": 1.0, "quick": 3.0, "full": 6.0}

    @staticmethod
    def _grid(settings):
        acts = settings["activations"]
        if acts == "all":
            acts = [a for a, c in ACTIVATIONS.items() if c.differentiable]
        heads = list(HEADS) if settings["heads"] == "all" else settings["heads"]
        layers = list(LAYER_TYPES) if settings["layer_types"] == "all" else settings["layer_types"]
        return acts, heads, layers

    def measure(self, settings, seeds, rng):
        acts, heads, layers = self._grid(settings)
        suite_t, suite_f, suite_ok, suite_n = [], [], [], 0
        grid_worst = []
        by_act = {a: [] for a in acts}
        by_head = {h: [] for h in heads}
        by_layer = {t: [] for t in layers}
        n_cases = 0
        capped = []
        for i, seed in enumerate(seeds):
            g = self.seed_rng(seed)
            suite = run_gradcheck(seed)
            suite_t.append(suite["max_rel_err_torch"])
            suite_f.append(suite["max_rel_err_fd"])
            suite_ok.append(sum(c["ok"] for c in suite["cases"]))
            suite_n = len(suite["cases"])
            if i >= settings["grid_seeds"]:
                continue
            worst = 0.0
            for a in acts:
                for h in heads:
                    for t in layers:
                        k = _n_out(h, 3)
                        spec = mlp_spec([5, 7, 6, k], a, head=h, dtype="float64", **LAYER_TYPES[t])
                        model = Network(spec, rng=g)
                        X = g.normal(size=(settings["n"], 5))
                        y = _labels(h, g, settings["n"], k)
                        r = check_network(model, X, y, rng=g, use_torch=True, fd=False)
                        e = r["max_rel_err_torch"]
                        z_max = float(np.max(model.z_out))
                        if h == "exp_poisson" and z_max > MAX_LOG_RATE:
                            capped.append(
                                {
                                    "activation": a,
                                    "layer_type": t,
                                    "seed": seed,
                                    "max_logit": z_max,
                                    "rel_err_torch": e,
                                }
                            )
                            continue
                        by_act[a].append(e)
                        by_head[h].append(e)
                        by_layer[t].append(e)
                        worst = max(worst, e)
                        n_cases += 1
            grid_worst.append(worst)
        return {
            "suite": {
                "cases": suite_n,
                "passed": stat(suite_ok),
                "max_rel_err_torch": stat(suite_t),
                "max_rel_err_fd": stat(suite_f),
            },
            "grid": {
                "activations": acts,
                "heads": heads,
                "layer_types": layers,
                "networks_checked": n_cases,
                "set_aside_poisson_cap": capped,
                "max_rel_err_torch": stat(grid_worst),
                "worst_by_activation": {a: float(max(v, default=0.0)) for a, v in by_act.items()},
                "worst_by_head": {h: float(max(v, default=0.0)) for h, v in by_head.items()},
                "worst_by_layer_type": {t: float(max(v, default=0.0)) for t, v in by_layer.items()},
            },
            "tolerance_torch": TOL_TORCH,
            "tolerance_fd": TOL_FD,
        }

    def breaks(self, m):
        g = m["grid"]
        worst = max(g["worst_by_activation"], key=g["worst_by_activation"].get)
        return (
            f"The largest error against autograd, {g['max_rel_err_torch']['max']:.1e} ({worst}), "
            f"is {m['tolerance_torch'] / max(g['max_rel_err_torch']['max'], 1e-300):.0e} times "
            "below the tolerance: only a wrong backward formula would break this claim."
        )

    def judge(self, m):
        e_t = max(m["suite"]["max_rel_err_torch"]["max"], m["grid"]["max_rel_err_torch"]["max"])
        e_fd = m["suite"]["max_rel_err_fd"]["max"]
        g = m["grid"]
        text = (
            f"{g['networks_checked']} networks ({len(g['activations'])} activations × "
            f"{len(g['heads'])} heads × {len(g['layer_types'])} layer types × seeds) plus "
            f"{m['suite']['cases']} gradcheck cases per seed: worst error vs torch autograd "
            f"{e_t:.1e} (tolerance {TOL_TORCH:.0e}), vs central differences {e_fd:.1e} "
            f"(tolerance {TOL_FD:.0e})"
        )
        aside = g.get("set_aside_poisson_cap") or []
        if aside:
            text += (
                f"; {len(aside)} network(s) set aside because their Poisson logits passed the "
                f"head's cap of {MAX_LOG_RATE:g} ("
                + ", ".join(
                    f"{c['activation']}/{c['layer_type']}, max logit {c['max_logit']:.0f}"
                    for c in aside
                )
                + ")"
            )
        if e_t <= TOL_TORCH and e_fd <= TOL_FD:
            return Judgement(HOLDS, text + ".")
        if e_t <= 1e-4:
            return Judgement(PARTLY, text + "; above tolerance but within 1e-4.")
        return Judgement(FAILS, text + "; some gradient is wrong.")

    def figures(self, m):
        g = m["grid"]
        fig, axes = new_figure(3, 1, width=11, height=3.4)
        for ax, key, title in zip(
            axes,
            ("worst_by_activation", "worst_by_head", "worst_by_layer_type"),
            ("per activation", "per head", "per layer type"),
        ):
            names = list(g[key])
            ax.bar(names, [max(v, 1e-18) for v in g[key].values()], color="tab:blue")
            ax.set_yscale("log")
            ax.set_ylim(1e-18, 1e-5)
            ax.axhline(TOL_TORCH, color="tab:red", ls=":", lw=1)
            ax.set_title(f"worst error vs autograd, {title}", fontsize=9)
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        return [("hand backprop vs torch autograd (red line: tolerance)", fig)]
