"""Dead ReLUs (the text's section 8, C15): units pushed negative stop learning; Leaky ReLU and
GELU are said to avoid it.

Deaths present at initialisation (a negative bias init) and deaths caused by training (learning
rate, optimizer) are separate cells, figures and parts of the verdict.  Everything trains with
the engine on MNIST subsets (:func:`mlplab.experiments.failure_modes.mnist_splits`); dead units
are read on a fixed probe batch by :func:`unit_states`.
"""

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
    short_stat,
    stat,
)
from mlplab.experiments.failure_modes import mnist_splits

_COLORS = {"relu": "tab:blue", "leaky_relu": "tab:cyan", "gelu": "tab:green"}

NO_GRADIENT = 1e-3


def unit_states(model: Network, X) -> list[dict]:
    """Per hidden layer, on the probe rows ``X``: the fraction of *dead* units (|φ′(z)| ≤
    ``NO_GRADIENT``·max φ′ on every row: they pass no gradient, so their incoming weights
    stop moving), of *inactive* units (z < 0 on every row: pushed negative) and, for ReLU,
    the :func:`mlplab.diagnostics.activation_stats` dead fraction (φ′ = 0 on every row), plus
    the boolean dead and inactive masks of each unit.
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
                "dead_mask": dead,
                "inactive": float(np.mean(inactive)),
                "diagnostics_dead": st["dead"],
                "inactive_mask": inactive,
            }
        )
    return out


def _pct(v) -> str:
    if v is None:
        return "—"
    return f"{100 * v:.1f}%" if 0 < v < 0.1 else f"{100 * v:.0f}%"


@register
class DeadReLU(Experiment):
    """Dead units per activation, with the two causes of death measured apart.

    An MLP ``784 → H → H → 10`` (He/Kaiming init by the engine's ``auto`` rule, all biases
    set to ``bias_init``) trains on an MNIST subset.  Dead units (φ′ ≈ 0 on every row of a
    fixed probe batch: they pass no gradient) are counted before and after training.

    * **Deaths at initialisation** — ``init`` cells: a negative ``bias_init`` pushes units
      negative before any step; trained with gentle optimizers, the question is whether the
      first-layer units pushed negative (z < 0 on every probe row) come back (*recovered*).
    * **Deaths caused by training** — ``training`` cells: bias 0 (no unit dead at init), each
      optimizer / learning rate; *killed* = the share of units alive at init that are dead at
      the end.

    Every cell trains ReLU, Leaky ReLU and GELU on the same seed (same init stream and batch
    order), so they are compared cell by cell.  One cell per (cause, optimizer, lr, bias,
    seed).
    """

    id = "C15"
    title = "Dead ReLU: units pushed negative stop learning; Leaky ReLU and GELU avoid it"
    claim = "Dead ReLU: units pushed negative stop learning; Leaky ReLU / GELU avoid it"
    section = "8.2"
    measures = (
        "dead-unit fraction at init (bias init) and caused by training (learning rate, "
        "optimizer), per activation, cell by cell"
    )
    KILLED_SOME = 0.10
    DEAD_FEW = 0.05
    NEVER_BACK = 0.01
    COMES_BACK = 0.5
    rule = (
        "Means over seeds, per cell. At init (negative bias cells): ReLU's first-layer units "
        f"pushed negative stay dead — recovered ≤ {100 * NEVER_BACK:g} % in every init cell; "
        "Leaky ReLU / GELU avoid it — recovered ≥ "
        f"{100 * COMES_BACK:g} % in every init cell. In training (bias 0): ReLU units are "
        f"killed — killed ≥ {100 * KILLED_SOME:g} % in some cell and more at the highest "
        "learning rate than at the lowest of the same optimizer, for some optimizer; Leaky "
        f"ReLU / GELU avoid it — killed ≤ {100 * DEAD_FEW:g} % in every training cell. holds if "
        "both ReLU parts and all four Leaky ReLU / GELU parts are true; partly if at least one "
        "ReLU part and at least one Leaky ReLU / GELU part are true; fails otherwise."
    )
    profiles = {
        "tiny": {
            "subset": 300,
            "probe": 256,
            "width": 32,
            "epochs": 1,
            "batch_size": 32,
            "activations": ["relu", "leaky_relu", "gelu"],
            "training": [["adam", 1e-3], ["adam", 1e-2]],
            "init": [["adam", 1e-3]],
            "bias_inits": [-1.0],
        },
        "quick": {
            "subset": 1000,
            "probe": 512,
            "width": 64,
            "epochs": 3,
            "batch_size": 32,
            "activations": ["relu", "leaky_relu", "gelu"],
            "training": [["sgd", 0.05], ["sgd", 0.5], ["adam", 1e-3], ["adam", 1e-2]],
            "init": [["sgd", 0.05], ["adam", 1e-3]],
            "bias_inits": [-1.0, -3.0],
        },
        "full": {
            "subset": 5000,
            "probe": 1000,
            "width": 128,
            "epochs": 5,
            "batch_size": 64,
            "activations": ["relu", "leaky_relu", "gelu"],
            "training": [
                ["sgd", 0.01],
                ["sgd", 0.1],
                ["sgd", 0.5],
                ["adam", 1e-3],
                ["adam", 1e-2],
                ["adam", 3e-2],
            ],
            "init": [["sgd", 0.1], ["adam", 1e-3]],
            "bias_inits": [-1.0, -3.0],
        },
    }
    cost = {"tiny": 0.5, "quick": 5.0, "full": 90.0}

    @staticmethod
    def cell_name(opt, lr, bias) -> str:
        """``adam lr=0.01 bias=0`` — the key of one cell in the measurements."""
        return f"{opt} lr={lr:g} bias={bias:g}"

    def cells(self, settings, seeds):
        """Training cells (bias 0) first, then init cells; each for every seed."""
        out = [
            {"cause": "training", "optimizer": o, "lr": lr, "bias": 0.0, "seed": int(s)}
            for o, lr in settings["training"]
            for s in seeds
        ]
        out += [
            {"cause": "init", "optimizer": o, "lr": lr, "bias": float(b), "seed": int(s)}
            for b in settings["bias_inits"]
            for o, lr in settings["init"]
            for s in seeds
        ]
        return out

    def measure_cell(self, settings, cell):
        """Train each activation from the cell's seed; dead/killed/recovered fractions."""
        X, y, _, _, Xt, yt = mnist_splits(settings["subset"], 0, 2000)
        P = X[: settings["probe"]]
        w = settings["width"]
        out = {}
        for act in settings["activations"]:
            g = self.seed_rng(cell["seed"])
            model = Network(mlp_spec([784, w, w, 10], act, bias_init=cell["bias"]), g)
            start = unit_states(model, P)
            fit(
                model,
                X,
                y,
                optimizer=cell["optimizer"],
                lr=cell["lr"],
                epochs=settings["epochs"],
                batch_size=settings["batch_size"],
                rng=g,
            )
            end = unit_states(model, P)
            alive0 = np.concatenate([~st["dead_mask"] for st in start])
            dead1 = np.concatenate([st["dead_mask"] for st in end])
            was = start[0]["inactive_mask"]
            back = was & ~end[0]["inactive_mask"]
            out[act] = {
                "dead_at_init": float(np.mean([st["dead"] for st in start])),
                "dead": float(np.mean([st["dead"] for st in end])),
                "killed": float(np.sum(alive0 & dead1) / alive0.sum()) if alive0.any() else 0.0,
                "pushed_negative_at_init": int(was.sum()),
                "recovered": float(back.sum() / was.sum()) if was.any() else float("nan"),
                "test_accuracy": float(evaluate(model, Xt, yt)["accuracy"]),
            }
        return out

    def combine(self, settings, seeds, results):
        """``{cause: {cell name: {activation: {quantity: stat}}}}`` in seed order."""
        groups: dict = {}
        for cell, r in zip(self.cells(settings, seeds), results):
            name = self.cell_name(cell["optimizer"], cell["lr"], cell["bias"])
            g = groups.setdefault(cell["cause"], {}).setdefault(name, {"cell": cell, "runs": []})
            g["runs"].append(r)
        out = {
            "n_train": int(settings["subset"] * 0.9),
            "width": settings["width"],
            "activations": list(settings["activations"]),
        }
        for cause in ("training", "init"):
            out[cause] = {}
            for name, g in groups.get(cause, {}).items():
                c = g["cell"]
                entry = {"optimizer": c["optimizer"], "lr": c["lr"], "bias_init": c["bias"]}
                for act in settings["activations"]:
                    runs = [r[act] for r in g["runs"]]
                    entry[act] = {
                        k: stat([r[k] for r in runs])
                        for k in (
                            "dead_at_init",
                            "dead",
                            "killed",
                            "pushed_negative_at_init",
                            "recovered",
                            "test_accuracy",
                        )
                    }
                out[cause][name] = entry
        return out

    @staticmethod
    def lr_grows(cells, act="relu") -> bool:
        """For some optimizer, the highest-rate training cell killed more than the lowest."""
        for opt in {c["optimizer"] for c in cells.values()}:
            rows = sorted(
                (c["lr"], c[act]["killed"]["mean"]) for c in cells.values() if c["optimizer"] == opt
            )
            if len(rows) >= 2 and rows[-1][1] > rows[0][1]:
                return True
        return False

    def checks(self, m) -> dict:
        """Each part of the rule: name → True/False."""
        T, I = m["training"], m["init"]
        out = {}

        def rec(c, a):
            return c[a]["recovered"]["mean"]

        out["relu: pushed negative at init stay dead"] = bool(I) and all(
            rec(c, "relu") is not None and rec(c, "relu") <= self.NEVER_BACK for c in I.values()
        )
        out["relu: training kills units"] = bool(T) and (
            max(c["relu"]["killed"]["mean"] for c in T.values()) >= self.KILLED_SOME
            and self.lr_grows(T)
        )
        for a in m["activations"]:
            if a == "relu":
                continue
            out[f"{a}: recovers from a negative init"] = bool(I) and all(
                rec(c, a) is not None and rec(c, a) >= self.COMES_BACK for c in I.values()
            )
            out[f"{a}: training kills none"] = bool(T) and all(
                c[a]["killed"]["mean"] <= self.DEAD_FEW for c in T.values()
            )
        return out

    def judge(self, m):
        checks = self.checks(m)
        relu = [v for k, v in checks.items() if k.startswith("relu")]
        others = [v for k, v in checks.items() if not k.startswith("relu")]
        if all(relu) and all(others):
            verdict = HOLDS
        elif any(relu) and any(others):
            verdict = PARTLY
        else:
            verdict = FAILS
        acts = m["activations"]
        init_parts = [
            f"{name}: dead at init "
            + ", ".join(f"{a} {_pct(c[a]['dead_at_init']['mean'])}" for a in acts)
            + "; recovered "
            + ", ".join(f"{a} {_pct(c[a]['recovered']['mean'])}" for a in acts)
            for name, c in m["init"].items()
        ]
        train_parts = [
            f"{name}: killed " + ", ".join(f"{a} {_pct(c[a]['killed']['mean'])}" for a in acts)
            for name, c in m["training"].items()
        ]
        text = (
            f"Deaths at init (negative bias) — {'; '.join(init_parts)}. Deaths caused by "
            f"training (bias 0) — {'; '.join(train_parts)} ({m['n_train']} MNIST images, "
            f"width {m['width']})"
        )
        not_true = [k for k, ok in checks.items() if not ok]
        if not_true:
            text += ". Not true: " + ", ".join(not_true)
        return Judgement(verdict, text + ".")

    def breaks(self, m):
        T = m["training"]
        if not T:
            return ""
        name, c = max(T.items(), key=lambda kv: kv[1]["relu"]["killed"]["mean"])
        others = ", ".join(
            f"{a} {_pct(c[a]['killed']['mean'])}" for a in m["activations"] if a != "relu"
        )
        low = min(T.items(), key=lambda kv: kv[1]["relu"]["killed"]["mean"])
        return (
            f"Training kills the most ReLU units at {name}: "
            f"{_pct(c['relu']['killed']['mean'])} (against {others}); at {low[0]} it kills "
            f"{_pct(low[1]['relu']['killed']['mean'])} — the learning rate decides whether "
            "ReLUs die in training."
        )

    def rows(self, m):
        out = []
        for cause in ("init", "training"):
            for name, c in m[cause].items():
                for a in m["activations"]:
                    out.append(
                        (
                            f"{cause}: {name}, {a}",
                            f"dead at init {short_stat(c[a]['dead_at_init'], scale=100, unit='%')}"
                            f", dead at end {short_stat(c[a]['dead'], scale=100, unit='%')}, "
                            f"killed {short_stat(c[a]['killed'], scale=100, unit='%')}, "
                            f"recovered {short_stat(c[a]['recovered'], scale=100, unit='%')}, "
                            f"test {short_stat(c[a]['test_accuracy'], scale=100, unit='%')}",
                        )
                    )
        return out

    def _bars(self, m, cause: str, key: str, title: str):
        cells = m[cause]
        names = list(cells)
        acts = m["activations"]
        fig, ax = new_figure(width=max(6.4, 1.4 * len(names) + 2), height=3.6)
        x = np.arange(len(names))
        width = 0.8 / len(acts)
        for i, a in enumerate(acts):
            vals = [100 * (cells[n][a][key]["mean"] or 0) for n in names]
            off = (i - (len(acts) - 1) / 2) * width
            ax.bar(x + off, vals, width, color=_COLORS.get(a), label=a)
        ax.set_xticks(x, [n.replace(" bias", "\nbias") for n in names], fontsize=7)
        ax.set_ylim(0, 103)
        ax.set(ylabel=f"{key.replace('_', ' ')} (%)", title=title)
        ax.legend(fontsize=7)
        return fig

    def figures(self, m):
        out = []
        if m["init"]:
            out.append(
                (
                    "deaths at init: first-layer units pushed negative that came back",
                    self._bars(m, "init", "recovered", "Negative bias init: recovered units"),
                )
            )
        if m["training"]:
            out.append(
                (
                    "deaths caused by training: units alive at init, dead at the end",
                    self._bars(m, "training", "killed", "Bias 0: units killed by training"),
                )
            )
        return out
