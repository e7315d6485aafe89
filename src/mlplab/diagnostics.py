"""Diagnostics while a model trains, and a doctor that names the failure mode.

Two training callbacks and a pure function:

* :class:`DiagnosticsRecorder` samples the training run.  Every ``every``-th batch (a
  *check*) it records, from the live gradients seen in ``on_batch_end`` (before the optimizer
  step), per Dense layer ``ℓ``

  - the gradient norm ``‖∂L/∂W_ℓ‖_F`` and its per-weight RMS ``‖∂L/∂W_ℓ‖_F / √(d_out·d_in)``;
  - the update-to-weight ratio ``‖ΔW_ℓ‖_F / ‖W_ℓ‖_F`` of that step (``W`` is copied at the check
    and compared at the next hook, when the optimizer has stepped);

  and per block (each hidden block and the output) the RMS of ``δ = ∂L/∂z`` over the batch.  The
  *backward gain* of a check is ``rms δ⁽¹⁾ / rms δ_out``: how much of the output error signal
  is left at the first hidden layer.  Once per epoch (and at the start) it runs a fixed *probe
  batch* forward in eval mode and records per hidden block the mean and std of ``z`` and
  ``h = φ(z)``, a histogram of ``h``, and — using the activation's flags, not its name —

  - ``saturated`` (``saturating`` activations: sigmoid, tanh): the fraction of (row, unit)
    pairs with ``φ′(z) < SATURATION_DERIVATIVE · max φ′`` (for σ that is ``|z| > 6.0``, for
    tanh ``|z| > 3.0``);
  - ``zero`` (``can_die`` activations: ReLU, ReLU6): the fraction of pairs with ``h = 0``
    exactly, and ``dead``: the fraction of units with ``φ′(z) = 0`` on *every* probe row
    (they pass no gradient at all, so nothing moves their incoming weights).

  Weights are checked for non-finite values each epoch.  Cost: nothing when not attached;
  when attached, a few norms per check (O(parameters)) and one probe forward per epoch.

* :func:`diagnose` turns a record and the trainer's history into :class:`Finding` objects.
* :class:`Doctor` is a recorder that runs :func:`diagnose` after every epoch and at the end,
  and calls ``on_finding(finding)`` for each finding that is new (or got more severe).

Each finding names the failure mode of the reference text (section 8) it belongs to:
8.1 vanishing gradient, 8.2 dead ReLU, 8.3 overfitting, 8.5 initialization sensitivity.
The thresholds below are named constants; each comment gives the reasoning.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from mlplab.core.layers import ActivationLayer, Dense
from mlplab.core.network import Network
from mlplab.core.train import Callback
from mlplab.errors import ConfigError, DataError, check_range

__all__ = [
    "FORMAT",
    "SECTIONS",
    "FINDING_IDS",
    "Finding",
    "DiagnosticsRecorder",
    "Doctor",
    "diagnose",
    "gradient_check",
    "activation_stats",
    "max_derivative",
    "probe_record",
    "constant_loss",
    "diagnostics_report",
    "read_diagnostics",
    "diagnose_run",
    "DIAGNOSTICS_JSON",
    "json_safe",
]

FORMAT = "mlplab.diagnostics/1"

# ---------------------------------------------------------------------------------------- sampling
#: Checks per epoch when ``every="auto"``: the check interval is
#: ``max(1, steps_per_epoch // CHECKS_PER_EPOCH)`` batches.  Measured cost of the whole doctor
#: (checks, update ratios, one 256-row probe pass per epoch) on MNIST 784-256-256-10, batch 128,
#: one BLAS thread: 4–7 % of the training time at 5 checks per epoch; 41–44 % with ``every=1``.
CHECKS_PER_EPOCH = 5
#: Rows of the probe batch taken by the command line (the first rows of the training split).
PROBE_SIZE = 256
#: Bins of the per-layer activation histograms.
HIST_BINS = 30

# -------------------------------------------------------------------------------------- thresholds
#: A (row, unit) pair of a saturating activation is saturated when φ′(z) < 1 % of φ′'s maximum:
#: the unit then passes less than 1/100 of the gradient it would pass at its steepest point.
SATURATION_DERIVATIVE = 0.01
#: ``saturation`` fires when at least 40 % of a layer's pairs are saturated on the probe batch
#: in SATURATION_PROBES consecutive probe passes: a large part of the layer then learns at < 1 %
#: speed.  A Xavier-initialised sigmoid/tanh layer starts near 0 % and stays below ~20 % after
#: 15 epochs on MNIST at lr 3e-3; N(0, 1) weights on 784 pixel inputs give ~50 % at once.
SATURATION_FRACTION = 0.4
#: Above this fraction the layer is all but frozen: severity ``error``.
SATURATION_ERROR_FRACTION = 0.9
SATURATION_PROBES = 2

#: ``dead_relu`` fires when at least 30 % of a ReLU-family layer's units are dead (φ′ = 0 on
#: every probe row) in DEAD_PROBES consecutive probe passes.  A He-initialised ReLU layer
#: starts with ~0 dead units (each unit is active on about half the rows); normal Adam runs on
#: MNIST end with 2–16 % (the most in narrow 64-unit layers); a third lost is capacity the
#: optimizer cannot win back, since a dead unit's incoming weights get no gradient.
DEAD_FRACTION = 0.3
#: A layer with (almost) every unit dead passes nothing: severity ``error``.
DEAD_ERROR_FRACTION = 0.99
DEAD_PROBES = 2

#: Backward gain ``rms δ⁽¹⁾ / rms δ_out`` below 1e-3: the first hidden layer receives less than
#: a thousandth of the error signal.  Healthy networks sit within 1e-2 … 1e1 of 1 (the width
#: change between the output and the hidden layers alone accounts for ~0.1–0.3).  Through k
#: sigmoid layers the gain is at most 0.25^k · Π‖W‖, which crosses 1e-3 at k ≈ 5 for unit-norm
#: weights.  It must hold in VANISHING_CHECKS consecutive checks so a single odd batch cannot
#: trigger it.
VANISHING_GAIN = 1e-3
VANISHING_CHECKS = 3
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

#: ``overfitting``: the validation loss has risen OVERFIT_RISE (10 %) above its minimum, for at
#: least OVERFIT_PATIENCE epochs since that minimum, while the training loss kept falling.
#: Noise of the validation loss between neighbouring epochs of a healthy run is a few per cent.
OVERFIT_RISE = 0.10
OVERFIT_PATIENCE = 3

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
        return json_safe(asdict(self))


# ================================================================================== measurements
def _norm(a: np.ndarray) -> float:
    """Frobenius norm accumulated in float64 (no float32 overflow for huge entries).

    ``einsum`` with a float64 accumulator: no copy, and no BLAS call (a threaded BLAS
    ``dot`` is slower than the whole sum on a busy machine).
    """
    a = np.asarray(a)
    return float(np.sqrt(np.einsum("i,i->", a.ravel(), a.ravel(), dtype=np.float64)))


def _rms(a) -> float | None:
    if a is None or np.size(a) == 0:
        return None
    return _norm(a) / math.sqrt(np.size(a))


def _hidden_layers(model: Network) -> list[tuple[int | None, int, ActivationLayer]]:
    """(dense index, activation-layer index, layer) per hidden block, in the order of trace()."""
    out, dense_i = [], None
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            dense_i = i
        elif isinstance(layer, ActivationLayer):
            out.append((dense_i, i, layer))
    return out


_MAX_DPHI: dict = {}


def max_derivative(activation) -> float:
    """``max_z φ′(z)``, found on a fine grid over [−20, 20] (σ: 0.25, tanh: 1)."""
    key = tuple(sorted(activation.spec().items()))
    if key not in _MAX_DPHI:
        z = np.linspace(-20.0, 20.0, 40001)
        _MAX_DPHI[key] = float(np.max(np.abs(activation.df(z))))
    return _MAX_DPHI[key]


def layout(model: Network) -> dict:
    """The parts of the model a record refers to: Dense layers and hidden blocks."""
    layers = []
    for i, layer in model.dense_layers():
        layers.append(
            {
                "index": i,
                "name": f"{i}.weight",
                "shape": list(layer.params["weight"].shape),
                "init": layer.init,
                "std": layer.std,
                "bias_init": layer.bias_init,
            }
        )
    blocks = []
    for dense_i, act_i, layer in _hidden_layers(model):
        act = layer.activation
        blocks.append(
            {
                "dense": dense_i,
                "layer": act_i,
                "activation": act.name,
                "saturating": bool(act.saturating),
                "can_die": bool(act.can_die),
                "units": int(model.layers[dense_i].units) if dense_i is not None else None,
            }
        )
    return {"layers": layers, "blocks": blocks, "head": model.head.name}


def gradient_check(model: Network, *, step: int, epoch: int, loss: float) -> dict:
    """Statistics of the gradients now in ``model`` (after a backward, before a step).

    Returns a dict with ``grad_norm``/``grad_rms``/``weight_norm`` per Dense layer,
    ``delta_rms`` per block (hidden blocks, then the output block), the backward ``gain``
    ``rms δ⁽¹⁾ / rms δ_out`` (None without hidden blocks), ``total_grad_norm`` over all
    parameters and ``finite`` (every gradient finite).
    """
    grad_norm, grad_rms, weight_norm = [], [], []
    for _, layer in model.dense_layers():
        g, w = layer.grads["weight"], layer.params["weight"]
        n = _norm(g)
        grad_norm.append(n)
        grad_rms.append(n / math.sqrt(g.size))
        weight_norm.append(_norm(w))
    total = math.sqrt(
        sum(n * n for n in grad_norm)
        + sum(
            _norm(g) ** 2
            for i, layer in enumerate(model.layers)
            for k, g in layer.grads.items()
            if not (isinstance(layer, Dense) and k == "weight")
        )
    )
    delta_rms = [_rms(b["delta"]) for b in model.trace()]
    gain = None
    if len(delta_rms) >= 2 and delta_rms[0] is not None and delta_rms[-1]:
        gain = delta_rms[0] / delta_rms[-1]
    return {
        "step": int(step),
        "epoch": int(epoch),
        "loss": float(loss),
        "grad_norm": grad_norm,
        "grad_rms": grad_rms,
        "weight_norm": weight_norm,
        "delta_rms": delta_rms,
        "gain": gain,
        "total_grad_norm": total,
        "finite": bool(math.isfinite(total)),
        "update_ratio": None,
    }


def activation_stats(model: Network, X, *, bins: int = HIST_BINS) -> list[dict]:
    """Per hidden block, statistics of one eval-mode forward pass of the probe batch ``X``.

    Each entry: ``mean``/``std`` of ``h``, ``z_mean``/``z_std`` of ``z``, ``dphi_mean`` (mean
    φ′), ``saturated`` (fraction of pairs with φ′ < SATURATION_DERIVATIVE · max φ′; None
    unless the activation is ``saturating``), ``zero`` (fraction of pairs with h = 0), ``dead``
    (fraction of units with φ′ = 0 on every row) and ``dead_units`` (their count) — the last
    three None unless the activation ``can_die`` — and ``hist`` (``edges``, ``counts``) of h.
    """
    model.forward(X)
    out = []
    for _, _, layer in _hidden_layers(model):
        act, z, h = layer.activation, layer.z, layer.out
        dphi = act.df(z, layer.params["weight"]) if act.learnable else act.df(z)
        z64, h64 = z.astype(np.float64), h.astype(np.float64)
        finite = bool(np.all(np.isfinite(h64)))
        entry = {
            "mean": float(np.mean(h64)),
            "std": float(np.std(h64)),
            "z_mean": float(np.mean(z64)),
            "z_std": float(np.std(z64)),
            "dphi_mean": float(np.mean(dphi)),
            "saturated": None,
            "zero": None,
            "dead": None,
            "dead_units": None,
            "finite": finite,
        }
        if act.saturating:
            thr = SATURATION_DERIVATIVE * max_derivative(act)
            entry["saturated"] = float(np.mean(np.abs(dphi) < thr))
        if act.can_die:
            entry["zero"] = float(np.mean(h == 0))
            dead = np.all(dphi == 0, axis=0)
            entry["dead"] = float(np.mean(dead))
            entry["dead_units"] = int(np.sum(dead))
        fin = h64[np.isfinite(h64)]
        if fin.size:
            lo, hi = float(fin.min()), float(fin.max())
            if act.output_range == "(0, 1)":
                lo, hi = 0.0, 1.0
            elif act.output_range == "(-1, 1)":
                lo, hi = -1.0, 1.0
            if hi <= lo:
                hi = lo + 1.0
            counts, edges = np.histogram(fin, bins=bins, range=(lo, hi))
            entry["hist"] = {"edges": edges.tolist(), "counts": counts.astype(int).tolist()}
        else:
            entry["hist"] = None
        out.append(entry)
    return out


def constant_loss(model: Network, y) -> float | None:
    """The head's mean loss of the best constant prediction on labels ``y`` (chance level).

    The same logits for every row: softmax ``z_k = log freq_k`` (loss = entropy of the class
    frequencies, ln K for balanced classes); sigmoid ``z = logit(ȳ)``; identity + MSE the mean
    (loss ½·variance), + MAE the median; exp + Poisson ``z = log ȳ``.  None without labels.
    """
    head = model.head
    y = head.validate(y, model.output_dim, dtype=np.float64)
    n = len(y)
    if n == 0:
        return None
    if head.name == "softmax_ce":
        freq = np.bincount(y, minlength=model.output_dim) / n
        z = np.log(np.maximum(freq, 1e-300))
    elif head.activation == "sigmoid":
        p = np.clip(y.mean(axis=0), 1e-12, 1 - 1e-12)
        z = np.log(p) - np.log1p(-p)
    elif head.name == "identity_mae":
        z = np.median(y, axis=0)
    elif head.activation == "identity":
        z = y.mean(axis=0)
    elif head.activation == "exp":
        z = np.log(np.maximum(y.mean(axis=0), 1e-12))
    else:  # pragma: no cover - every head is listed above
        return None
    return float(head.loss(np.tile(z, (n, 1)), y))


def _weights_finite(model: Network) -> bool:
    return all(bool(np.all(np.isfinite(v))) for v in model.named_parameters().values())


# ======================================================================================= recorder
class DiagnosticsRecorder(Callback):
    """Samples gradients, updates and activations during :meth:`Trainer.fit`.

    Parameters
    ----------
    probe : array_like, shape (n_probe, input_dim), optional
        Fixed rows for the activation statistics (e.g. the first 256 training rows).  Without
        it no activation statistics, saturation or dead units are recorded.
    labels : array_like, optional
        Training labels, for the chance-level loss :func:`constant_loss` (``chance_loss``).
    every : int or "auto"
        Record gradient statistics every ``every``-th optimizer step (always at step 0);
        ``"auto"`` = ``max(1, steps_per_epoch // CHECKS_PER_EPOCH)``.
    bins : int
        Histogram bins of the activation statistics.
    record : dict, optional
        A record of an earlier part of the same run (e.g. before a resume) to continue.

    Attributes
    ----------
    record : dict
        JSON-serialisable: ``format``, ``layers``, ``blocks``, ``head``, ``every``,
        ``checks`` (one dict per check, see :func:`gradient_check`), ``activations`` (one
        ``{"epoch", "blocks": [...]}`` per probe pass, see :func:`activation_stats`),
        ``weights`` (``{"epoch", "finite"}`` per epoch) and ``stop_reason``.
    """

    def __init__(
        self, probe=None, *, labels=None, every="auto", bins: int = HIST_BINS, record=None
    ):
        if every != "auto":
            check_range("every", every, 1, None, integer=True)
        check_range("bins", bins, 1, None, integer=True)
        self.every_option = every
        self.every = 1 if every == "auto" else int(every)
        self.bins = int(bins)
        self.probe = None if probe is None else np.asarray(probe)
        self.labels = labels
        if self.probe is not None and (self.probe.ndim != 2 or len(self.probe) == 0):
            raise DataError(f"probe must be a non-empty 2-D array; got shape {self.probe.shape}")
        if record is not None and record.get("format") != FORMAT:
            raise DataError(f"record must be an {FORMAT} record; got {record.get('format')!r}")
        self.record: dict = record if record is not None else {"format": FORMAT}
        self._pending: tuple[dict, list[np.ndarray]] | None = None
        #: True once :meth:`on_train_begin` has run (a finished run resumed never trains).
        self.started = False

    # ---------------------------------------------------------------------------- hooks
    def on_train_begin(self, trainer) -> None:
        self.started = True
        model = trainer.model
        if self.probe is not None and self.probe.shape[1] != model.input_dim:
            raise DataError(
                f"probe has {self.probe.shape[1]} columns; the model takes {model.input_dim}"
            )
        rec = self.record
        rec.update(layout(model))
        # a resumed run recomputes the epochs after its checkpoint: forget what they recorded
        done = trainer.epoch
        rec["checks"] = [c for c in rec.get("checks", []) if (c.get("epoch") or 0) <= done]
        rec["activations"] = [
            a for a in rec.get("activations", []) if (a.get("epoch") or 0) <= done
        ]
        rec["weights"] = [w for w in rec.get("weights", []) if (w.get("epoch") or 0) <= done]
        rec["stop_reason"] = None
        if self.every_option == "auto":
            epochs = max(1, trainer.config.epochs)
            steps_per_epoch = max(1, trainer.total_steps // epochs)
            self.every = max(1, steps_per_epoch // CHECKS_PER_EPOCH)
        rec["every"] = self.every
        rec["probe_size"] = None if self.probe is None else len(self.probe)
        if self.labels is not None:
            rec["chance_loss"] = constant_loss(model, self.labels)
        if self.probe is not None and not any(
            a["epoch"] == trainer.epoch for a in rec["activations"]
        ):
            self._probe(trainer)

    def on_batch_end(self, trainer, batch_loss: float) -> None:
        self._finish_update(trainer)
        if trainer.step % self.every:
            return
        model = trainer.model
        check = gradient_check(model, step=trainer.step, epoch=trainer.epoch + 1, loss=batch_loss)
        self.record["checks"].append(check)
        self._pending = (check, [la.params["weight"].copy() for _, la in model.dense_layers()])

    def on_epoch_end(self, trainer) -> None:
        self._finish_update(trainer)
        self.record["weights"].append(
            {"epoch": trainer.epoch, "finite": _weights_finite(trainer.model)}
        )
        if self.probe is not None:
            self._probe(trainer)

    def on_train_end(self, trainer) -> None:
        if trainer.stop_reason == "divergence":
            self._pending = None  # the weights were restored: no step to measure
        else:
            self._finish_update(trainer)
        self.record["stop_reason"] = trainer.stop_reason

    # ---------------------------------------------------------------------------- helpers
    def _finish_update(self, trainer) -> None:
        """Fill the update-to-weight ratios of the last check, now that the step is done."""
        if self._pending is None:
            return
        check, before = self._pending
        self._pending = None
        ratios = []
        for w0, n0, (_, layer) in zip(
            before, check["weight_norm"], trainer.model.dense_layers(), strict=True
        ):
            np.subtract(layer.params["weight"], w0, out=w0)  # w0 := ΔW (the copy is ours)
            ratios.append(_norm(w0) / n0 if n0 > 0 else None)
        check["update_ratio"] = ratios

    def _probe(self, trainer) -> None:
        stats = activation_stats(trainer.model, self.probe, bins=self.bins)
        self.record["activations"].append({"epoch": trainer.epoch, "blocks": stats})


# ========================================================================================= doctor
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


def _good_records(history) -> list[dict]:
    return [
        r
        for r in history
        if not r.get("diverged")
        and r.get("train_loss") is not None
        and math.isfinite(r["train_loss"])
    ]


def _check_overfitting(history) -> Finding | None:
    recs = [r for r in _good_records(history) if r.get("val_loss") is not None]
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


def _check_flat(record, history, checks, others) -> Finding | None:
    recs = _good_records(history)
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


class Doctor(DiagnosticsRecorder):
    """A recorder that diagnoses the run after every epoch and at its end.

    Parameters
    ----------
    probe, labels, every, bins, record
        As :class:`DiagnosticsRecorder`.
    on_finding : callable, optional
        ``on_finding(finding)`` for each finding that appears (or becomes more severe) —
        between epochs, from ``on_epoch_end``, and once more from ``on_train_end``.
    path : str or os.PathLike, optional
        Where to write :meth:`report` (``diagnostics.json``), atomically, after every epoch and
        at the end, so an interrupted run keeps its diagnostics.

    Attributes
    ----------
    findings : list of Finding
        The current diagnosis (recomputed from the whole record each time).
    """

    def __init__(
        self,
        probe=None,
        *,
        labels=None,
        on_finding=None,
        every="auto",
        bins: int = HIST_BINS,
        record=None,
        path=None,
    ):
        super().__init__(probe, labels=labels, every=every, bins=bins, record=record)
        if on_finding is not None and not callable(on_finding):
            raise ConfigError("on_finding must be callable")
        self.on_finding = on_finding
        self.path = path
        self.findings: list[Finding] = []
        self._shown: dict[str, str] = {}

    def on_epoch_end(self, trainer) -> None:
        super().on_epoch_end(trainer)
        self._update(trainer)

    def on_train_end(self, trainer) -> None:
        super().on_train_end(trainer)
        self._update(trainer)

    def _update(self, trainer) -> None:
        self.findings = diagnose(
            self.record, trainer.history.records, stop_reason=trainer.stop_reason
        )
        for f in self.findings:
            before = self._shown.get(f.id)
            if before is None or SEVERITIES.index(f.severity) > SEVERITIES.index(before):
                self._shown[f.id] = f.severity
                if self.on_finding is not None:
                    self.on_finding(f)
        if self.path is not None:
            from mlplab.io import atomic_write_json

            atomic_write_json(self.path, self.report())

    def report(self) -> dict:
        """What ``diagnostics.json`` holds: the record plus ``findings``."""
        return diagnostics_report(self.record, self.findings)


def diagnostics_report(record: dict, findings) -> dict:
    """The JSON-serialisable content of ``diagnostics.json``: record fields + ``findings``.

    Non-finite numbers become ``null`` (JSON has no NaN); a check's ``finite`` flag keeps the
    fact.
    """
    out = json_safe(dict(record))
    out["findings"] = [f.to_dict() for f in findings]
    return out


def probe_record(model: Network, X, y=None, *, bins: int = HIST_BINS, epoch=None) -> dict:
    """A record of one model at rest, for a run without ``diagnostics.json``.

    Activation statistics of the probe rows ``X``; with labels ``y`` also one gradient check
    (an eval-mode forward and backward on the probe batch, parameter gradients restored).
    """
    X = model._as_input(X)
    rec = {"format": FORMAT, **layout(model), "every": None, "probe_size": len(X)}
    if y is not None:
        rec["chance_loss"] = constant_loss(model, y)
    rec["activations"] = [{"epoch": epoch, "blocks": activation_stats(model, X, bins=bins)}]
    rec["weights"] = [{"epoch": epoch, "finite": _weights_finite(model)}]
    rec["checks"] = []
    if y is not None:
        saved = {k: g.copy() for k, g in model.named_gradients().items()}
        model.zero_grad()
        model.forward(X)
        loss = model.backward(y)
        rec["checks"].append(gradient_check(model, step=-1, epoch=epoch or 0, loss=loss))
        for k, g in model.named_gradients().items():
            g[...] = saved[k]
    return rec


def json_safe(obj):
    """Replace non-finite floats by None, tuples by lists, NumPy scalars by Python ones."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ==================================================================================== run folders
#: File name of the diagnostics in a run folder.
DIAGNOSTICS_JSON = "diagnostics.json"


def read_diagnostics(path) -> dict:
    """The record stored in a ``diagnostics.json`` (its ``findings`` dropped)."""
    import json

    from mlplab.io import read_bytes

    try:
        data = json.loads(read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{path} is not an mlplab diagnostics file ({FORMAT})")
    data.pop("findings", None)
    return data


def diagnose_run(path, *, probe_size: int = PROBE_SIZE) -> dict:
    """Diagnose a finished or interrupted run folder (``mlplab doctor``).

    Reads ``diagnostics.json`` when the run was trained with the doctor, the history
    (``history.json``, else the checkpoint's) and the saved weights (``model.npz``, else the
    checkpoint), rebuilds the run's data set from ``spec.json`` and recomputes the activation
    statistics and dead units of those weights on the first ``probe_size`` training rows (the
    probe the live doctor uses).  Without ``diagnostics.json`` one gradient check is computed
    too (eval mode, on the probe batch), so vanishing and exploding gradients are still seen.

    Returns
    -------
    dict
        ``run``, ``weights`` (where they came from), ``epoch``, ``live_diagnostics`` (bool),
        ``record`` and ``findings`` (list of :class:`Finding`).
    """
    import json

    from mlplab import runs
    from mlplab.io import read_bytes

    check_range("probe_size", probe_size, 1, None, integer=True)
    run_dir = runs.RunDir.open(path)
    spec = run_dir.read_spec()
    cfg = runs.RunConfig.from_dict(spec["config"])
    model, source = run_dir.load_model()
    history, stop_reason, epoch = [], None, None
    if run_dir.checkpoint_path.is_file():
        state = run_dir.load_checkpoint()["trainer"]
        history = list(state["history"]["records"])
        stop_reason, epoch = state.get("stop_reason"), int(state["epoch"])
    hist_path = run_dir.file(runs.RunDir.HISTORY_JSON)
    if hist_path.is_file():
        try:
            history = list(json.loads(read_bytes(hist_path).decode("utf-8"))["records"])
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{hist_path} is not a valid history ({exc})") from None
    if epoch is None:
        epoch = len(_good_records(history))
    ds = runs.load_data(cfg.resolved())
    X, y = ds.X_train[:probe_size], ds.y_train[:probe_size]
    final = probe_record(model, X, y, epoch=epoch)
    diag_path = run_dir.file(DIAGNOSTICS_JSON)
    live = diag_path.is_file()
    if live:
        record = read_diagnostics(diag_path)
        stop_reason = stop_reason or record.get("stop_reason")
        acts = [a for a in record.get("activations", []) if a.get("epoch") != epoch]
        record["activations"] = sorted(
            [*acts, *final["activations"]], key=lambda a: a.get("epoch") or 0
        )
    else:
        record = final
    record["chance_loss"] = constant_loss(model, ds.y_train)
    return {
        "run": str(run_dir.path),
        "weights": source,
        "epoch": epoch,
        "live_diagnostics": live,
        "record": record,
        "findings": diagnose(record, history, stop_reason=stop_reason),
    }
