"""The rules that turn a diagnostics record and the history into :class:`Finding` objects
(:func:`diagnose`).  Each rule's thresholds are named constants written just above it, with the
reasoning and the measurements behind each value.  Over 600 lines because it is one cohesive
thing: the rules share their helpers and run together in :func:`diagnose`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from mlplab.diagnostics.measurements import SATURATION_DERIVATIVE, json_safe, max_derivative
from mlplab.errors import DataError

__all__ = [
    "SECTIONS",
    "FINDING_IDS",
    "SEVERITIES",
    "Finding",
    "good_records",
    "diagnose",
    "SATURATION_FRACTION",
    "SATURATION_ERROR_FRACTION",
    "SATURATION_PROBES",
    "DEAD_FRACTION",
    "DEAD_ERROR_FRACTION",
    "DEAD_PROBES",
    "VANISHING_GAIN",
    "VANISHING_CHECKS",
    "EXPLODING_GAIN",
    "EXPLODING_CHECKS",
    "EXPLODING_GROWTH",
    "EXPLODING_ACTIVATION_GROWTH",
    "OVERFIT_RISE",
    "OVERFIT_PATIENCE",
    "FLAT_MIN_EPOCHS",
    "FLAT_DECREASE",
    "UPDATE_RATIO_LOW",
    "UPDATE_RATIO_HIGH",
]

SECTIONS = {
    "8.1": "Vanishing Gradient",
    "8.2": "Dead ReLU",
    "8.3": "Overfitting",
    "8.5": "Initialization Sensitivity",
}
#: Finding id → the sections of the text it belongs to (the first is the main one).
FINDING_IDS = {
    "vanishing_gradient": ("8.1",),
    "saturation": ("8.1",),
    "dead_relu": ("8.2",),
    "overfitting": ("8.3",),
    "exploding_gradient": ("8.5", "8.1"),
    "divergence": ("8.5",),
    "flat_loss": ("8.5", "8.1"),
}
SEVERITIES = ("info", "warning", "error")


@dataclass
class Finding:
    """One diagnosis.

    Attributes
    ----------
    id : str
        One of :data:`FINDING_IDS`.
    severity : {"info", "warning", "error"}
    summary : str
        One line with the decisive numbers.
    evidence : dict
        The numbers behind it (layers, epochs, ratios), JSON-serialisable.
    advice : str
        What to change, chosen from the evidence.
    epoch : int or None
        The epoch at which the condition was first met (0 = at initialisation).
    sections, failure_mode
        Where the reference text treats it (``["8.1"]``, "Vanishing Gradient").
    """

    id: str
    severity: str
    summary: str
    evidence: dict
    advice: str
    epoch: int | None = None
    sections: list = field(default_factory=list)
    failure_mode: str = ""

    def __post_init__(self):
        if not self.sections:
            self.sections = list(FINDING_IDS[self.id])
        if not self.failure_mode:
            self.failure_mode = SECTIONS[self.sections[0]]

    def to_dict(self) -> dict:
        """The finding as a JSON-serialisable dict (non-finite numbers as None)."""
        return json_safe(asdict(self))


# ========================================================================================== rules
def _runs(flags: list[bool], need: int) -> list[tuple[int, int]]:
    """Maximal runs ``(start, end)`` (inclusive) of True of length ≥ ``min(need, len(flags))``."""
    need = max(1, min(need, len(flags)))
    runs, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start >= need:
                runs.append((start, i - 1))
            start = None
    return runs


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _median(values) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _init_words(record: dict) -> str:
    inits = {(la.get("init"), la.get("std")) for la in record.get("layers", [])}
    if len(inits) == 1:
        name, std = next(iter(inits))
        return f"N(0, {std:g}²)" if name == "normal" else str(name)
    return ", ".join(sorted(str(n) for n, _ in inits))


def _uses_plain_normal(record: dict) -> bool:
    return any(la.get("init") == "normal" for la in record.get("layers", []))


def _hidden_names(record: dict) -> list[str]:
    return [f"{b['layer']}.{b['activation']}" for b in record.get("blocks", [])]


def _median_update(checks) -> float | None:
    return _median([r for c in checks for r in (c.get("update_ratio") or []) if r is not None])


#: Backward gain ``rms δ⁽¹⁾ / rms δ_out`` below 1e-3: the first hidden layer receives less than
#: a thousandth of the error signal.  Healthy networks sit within 1e-2 … 1e1 of 1 (the width
#: change between the output and the hidden layers alone accounts for ~0.1–0.3).  Through k
#: sigmoid layers the gain is at most 0.25^k · Π‖W‖, which crosses 1e-3 at k ≈ 5 for unit-norm
#: weights.  It must hold in VANISHING_CHECKS consecutive checks so a single odd batch cannot
#: trigger it.
VANISHING_GAIN = 1e-3
VANISHING_CHECKS = 3


def _check_vanishing(record, checks) -> Finding | None:
    # gain exactly 0: no unit of the first hidden layer is active at all — the signal is cut,
    # not shrunk, and dead_relu reports it
    flags = [c.get("gain") is not None and 0 < c["gain"] < VANISHING_GAIN for c in checks]
    runs = _runs(flags, VANISHING_CHECKS)
    if not runs or not any(flags):
        return None
    start, end = runs[0]
    ongoing = flags[-1]
    last = checks[end] if not ongoing else checks[-1]
    n_hidden = len(record.get("blocks", []))
    gain = last["gain"]
    per_layer = [
        (d / last["delta_rms"][-1]) if d is not None and last["delta_rms"][-1] else None
        for d in last["delta_rms"]
    ]
    factor = gain ** (1.0 / n_hidden) if gain and gain > 0 and n_hidden else None
    saturating = [b["activation"] for b in record["blocks"] if b["saturating"]]
    evidence = {
        "gain_first_hidden_to_output": gain,
        "per_block_gain": per_layer,
        "blocks": _hidden_names(record) + ["output"],
        "mean_factor_per_layer": factor,
        "grad_rms_per_dense": last["grad_rms"],
        "checks": end - start + 1 if not ongoing else len(checks) - start,
        "first_epoch": checks[start]["epoch"],
        "last_epoch": last["epoch"],
        "ongoing": bool(ongoing),
        "threshold": VANISHING_GAIN,
    }
    advice = []
    if saturating:
        from mlplab.core.activations import get_activation

        caps = ", ".join(
            f"{name} φ′ ≤ {max_derivative(get_activation(name)):g}"
            for name in sorted(set(saturating))
        )
        advice.append(
            f"each saturating layer multiplies δ by φ′(z) ({caps}, less away from z = 0); "
            "use ReLU-family activations (relu, gelu) with he init"
        )
    if _uses_plain_normal(record):
        advice.append(
            f"weights from {_init_words(record)} ignore the fan-in; use xavier (tanh/sigmoid) "
            "or he (ReLU) init so each layer keeps the gradient's scale"
        )
    advice.append("add normalization (--norm batch or layer) or use fewer layers")
    summary = (
        f"the first hidden layer gets {_fmt(gain)} of the output's error signal "
        f"(threshold {VANISHING_GAIN:g}) over {evidence['checks']} checks, epochs "
        f"{evidence['first_epoch']}–{evidence['last_epoch']}"
        + (f"; ≈ ×{_fmt(factor)} per layer" if factor else "")
        + ("" if ongoing else "; it recovered later")
    )
    return Finding(
        "vanishing_gradient",
        "warning" if ongoing else "info",
        summary,
        evidence,
        "; ".join(advice) + ".",
        epoch=checks[start]["epoch"],
    )


#: Backward gain above 1e3, in EXPLODING_CHECKS consecutive checks: the error signal is
#: amplified a thousandfold on its way down — N(0,1) weights on fan-in d multiply it by about
#: √(d/2) per ReLU layer.  Also ``exploding_gradient``: a non-finite gradient, or a global
#: gradient norm EXPLODING_GROWTH times the median of the first checks (healthy runs see
#: gradient norms fall or stay within ~10× of their start).
EXPLODING_GAIN = 1e3
EXPLODING_CHECKS = 3
EXPLODING_GROWTH = 1e3
#: Forward growth: the std of the last hidden block's output over the first's, on the probe
#: batch.  Above 1e3 the activations themselves grow exponentially with depth (section 8.5).
EXPLODING_ACTIVATION_GROWTH = 1e3


def _check_exploding(record, checks, acts) -> Finding | None:
    reasons = []
    first_epoch = None
    gain_flags = [c.get("gain") is not None and c["gain"] > EXPLODING_GAIN for c in checks]
    runs = _runs(gain_flags, EXPLODING_CHECKS)
    if runs and any(gain_flags):
        s = runs[0][0]
        first_epoch = checks[s]["epoch"]
        reasons.append(
            f"the first hidden layer gets {_fmt(checks[runs[0][1]]['gain'])}× the output's "
            f"error signal (threshold {EXPLODING_GAIN:g})"
        )
    bad = [c for c in checks if not c.get("finite", True)]
    if bad:
        e = bad[0].get("epoch")
        first_epoch = e if first_epoch is None or e is None else min(first_epoch, e)
        reasons.append(f"a non-finite gradient at step {bad[0].get('step')}")
    norms = [c.get("total_grad_norm") for c in checks]
    base = _median(norms[:3])
    growth = None
    if base and len(norms) > 3:
        later = [n for n in norms[3:] if n is not None and math.isfinite(n)]
        if later and max(later) > EXPLODING_GROWTH * base:
            growth = max(later) / base
            i = 3 + norms[3:].index(max(later))
            first_epoch = min(first_epoch or checks[i]["epoch"], checks[i]["epoch"])
            reasons.append(f"the gradient norm grew {_fmt(growth)}× from its start")
    act_growth = None
    for a in acts:
        stds = [b["std"] for b in a["blocks"]]
        if len(stds) >= 2 and stds[0] > 0 and math.isfinite(stds[-1]):
            r = stds[-1] / stds[0]
            if r > EXPLODING_ACTIVATION_GROWTH:
                act_growth = (a["epoch"], r, stds)
                break
    if act_growth:
        first_epoch = min(first_epoch if first_epoch is not None else act_growth[0], act_growth[0])
        reasons.append(
            f"activation std grows {_fmt(act_growth[1])}× from the first to the last hidden "
            f"layer (epoch {act_growth[0]})"
        )
    if not reasons:
        return None
    evidence = {
        "reasons": reasons,
        "gain_first_hidden_to_output": [c.get("gain") for c in checks[-5:]],
        "total_grad_norm": [c.get("total_grad_norm") for c in checks[-5:]],
        "grad_norm_growth": growth,
        "activation_std_per_block": act_growth[2] if act_growth else None,
        "blocks": _hidden_names(record),
        "init": _init_words(record),
    }
    advice = []
    if _uses_plain_normal(record):
        advice.append(
            f"weights from {_init_words(record)} ignore the fan-in (each ReLU layer multiplies "
            "the scale by about std·√(fan_in/2)); use he init for ReLU, xavier for tanh/sigmoid"
        )
    advice.append("clip the gradient norm (clip_grad_norm) and lower the learning rate")
    advice.append("normalization layers keep the scale fixed with depth")
    severity = "error" if bad else "warning"
    return Finding(
        "exploding_gradient",
        severity,
        "; ".join(reasons),
        evidence,
        "; ".join(advice) + ".",
        epoch=first_epoch,
    )


def _consecutive_probe_hits(acts, key, threshold, need):
    """Per block: the last run of probe passes with ``stat ≥ threshold`` reaching the end."""
    hits = {}
    if not acts:
        return hits
    n_blocks = len(acts[-1]["blocks"])
    for j in range(n_blocks):
        vals = [a["blocks"][j].get(key) if j < len(a["blocks"]) else None for a in acts]
        if vals[-1] is None:
            continue
        flags = [v is not None and v >= threshold for v in vals]
        k = 0
        while k < len(flags) and flags[len(flags) - 1 - k]:
            k += 1
        if k >= max(1, min(need, len(flags))):
            hits[j] = (vals, len(flags) - k)
    return hits


#: ``saturation`` fires when at least 40 % of a layer's pairs are saturated on the probe batch
#: in SATURATION_PROBES consecutive probe passes: a large part of the layer then learns at < 1 %
#: speed.  A Xavier-initialised sigmoid/tanh layer starts near 0 % and stays below ~20 % after
#: 15 epochs on MNIST at lr 3e-3; N(0, 1) weights on 784 pixel inputs give ~50 % at once.
SATURATION_FRACTION = 0.4
#: Above this fraction the layer is all but frozen: severity ``error``.
SATURATION_ERROR_FRACTION = 0.9
SATURATION_PROBES = 2


def _check_saturation(record, acts) -> Finding | None:
    hits = _consecutive_probe_hits(acts, "saturated", SATURATION_FRACTION, SATURATION_PROBES)
    if not hits:
        return None
    names = _hidden_names(record)
    last = acts[-1]["blocks"]
    per_layer = {names[j]: last[j]["saturated"] for j in range(len(last)) if j < len(names)}
    worst = max(last[j]["saturated"] for j in hits)
    z_std = {names[j]: last[j]["z_std"] for j in hits}
    start = min(acts[s]["epoch"] for _, s in hits.values())
    evidence = {
        "saturated_fraction": per_layer,
        "flagged": [names[j] for j in sorted(hits)],
        "z_std": z_std,
        "since_epoch": start,
        "epoch": acts[-1]["epoch"],
        "definition": f"φ′(z) < {SATURATION_DERIVATIVE:g}·max φ′",
        "threshold": SATURATION_FRACTION,
    }
    advice = []
    if _uses_plain_normal(record):
        advice.append(
            f"weights from {_init_words(record)} make |z| large; use xavier init for "
            "sigmoid/tanh (Var W = 2/(fan_in+fan_out))"
        )
    advice.append(
        "standardize the inputs, lower the learning rate, or switch to ReLU/GELU, whose "
        "derivative does not vanish on the positive side"
    )
    summary = (
        f"{', '.join(evidence['flagged'])}: {_fmt(worst * 100)} % of (row, unit) pairs have "
        f"φ′ below {SATURATION_DERIVATIVE:g}·max φ′ (pre-activation std "
        f"{', '.join(_fmt(v) for v in z_std.values())}), since epoch {start}"
    )
    return Finding(
        "saturation",
        "error" if worst >= SATURATION_ERROR_FRACTION else "warning",
        summary,
        evidence,
        "; ".join(advice) + ".",
        epoch=start,
    )


#: ``dead_relu`` fires when at least 30 % of a ReLU-family layer's units are dead (φ′ = 0 on
#: every probe row) in DEAD_PROBES consecutive probe passes.  A He-initialised ReLU layer
#: starts with ~0 dead units (each unit is active on about half the rows); normal Adam runs on
#: MNIST end with 2–16 % (the most in narrow 64-unit layers); a third lost is capacity the
#: optimizer cannot win back, since a dead unit's incoming weights get no gradient.
DEAD_FRACTION = 0.3
#: A layer with (almost) every unit dead passes nothing: severity ``error``.
DEAD_ERROR_FRACTION = 0.99
DEAD_PROBES = 2


def _check_dead(record, acts, checks) -> Finding | None:
    hits = _consecutive_probe_hits(acts, "dead", DEAD_FRACTION, DEAD_PROBES)
    if not hits:
        return None
    names = _hidden_names(record)
    first, last = acts[0]["blocks"], acts[-1]["blocks"]
    per_layer = {names[j]: last[j]["dead"] for j in range(len(last)) if last[j]["dead"] is not None}
    at_start = {names[j]: first[j]["dead"] for j in hits}
    worst = max(last[j]["dead"] for j in hits)
    start = min(acts[s]["epoch"] for _, s in hits.values())
    at_init = acts[0]["epoch"] == 0
    born = [names[j] for j in sorted(hits) if at_init and (first[j]["dead"] or 0) >= DEAD_FRACTION]
    died = [names[j] for j in sorted(hits) if names[j] not in born]
    bias = sorted({la.get("bias_init", 0.0) for la in record.get("layers", [])})
    upd = _median_update(checks)
    evidence = {
        "dead_fraction": per_layer,
        "dead_units": {names[j]: last[j]["dead_units"] for j in hits},
        "dead_fraction_at_first_probe": at_start,
        "first_probe_epoch": acts[0]["epoch"],
        "flagged": [names[j] for j in sorted(hits)],
        "since_epoch": start,
        "epoch": acts[-1]["epoch"],
        "zero_fraction": {names[j]: last[j]["zero"] for j in hits},
        "bias_init": bias,
        "median_update_ratio": upd,
        "threshold": DEAD_FRACTION,
        "definition": "φ′(z) = 0 on every row of the probe batch",
    }
    evidence["dead_at_init"] = born
    evidence["died_in_training"] = died
    advice = []
    if born:
        cause = (
            f"bias init {min(bias):g} pushes z below 0"
            if any(b < 0 for b in bias)
            else "their pre-activations start negative on every row"
        )
        advice.append(
            f"{', '.join(born)} start dead ({cause}); use bias 0 (or a small positive value) "
            "and he init"
        )
    if died:
        advice.append(
            f"{', '.join(died)} died during training: large steps pushed their biases and "
            "weights negative; lower the learning rate"
            + (f" (median update-to-weight ratio {_fmt(upd)} per step)" if upd else "")
        )
        if any(b < 0 for b in bias):
            advice.append(f"bias init {min(bias):g} starts units near the dead side; use 0")
    advice.append("leaky_relu (α = 0.01), prelu, elu or gelu keep a gradient on the negative side")
    summary = (
        f"{', '.join(evidence['flagged'])}: {_fmt(worst * 100)} % of units never activate on "
        f"the probe batch (epoch {acts[-1]['epoch']}; "
        + ", ".join(f"{k} {_fmt((v or 0) * 100)} %" for k, v in at_start.items())
        + f" at epoch {acts[0]['epoch']})"
    )
    return Finding(
        "dead_relu",
        "error" if worst >= DEAD_ERROR_FRACTION else "warning",
        summary,
        evidence,
        "; ".join(advice) + ".",
        epoch=start,
    )


def good_records(history) -> list[dict]:
    """The history records of finished epochs (the divergence record left out)."""
    return [
        r
        for r in history
        if not r.get("diverged")
        and r.get("train_loss") is not None
        and math.isfinite(r["train_loss"])
    ]


#: ``overfitting``: the validation loss has risen OVERFIT_RISE (10 %) above its minimum, for at
#: least OVERFIT_PATIENCE epochs since that minimum, while the training loss kept falling.
#: Noise of the validation loss between neighbouring epochs of a healthy run is a few per cent.
OVERFIT_RISE = 0.10
OVERFIT_PATIENCE = 3


def _check_overfitting(history) -> Finding | None:
    recs = [r for r in good_records(history) if r.get("val_loss") is not None]
    if len(recs) < OVERFIT_PATIENCE + 1:
        return None
    val = [r["val_loss"] for r in recs]
    best = int(np.argmin(val))
    now = recs[-1]
    since = len(recs) - 1 - best
    rise = (now["val_loss"] - val[best]) / abs(val[best]) if val[best] else math.inf
    if since < OVERFIT_PATIENCE or rise < OVERFIT_RISE:
        return None
    if not now["train_loss"] < recs[best]["train_loss"]:
        return None
    # the first epoch at which the whole rule held (what a live doctor would have shown)
    cross = next(
        r["epoch"]
        for r in recs[best + OVERFIT_PATIENCE :]
        if (r["val_loss"] - val[best]) / abs(val[best]) >= OVERFIT_RISE
        and r["train_loss"] < recs[best]["train_loss"]
    )
    evidence = {
        "best_epoch": recs[best]["epoch"],
        "best_val_loss": val[best],
        "epoch": now["epoch"],
        "val_loss": now["val_loss"],
        "val_loss_rise": rise,
        "train_loss_at_best": recs[best]["train_loss"],
        "train_loss": now["train_loss"],
        "threshold_rise": OVERFIT_RISE,
        "patience": OVERFIT_PATIENCE,
    }
    gap = ""
    for key in ("accuracy",):
        if now.get(f"train_{key}") is not None and now.get(f"val_{key}") is not None:
            evidence[f"train_{key}"] = now[f"train_{key}"]
            evidence[f"val_{key}"] = now[f"val_{key}"]
            evidence[f"{key}_gap"] = now[f"train_{key}"] - now[f"val_{key}"]
            gap = (
                f"; train accuracy {now[f'train_{key}']:.1%} vs validation {now[f'val_{key}']:.1%}"
            )
    summary = (
        f"validation loss rose {rise:.0%} from its minimum {_fmt(val[best])} at epoch "
        f"{recs[best]['epoch']} to {_fmt(now['val_loss'])} at epoch {now['epoch']} while the "
        f"training loss fell {_fmt(recs[best]['train_loss'])} → {_fmt(now['train_loss'])}" + gap
    )
    advice = (
        f"stop near epoch {recs[best]['epoch']} (early_stopping with restore_best keeps those "
        "weights); add weight decay (l2), dropout, or more training data"
    )
    return Finding("overfitting", "warning", summary, evidence, advice + ".", epoch=cross)


def _check_divergence(record, history, stop_reason, checks) -> Finding | None:
    div = [r for r in history if r.get("diverged")]
    weights_bad = [w for w in record.get("weights", []) if not w.get("finite", True)]
    if not div and stop_reason != "divergence" and not weights_bad:
        return None
    last_checks = checks[-3:]
    evidence = {
        "stop_reason": stop_reason,
        "total_grad_norm_before": [c.get("total_grad_norm") for c in last_checks],
        "init": _init_words(record),
    }
    if div:
        d = div[-1]
        evidence.update(
            epoch=d.get("epoch"), loss=d.get("train_loss"), restored_epoch=d.get("restored_epoch")
        )
        kept = (
            "the initial weights (nothing learned was kept)"
            if d.get("restored_epoch") == 0
            else f"the weights from the end of epoch {d.get('restored_epoch')}"
        )
        summary = (
            f"the loss became {d.get('train_loss')} in epoch {d.get('epoch')}; training stopped "
            f"and the model holds {kept}"
        )
        epoch = d.get("epoch")
    else:
        evidence["non_finite_weights_epoch"] = weights_bad[0]["epoch"] if weights_bad else None
        summary = "the weights became non-finite" + (
            f" at epoch {weights_bad[0]['epoch']}" if weights_bad else ""
        )
        epoch = weights_bad[0]["epoch"] if weights_bad else None
    advice = ["lower the learning rate (÷10)", "clip the gradient norm (clip_grad_norm)"]
    if _uses_plain_normal(record):
        advice.insert(0, f"replace {_init_words(record)} init by he (ReLU) or xavier (tanh)")
    return Finding(
        "divergence",
        "error",
        summary,
        evidence,
        "Training stopped and kept the last good weights; " + "; ".join(advice) + ".",
        epoch=epoch,
    )


#: ``flat_loss``: after at least FLAT_MIN_EPOCHS epochs the best training loss is less than
#: FLAT_DECREASE (5 %) below the loss at the first step, or less than 5 % below the loss of the
#: best *constant* prediction (class frequencies, the mean target: see
#: :func:`constant_loss`), i.e. the network has learned nothing about x.  A learning network
#: cuts its loss by far more than that in its first epochs (MNIST: 2.3 → < 0.5 in one epoch).
FLAT_MIN_EPOCHS = 3
FLAT_DECREASE = 0.05
#: Update-to-weight ratios, used as evidence to choose the advice: ~1e-3 per step is the usual
#: healthy order of magnitude; below 1e-6 the weights do not move; above 1e-1 one step rewrites
#: a tenth of the layer.
UPDATE_RATIO_LOW = 1e-6
UPDATE_RATIO_HIGH = 1e-1


def _check_flat(record, history, checks, others) -> Finding | None:
    recs = good_records(history)
    if len(recs) < FLAT_MIN_EPOCHS:
        return None
    first = checks[0]["loss"] if checks and checks[0].get("step") == 0 else recs[0]["train_loss"]
    if first is None or not math.isfinite(first) or first == 0:
        return None
    best = min(r["train_loss"] for r in recs)
    drop = (first - best) / abs(first)
    chance = record.get("chance_loss")
    vs_chance = (chance - best) / abs(chance) if chance else None
    if drop >= FLAT_DECREASE and (vs_chance is None or vs_chance >= FLAT_DECREASE):
        return None
    upd = _median_update(checks)
    evidence = {
        "initial_loss": first,
        "best_train_loss": best,
        "relative_decrease": drop,
        "chance_loss": chance,
        "below_chance_by": vs_chance,
        "epochs": len(recs),
        "median_update_ratio": upd,
        "median_total_grad_norm": _median([c.get("total_grad_norm") for c in checks]),
        "threshold": FLAT_DECREASE,
    }
    advice = []
    if "vanishing_gradient" in others or "saturation" in others:
        advice.append(
            "the gradient does not reach the lower layers (see "
            + ", ".join(k for k in ("vanishing_gradient", "saturation") if k in others)
            + "): change the init or the activation"
        )
    if "dead_relu" in others:
        advice.append("ReLU units are dead and pass no gradient (see dead_relu)")
    if advice:
        pass  # the cause is named above; the update size follows from it
    elif upd is not None and upd < UPDATE_RATIO_LOW:
        advice.append(f"weights move {_fmt(upd)} of their norm per step: raise the learning rate")
    elif upd is not None and upd > UPDATE_RATIO_HIGH:
        advice.append(
            f"each step changes weights by {_fmt(upd)} of their norm: the learning rate is too "
            "high for the loss to settle; lower it"
        )
    if not advice:
        advice.append(
            "try a learning rate 10× larger and 10× smaller, and he/xavier init for the activation"
        )
    if drop < FLAT_DECREASE:
        summary = (
            f"after {len(recs)} epochs the training loss is {_fmt(best)}, only {drop:.1%} below "
            f"its start {_fmt(first)} (threshold {FLAT_DECREASE:.0%})"
        )
    else:
        summary = (
            f"after {len(recs)} epochs the training loss {_fmt(best)} is no better than a "
            f"constant prediction ({_fmt(chance)}, e.g. the class frequencies): nothing about "
            "x has been learned"
        )
    return Finding(
        "flat_loss",
        "warning",
        summary,
        evidence,
        "; ".join(advice) + ".",
        epoch=recs[FLAT_MIN_EPOCHS - 1]["epoch"],
    )


def diagnose(record: dict, history=(), *, stop_reason: str | None = None) -> list[Finding]:
    """Findings from a diagnostics record and the per-epoch history.

    Parameters
    ----------
    record : dict
        :attr:`DiagnosticsRecorder.record` (or the same read back from ``diagnostics.json``).
    history : list of dict
        The trainer's per-epoch records (``trainer.history.records`` or ``history.json``).
    stop_reason : str, optional
        ``trainer.stop_reason``; defaults to the record's.

    Returns
    -------
    list of Finding, errors first.
    """
    if not isinstance(record, dict):
        raise DataError("record must be a dict (a diagnostics record)")
    history = list(history.records if hasattr(history, "records") else history)
    stop_reason = stop_reason or record.get("stop_reason")
    checks = list(record.get("checks", []))
    acts = list(record.get("activations", []))
    found: dict[str, Finding] = {}
    for f in (
        _check_divergence(record, history, stop_reason, checks),
        _check_exploding(record, checks, acts),
        _check_vanishing(record, checks),
        _check_saturation(record, acts),
        _check_dead(record, acts, checks),
        _check_overfitting(history),
    ):
        if f is not None:
            found[f.id] = f
    flat = _check_flat(record, history, checks, found)
    if flat is not None:
        found["flat_loss"] = flat
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(found.values(), key=lambda f: (order[f.severity], list(FINDING_IDS).index(f.id)))
