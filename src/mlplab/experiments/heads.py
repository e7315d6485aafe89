"""What a network's output means: Integrated Gradients add up to the output (C20), and the output
heads are generalized linear models (C21).

C20 reuses :func:`mlplab.explain.integrated_gradients` on engine MLPs trained on the 8×8 digits
(and MNIST in the full profile).  C21 fits networks *without* a hidden layer — a single dense
layer feeding a head, i.e. exactly a GLM with the head's link and distribution — on data drawn
from each head's own distribution, and compares the learned weights with the generating ones.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import evaluate, fit
from mlplab.experiments.base import (
    Experiment,
    Judgement,
    margin_text,
    merge_parts,
    new_figure,
    paired,
    register,
    score_text,
    score_verdict,
    stat,
)

# ============================================================================================
# C20 — Integrated Gradients completeness
# ============================================================================================


def _image_data(name: str, subset: int | None):
    from mlplab.data import load_dataset

    if name == "mnist":
        ds = load_dataset("mnist", subset=subset, seed=0)
    else:
        ds = load_dataset(name, seed=0)
    f32 = np.float32
    return ds.X_train.astype(f32), ds.y_train, ds.X_test.astype(f32), ds.y_test, ds.image_shape


@register
class IntegratedGradientsCompleteness(Experiment):
    """Completeness error of Integrated Gradients vs the number of quadrature points.

    For each trained model and test image ``x``: ``F`` is the logit of the predicted class,
    the baseline ``x′`` is the black image (zeros), and the relative completeness error is
    ``|Σ_i IG_i − (F(x) − F(x′))| / |F(x) − F(x′)|``.  Two quadrature rules: the trapezoid rule
    (mlplab's default) and the right Riemann sum of the original paper (Sundararajan et al.
    2017, ``α_k = k/m``), for m = 20 … 300 points.  Models: one ReLU MLP (piecewise linear, so
    the integrand jumps where a unit switches) and one tanh MLP (smooth).
    """

    id = "C20"
    title = "Integrated Gradients attributions add up to F(x) − F(baseline)"
    claim = "Integrated Gradients attributions add up to F(x) − F(baseline)"
    section = "8.6"
    measures = "completeness error vs number of steps (20…300), per quadrature rule and model"
    rule = (
        "For every model and both rules, at the largest number of steps, the share of test "
        "images whose relative completeness error is ≤ 5 %: holds if it is 100 % everywhere; "
        "partly if it is at least 90 % everywhere; fails otherwise."
    )
    profiles = {
        "tiny": {
            "data": "digits",
            "subset": None,
            "hidden": [32],
            "activations": ["relu"],
            "epochs": 5,
            "images": 4,
            "steps": [20, 100],
            "rules": ["riemann_trapezoid", "riemann_right"],
        },
        "quick": {
            "data": "digits",
            "subset": None,
            "hidden": [64, 64],
            "activations": ["relu", "tanh"],
            "epochs": 20,
            "images": 25,
            "steps": [20, 50, 100, 200, 300],
            "rules": ["riemann_trapezoid", "riemann_right"],
        },
        "full": {
            "data": "mnist",
            "subset": 10000,
            "hidden": [256, 128],
            "activations": ["relu", "tanh"],
            "epochs": 5,
            "images": 100,
            "steps": [20, 50, 100, 200, 300],
            "rules": ["riemann_trapezoid", "riemann_right"],
        },
    }
    cost = {"tiny": 0.5, "quick": 3.0, "full": 40.0}

    TOL = 0.05

    def cells(self, settings, seeds):
        """One cell per (activation, seed)."""
        return [{"activation": a, "seed": int(s)} for a in settings["activations"] for s in seeds]

    def measure_cell(self, settings, cell):
        """``measure`` for one activation and one seed."""
        return self.measure({**settings, "activations": [cell["activation"]]}, [cell["seed"]], None)

    def combine(self, settings, seeds, results):
        """The cells merged; each median and share recomputed over every image of every seed."""
        m = merge_parts(results)
        for model in m["models"].values():
            for by_steps in model["rules"].values():
                for entry in by_steps.values():
                    v = [x for x in entry["relative_error"]["per_seed"] if x is not None]
                    entry["median"] = float(np.median(v))
                    entry["share_within_tol"] = float(np.mean(np.asarray(v) <= self.TOL))
        return m

    def measure(self, settings, seeds, rng):
        from mlplab.explain import integrated_gradients

        X, y, Xt, yt, shape = _image_data(settings["data"], settings["subset"])
        models: dict[str, dict] = {}
        maps = []
        for act in settings["activations"]:
            per_rule = {r: {str(m): [] for m in settings["steps"]} for r in settings["rules"]}
            accs = []
            for seed in seeds:
                g = self.seed_rng(seed)
                net = Network.from_sizes([X.shape[1], *settings["hidden"], 10], act, rng=g)
                fit(
                    net,
                    X,
                    y,
                    optimizer="adam",
                    lr=1e-3,
                    epochs=settings["epochs"],
                    batch_size=32,
                    rng=g,
                )
                accs.append(float(evaluate(net, Xt, yt)["accuracy"]))
                pick = g.choice(len(Xt), size=settings["images"], replace=False)
                for i in pick:
                    for r in settings["rules"]:
                        for m in settings["steps"]:
                            a = integrated_gradients(net, Xt[i], steps=m, rule=r)
                            per_rule[r][str(m)].append(a.completeness_relative)
                            if (
                                len(maps) < 4
                                and seed == seeds[0]
                                and act == settings["activations"][0]
                                and r == settings["rules"][0]
                                and m == settings["steps"][-1]
                            ):
                                maps.append(
                                    {
                                        "input": [float(v) for v in a.input],
                                        "attributions": [float(v) for v in a.attributions],
                                        "target": a.target,
                                        "label": int(yt[i]),
                                        "f_x": a.value,
                                        "f_baseline": a.baseline_value,
                                        "sum": float(np.sum(a.attributions)),
                                    }
                                )
            models[act] = {
                "test_accuracy": stat(accs),
                "rules": {
                    r: {
                        m: {
                            "relative_error": stat(v),
                            "median": float(np.median(v)),
                            "share_within_tol": float(np.mean(np.asarray(v) <= self.TOL)),
                        }
                        for m, v in per_rule[r].items()
                    }
                    for r in per_rule
                },
            }
        return {
            "data": settings["data"],
            "image_shape": list(shape),
            "images_per_seed": settings["images"],
            "models": models,
            "maps": maps,
        }

    def breaks(self, m):
        worst = []
        for act, mod in m["models"].items():
            for rule, by in mod["rules"].items():
                first = min(by, key=int)
                worst.append((by[first]["relative_error"]["max"], act, rule, first))
        e, act, rule, steps = max(worst)
        return (
            f"The largest completeness error is {100 * e:.2f}% ({act}, {rule}, {steps} steps); "
            f"too few steps on a sharper model is where the {100 * self.TOL:g}% bound would "
            "break."
        )

    def judge(self, m):
        shares, parts = [], []
        for act, mod in m["models"].items():
            for r, by_m in mod["rules"].items():
                steps = sorted(by_m, key=int)
                last, first = by_m[steps[-1]], by_m[steps[0]]
                shares.append(last["share_within_tol"])
                parts.append(
                    f"{act} / {r}: median error {100 * first['median']:.2g}% at {steps[0]} "
                    f"steps → {100 * last['median']:.2g}% at {steps[-1]} (worst "
                    f"{100 * last['relative_error']['max']:.2g}%), "
                    f"{100 * last['share_within_tol']:.0f}% of images within 5%"
                )
        worst = min(shares)
        verdict = "holds" if worst >= 1.0 else "partly" if worst >= 0.9 else "fails"
        n = m["images_per_seed"] * len(
            next(iter(m["models"].values()))["test_accuracy"]["per_seed"]
        )
        text = (
            f"Relative completeness error |ΣIG − (F(x) − F(0))| / |F(x) − F(0)| on {n} "
            f"{m['data']} test images per model: " + "; ".join(parts) + "."
        )
        return Judgement(verdict, text)

    def figures(self, m):
        fig, axes = new_figure(len(m["models"]), 1, width=5.0 * len(m["models"]), height=3.6)
        axes = np.atleast_1d(axes)
        styles = {"riemann_trapezoid": "o-", "riemann_right": "s--"}
        for ax, (act, mod) in zip(axes, m["models"].items()):
            for r, by_m in mod["rules"].items():
                steps = sorted(by_m, key=int)
                xs = [int(s) for s in steps]
                med = [max(by_m[s]["median"], 1e-12) for s in steps]
                mx = [max(by_m[s]["relative_error"]["max"], 1e-12) for s in steps]
                line = ax.loglog(xs, med, styles.get(r, "o-"), label=f"{r} (median)")
                ax.loglog(
                    xs,
                    mx,
                    styles.get(r, "o-"),
                    color=line[0].get_color(),
                    alpha=0.4,
                    label=f"{r} (worst)",
                )
            ax.axhline(self.TOL, color="grey", ls=":", label="5 %")
            ax.set_xticks(xs, [str(v) for v in xs])
            ax.minorticks_off()
            ax.set(
                xlabel="quadrature points m",
                ylabel="relative completeness error",
                title=f"{act} MLP",
            )
            ax.legend(fontsize=6)
        figs = [("completeness error vs number of steps", fig)]
        if m["maps"]:
            shape = m["image_shape"]
            k = len(m["maps"])
            fig2, ax2 = new_figure(k, 2, width=2.3 * k, height=4.8)
            ax2 = np.asarray(ax2).reshape(2, k)
            for j, mp in enumerate(m["maps"]):
                img = np.asarray(mp["input"]).reshape(shape)
                att = np.asarray(mp["attributions"]).reshape(shape)
                lim = float(np.max(np.abs(att))) or 1.0
                ax2[0, j].imshow(img, cmap="gray_r")
                ax2[0, j].set_title(f"label {mp['label']}, explained {mp['target']}", fontsize=8)
                ax2[1, j].imshow(att, cmap="RdBu_r", vmin=-lim, vmax=lim)
                ax2[1, j].set_title(
                    f"ΣIG {mp['sum']:.2f}\nF(x)−F(0) {mp['f_x'] - mp['f_baseline']:.2f}",
                    fontsize=8,
                )
                for a in (ax2[0, j], ax2[1, j]):
                    a.set_xticks([])
                    a.set_yticks([])
            figs.append(("IG maps (red: pushes the explained logit up, blue: down)", fig2))
        return figs


# ============================================================================================
# C21 — output heads are GLMs
# ============================================================================================


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def glm_data(head: str, n: int, d: int, rng: np.random.Generator) -> dict:
    """Draw ``n`` rows from the GLM that ``head`` assumes, with generating parameters.

    ``x ~ N(0, I_d)``; ``W* ~ N(0, 1)`` (``N(0, 0.3²)`` for the Poisson rate), intercepts
    ``b*`` fixed small numbers, and

    * ``sigmoid_bce``: ``y ~ Bernoulli(σ(x·w* + b*))``;
    * ``multilabel_bce``: three independent such labels;
    * ``softmax_ce``: ``y ~ Categorical(softmax(W* x + b*))``, 3 classes, ``W*`` and ``b*``
      centred over the classes (softmax only identifies them up to a common shift);
    * ``identity_mse``: ``y = x·w* + b* + N(0, 0.5²)``;
    * ``identity_mae``: ``y = x·w* + b* + Laplace(0, 0.5)``;
    * ``exp_poisson``: the ``poisson`` set of :mod:`mlplab.data` — ``y ~ Poisson(exp(x·β* +
      c*))``, ``β* ~ N(0, 0.4²)``, ``c* = 1``.

    Returns ``{"X", "y", "W", "b"}`` with ``W`` of shape (k, d) and ``b`` (k,).
    """
    if head == "exp_poisson":
        from mlplab.data import load_dataset

        ds = load_dataset(
            "poisson", seed=rng, n_samples=n, n_features=d, val_fraction=0.0, test_fraction=0.0
        )
        return {
            "X": ds.X_train,
            "y": ds.y_train,
            "W": np.asarray(ds.meta["beta_star"], dtype=np.float64)[None, :],
            "b": np.array([float(ds.meta["intercept"])]),
        }
    X = rng.normal(size=(n, d))
    k = {"multilabel_bce": 3, "softmax_ce": 3}.get(head, 1)
    W = rng.normal(size=(k, d))
    b = np.linspace(-0.5, 0.5, k) if k > 1 else np.array([0.3])
    if head == "softmax_ce":
        W -= W.mean(axis=0, keepdims=True)
        b -= b.mean()
    Z = X @ W.T + b
    if head in ("sigmoid_bce", "multilabel_bce"):
        Y = (rng.uniform(size=Z.shape) < _sigmoid(Z)).astype(np.float64)
        y = Y[:, 0].astype(np.int64) if head == "sigmoid_bce" else Y
    elif head == "softmax_ce":
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        y = (rng.uniform(size=(n, 1)) > np.cumsum(P, axis=1)).sum(axis=1).astype(np.int64)
    elif head == "identity_mse":
        y = Z[:, 0] + rng.normal(0.0, 0.5, size=n)
    else:
        y = Z[:, 0] + rng.laplace(0.0, 0.5, size=n)
    return {"X": X, "y": y, "W": W, "b": b}


def _glm(head: str, k: int, d: int, X, y, settings) -> Network:
    """A network without hidden layers (one dense layer → head), trained full batch."""
    net = Network(mlp_spec([d, k], head=head, init="zeros", dtype="float64"))
    fit(
        net,
        X,
        y,
        optimizer="adam",
        lr=settings["lr"],
        epochs=settings["steps"],
        batch_size=len(X),
        shuffle=False,
        schedule="cosine",
        rng=0,
    )
    return net


def _theta(W, b, centre: bool):
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if centre:
        W, b = W - W.mean(axis=0, keepdims=True), b - b.mean()
    return np.concatenate([W.ravel(), b.ravel()])


def _nll(dist: str, mean, y) -> float:
    """Mean held-out negative log-likelihood of ``y`` under ``dist`` with mean ``mean``.

    Predictions outside the distribution's support (a linear model's probability below 0 or
    above 1, a negative rate) are clipped to [1e-6, 1 − 1e-6] or 1e-6.  Gaussian and Laplace
    use the generating scale 0.5.
    """
    mean = np.asarray(mean, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if dist == "bernoulli":
        p = np.clip(mean.reshape(y.shape), 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if dist == "categorical":
        p = np.clip(mean, 1e-6, None)
        p = p / p.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(int)])))
    if dist == "poisson":
        from scipy.special import gammaln

        mu = np.clip(mean.reshape(y.shape), 1e-6, None)
        return float(np.mean(mu - y * np.log(mu) + gammaln(y + 1)))
    r = mean.reshape(y.shape) - y
    if dist == "gaussian":
        return float(np.mean(0.5 * (r / 0.5) ** 2 + math.log(0.5 * math.sqrt(2 * math.pi))))
    return float(np.mean(np.abs(r) / 0.5 + math.log(2 * 0.5)))


#: Each head, the distribution it assumes, and its number of outputs.
GLM_HEADS = {
    "sigmoid_bce": ("bernoulli", 1),
    "multilabel_bce": ("bernoulli", 3),
    "softmax_ce": ("categorical", 3),
    "identity_mse": ("gaussian", 1),
    "identity_mae": ("laplace", 1),
    "exp_poisson": ("poisson", 1),
}
#: (data of this head, a wrong head fitted to it): a wrong link or a wrong noise model.
WRONG_HEADS = [
    ("exp_poisson", "identity_mse"),
    ("sigmoid_bce", "identity_mse"),
    ("softmax_ce", "multilabel_bce"),
    ("identity_mae", "identity_mse"),
]


@register
class HeadsAreGLMs(Experiment):
    """Each head, as a network with no hidden layer, recovers the GLM that generated its data.

    Per head: draw ``n`` training and ``n_test`` held-out rows from the head's distribution
    (:func:`glm_data`), fit ``dense(d → k) → head`` by full-batch Adam, and measure the relative
    parameter error ``‖θ̂ − θ*‖ / ‖θ*‖`` (θ = weights and intercepts; centred over the classes
    for softmax).  Then fit a *wrong* head to some of the data sets and compare held-out
    negative log-likelihoods under the true distribution.
    """

    id = "C21"
    title = "Output heads are GLMs: each head fits data from its distribution"
    claim = "Output heads are GLMs: each head fits data from its distribution"
    section = "7.3"
    measures = (
        "parameter recovery of each head (no hidden layer) on data from its distribution; "
        "held-out NLL of a wrong head"
    )
    TOL = 0.1
    rule = (
        f"Predictions, on means over seeds: each of the {len(GLM_HEADS)} heads recovers its "
        f"generating parameters with relative error ≤ {TOL:g}; in each of the "
        f"{len(WRONG_HEADS)} wrong-head pairs (MSE on Poisson counts, MSE on Bernoulli labels, "
        "independent sigmoids on categorical labels, MSE on Laplace noise) the wrong head's "
        "held-out NLL is higher than the right head's on the same seeds, beyond a noise "
        "margin of "
        + margin_text()
        + f". {len(GLM_HEADS) + len(WRONG_HEADS)} predictions; "
        + score_text("predictions")
    )
    profiles = {
        "tiny": {"n": 1000, "n_test": 500, "d": 4, "steps": 300, "lr": 0.05},
        "quick": {"n": 4000, "n_test": 4000, "d": 4, "steps": 600, "lr": 0.05},
        "full": {"n": 20000, "n_test": 20000, "d": 8, "steps": 1500, "lr": 0.05},
    }
    cost = {"tiny": 0.5, "quick": 2.0, "full": 15.0}

    def cells(self, settings, seeds):
        """One cell per seed."""
        return [{"seed": int(s)} for s in seeds]

    def measure_cell(self, settings, cell):
        """``measure`` for one seed."""
        return self.measure(settings, [cell["seed"]], None)

    def combine(self, settings, seeds, results):
        """The seeds' measurements merged (stats joined in seed order; seed 0's example)."""
        return merge_parts(results)

    def measure(self, settings, seeds, rng):
        d, n, nt = settings["d"], settings["n"], settings["n_test"]
        rec: dict[str, list] = {h: [] for h in GLM_HEADS}
        nll: dict[str, dict[str, list]] = {
            f"{a} data": {"right": [], "wrong": []} for a, _ in WRONG_HEADS
        }
        example = {}
        for seed in seeds:
            g = self.seed_rng(seed)
            for head, (dist, k) in GLM_HEADS.items():
                data = glm_data(head, n + nt, d, g)
                X, y = data["X"][:n], data["y"][:n]
                Xt, yt = data["X"][n:], data["y"][n:]
                net = _glm(head, k, d, X, y, settings)
                W = net.named_parameters()["0.weight"]
                b = net.named_parameters()["0.bias"]
                centre = head == "softmax_ce"
                t_hat, t_star = _theta(W, b, centre), _theta(data["W"], data["b"], centre)
                rec[head].append(float(np.linalg.norm(t_hat - t_star) / np.linalg.norm(t_star)))
                if seed == seeds[0]:
                    example[head] = {"true": t_star.tolist(), "learned": t_hat.tolist()}
                for right, wrong in WRONG_HEADS:
                    if right != head:
                        continue
                    yw = np.eye(k)[y] if wrong == "multilabel_bce" else y
                    kw = k if wrong == "multilabel_bce" else 1
                    net_w = _glm(wrong, kw, d, X, yw, settings)
                    key = f"{head} data"
                    nll[key]["right"].append(_nll(dist, net.output(Xt), yt))
                    nll[key]["wrong"].append(_nll(dist, net_w.output(Xt), yt))
        pairs = dict(WRONG_HEADS)
        return {
            "n_train": n,
            "n_test": nt,
            "d": d,
            "recovery": {h: stat(v) for h, v in rec.items()},
            "heldout_nll": {
                key: {
                    "right_head": key.split(" ")[0],
                    "wrong_head": pairs[key.split(" ")[0]],
                    "right": stat(v["right"]),
                    "wrong": stat(v["wrong"]),
                }
                for key, v in nll.items()
            },
            "example": example,
        }

    def breaks(self, m):
        worst = max(m["recovery"], key=lambda h: m["recovery"][h]["mean"] or 0)
        gaps = {k: paired(v["wrong"], v["right"]) for k, v in m["heldout_nll"].items()}
        k = min(gaps, key=lambda key: gaps[key]["diff"] if gaps[key]["diff"] is not None else 0)
        g = gaps[k]
        return (
            f"The hardest head to recover is {worst} (relative error "
            f"{m['recovery'][worst]['mean']:.3f}); the wrong head comes closest on {k}: its "
            f"held-out NLL is higher by {g['diff']:+.4f} against a margin of ±{g['margin']:.4f}."
        )

    def judge(self, m):
        checks = {}
        for h, s in m["recovery"].items():
            checks[f"{h} recovers"] = s["mean"] is not None and s["mean"] <= self.TOL
        for key, v in m["heldout_nll"].items():
            worse = paired(v["wrong"], v["right"])["outcome"] == "a"
            checks[f"{v['wrong_head']} worse on {key}"] = worse
        passed = sum(checks.values())
        rec = ", ".join(f"{h} {s['mean']:.3f}" for h, s in m["recovery"].items())
        pairs = "; ".join(
            f"{key}: {v['right_head']} {v['right']['mean']:.4f} vs {v['wrong_head']} "
            f"{v['wrong']['mean']:.4f}"
            for key, v in m["heldout_nll"].items()
        )
        text = (
            f"Relative parameter error ‖θ̂ − θ*‖/‖θ*‖ (n = {m['n_train']}, d = {m['d']}): {rec}. "
            f"Held-out NLL under the true distribution, right vs wrong head: {pairs}. "
            f"{passed}/{len(checks)} predictions true"
        )
        if passed < len(checks):
            text += "; not true: " + ", ".join(k for k, ok in checks.items() if not ok)
        return Judgement(score_verdict(passed, len(checks)), text + ".")

    def figures(self, m):
        fig, (ax, ax2) = new_figure(2, 1, width=11, height=4.0)
        for h, ex in m["example"].items():
            ax.scatter(ex["true"], ex["learned"], s=22, alpha=0.8, label=h)
        allv = [v for ex in m["example"].values() for v in ex["true"] + ex["learned"]]
        lim = max(abs(v) for v in allv) * 1.05
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
        ax.set(
            xlabel="generating parameter",
            ylabel="learned parameter",
            title="No-hidden-layer nets recover the GLM (seed 0)",
        )
        ax.legend(fontsize=7)
        keys = list(m["heldout_nll"])
        x = np.arange(len(keys))
        H = m["heldout_nll"]
        right = [H[k]["right"]["mean"] for k in keys]
        wrong = [H[k]["wrong"]["mean"] for k in keys]
        ax2.bar(x - 0.2, right, 0.4, label="matching head", color="tab:green")
        ax2.bar(x + 0.2, wrong, 0.4, label="wrong head", color="tab:red")
        ax2.set_xticks(x, [f"{k}\nvs {H[k]['wrong_head']}" for k in keys], fontsize=7)
        ax2.set(ylabel="held-out NLL (true distribution)", title="Wrong head does worse?")
        ax2.legend(fontsize=8)
        return [("parameter recovery and held-out NLL per head", fig)]
