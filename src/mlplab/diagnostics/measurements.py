"""Measurements while a model trains: gradient norms, backward gain, update ratios, activation
statistics and dead units, sampled by :class:`DiagnosticsRecorder` (a training callback).

What is measured and how is described in :mod:`mlplab.diagnostics`; the thresholds that turn
these numbers into findings live beside their rules in :mod:`mlplab.diagnostics.rules`.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.layers import ActivationLayer, Dense
from mlplab.core.network import Network
from mlplab.core.train import Callback
from mlplab.errors import DataError, check_range
from mlplab.io import json_safe

__all__ = [
    "FORMAT",
    "CHECKS_PER_EPOCH",
    "PROBE_SIZE",
    "HIST_BINS",
    "SATURATION_DERIVATIVE",
    "frobenius_norm",
    "hidden_layers",
    "max_derivative",
    "layout",
    "gradient_norms",
    "activation_stats",
    "constant_loss",
    "weights_finite",
    "DiagnosticsRecorder",
    "probe_record",
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
#: A (row, unit) pair of a saturating activation is saturated when φ′(z) < 1 % of φ′'s maximum:
#: the unit then passes less than 1/100 of the gradient it would pass at its steepest point.
SATURATION_DERIVATIVE = 0.01


def frobenius_norm(a: np.ndarray) -> float:
    """Frobenius norm accumulated in float64 (no float32 overflow for huge entries).

    ``einsum`` with a float64 accumulator: no copy, and no BLAS call (a threaded BLAS
    ``dot`` is slower than the whole sum on a busy machine).
    """
    a = np.asarray(a)
    return float(np.sqrt(np.einsum("i,i->", a.ravel(), a.ravel(), dtype=np.float64)))


def _rms(a) -> float | None:
    """Root mean square of ``a`` (None for an empty or missing array)."""
    if a is None or np.size(a) == 0:
        return None
    return frobenius_norm(a) / math.sqrt(np.size(a))


def hidden_layers(model: Network) -> list[tuple[int | None, int, ActivationLayer]]:
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
    for dense_i, act_i, layer in hidden_layers(model):
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


def gradient_norms(model: Network, *, step: int, epoch: int, loss: float) -> dict:
    """Statistics of the gradients now in ``model`` (after a backward, before a step).

    Returns a dict with ``grad_norm``/``grad_rms``/``weight_norm`` per Dense layer,
    ``delta_rms`` per block (hidden blocks, then the output block), the backward ``gain``
    ``rms δ⁽¹⁾ / rms δ_out`` (None without hidden blocks), ``total_grad_norm`` over all
    parameters and ``finite`` (every gradient finite).
    """
    grad_norm, grad_rms, weight_norm = [], [], []
    for _, layer in model.dense_layers():
        g, w = layer.grads["weight"], layer.params["weight"]
        n = frobenius_norm(g)
        grad_norm.append(n)
        grad_rms.append(n / math.sqrt(g.size))
        weight_norm.append(frobenius_norm(w))
    total = math.sqrt(
        sum(n * n for n in grad_norm)
        + sum(
            frobenius_norm(g) ** 2
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
    for _, _, layer in hidden_layers(model):
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


def weights_finite(model: Network) -> bool:
    """True when every parameter of ``model`` is finite."""
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
        ``checks`` (one dict per check, see :func:`gradient_norms`), ``activations`` (one
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
        """Record the layout, forget what a resumed run will recompute, probe the start."""
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
        """Finish the last check's update ratios; every ``every``-th step, measure the gradients."""
        self._finish_update(trainer)
        if trainer.step % self.every:
            return
        model = trainer.model
        check = gradient_norms(model, step=trainer.step, epoch=trainer.epoch + 1, loss=batch_loss)
        self.record["checks"].append(check)
        self._pending = (check, [la.params["weight"].copy() for _, la in model.dense_layers()])

    def on_epoch_end(self, trainer) -> None:
        """Record whether the weights are finite and probe the activations."""
        self._finish_update(trainer)
        self.record["weights"].append(
            {"epoch": trainer.epoch, "finite": weights_finite(trainer.model)}
        )
        if self.probe is not None:
            self._probe(trainer)

    def on_train_end(self, trainer) -> None:
        """Finish the last update ratio (none after a divergence) and record the stop reason."""
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
            ratios.append(frobenius_norm(w0) / n0 if n0 > 0 else None)
        check["update_ratio"] = ratios

    def _probe(self, trainer) -> None:
        stats = activation_stats(trainer.model, self.probe, bins=self.bins)
        self.record["activations"].append({"epoch": trainer.epoch, "blocks": stats})


def probe_record(model: Network, X, y=None, *, bins: int = HIST_BINS, epoch=None) -> dict:
    """A record of one model at rest, for a run without ``diagnostics.json``.

    Activation statistics of the probe rows ``X``; with labels ``y`` also one gradient check
    (an eval-mode forward and backward on the probe batch, parameter gradients restored).
    """
    X = model.as_input(X)
    rec = {"format": FORMAT, **layout(model), "every": None, "probe_size": len(X)}
    if y is not None:
        rec["chance_loss"] = constant_loss(model, y)
    rec["activations"] = [{"epoch": epoch, "blocks": activation_stats(model, X, bins=bins)}]
    rec["weights"] = [{"epoch": epoch, "finite": weights_finite(model)}]
    rec["checks"] = []
    if y is not None:
        saved = {k: g.copy() for k, g in model.named_gradients().items()}
        model.zero_grad()
        model.forward(X)
        loss = model.backward(y)
        rec["checks"].append(gradient_norms(model, step=-1, epoch=epoch or 0, loss=loss))
        for k, g in model.named_gradients().items():
            g[...] = saved[k]
    return rec
