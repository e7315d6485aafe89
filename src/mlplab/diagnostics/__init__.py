"""Diagnostics while a model trains, and a doctor that names the failure mode.

The package has three modules — :mod:`~mlplab.diagnostics.measurements` (what is measured, the
recorder callback), :mod:`~mlplab.diagnostics.rules` (findings, each rule with its thresholds
beside it), :mod:`~mlplab.diagnostics.doctor` (the doctor and its files) — plus
:mod:`~mlplab.diagnostics.figures` (the doctor's and explain's figures).  Two training callbacks
and a pure function:

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
The thresholds are named constants in :mod:`~mlplab.diagnostics.rules`; each comment gives the
reasoning.
"""

from __future__ import annotations

from mlplab.diagnostics.doctor import (
    DIAGNOSTICS_JSON,
    Doctor,
    diagnose_run,
    diagnostics_report,
    read_diagnostics,
)
from mlplab.diagnostics.measurements import (
    CHECKS_PER_EPOCH,
    FORMAT,
    HIST_BINS,
    PROBE_SIZE,
    SATURATION_DERIVATIVE,
    DiagnosticsRecorder,
    activation_stats,
    constant_loss,
    gradient_norms,
    json_safe,
    max_derivative,
    probe_record,
)
from mlplab.diagnostics.rules import (
    DEAD_ERROR_FRACTION,
    DEAD_FRACTION,
    DEAD_PROBES,
    EXPLODING_ACTIVATION_GROWTH,
    EXPLODING_CHECKS,
    EXPLODING_GAIN,
    EXPLODING_GROWTH,
    FINDING_IDS,
    FLAT_DECREASE,
    FLAT_MIN_EPOCHS,
    OVERFIT_PATIENCE,
    OVERFIT_RISE,
    SATURATION_ERROR_FRACTION,
    SATURATION_FRACTION,
    SATURATION_PROBES,
    SECTIONS,
    SEVERITIES,
    UPDATE_RATIO_HIGH,
    UPDATE_RATIO_LOW,
    VANISHING_CHECKS,
    VANISHING_GAIN,
    Finding,
    diagnose,
)

__all__ = [
    "FORMAT",
    "SECTIONS",
    "FINDING_IDS",
    "SEVERITIES",
    "Finding",
    "DiagnosticsRecorder",
    "Doctor",
    "diagnose",
    "gradient_norms",
    "activation_stats",
    "max_derivative",
    "probe_record",
    "constant_loss",
    "diagnostics_report",
    "read_diagnostics",
    "diagnose_run",
    "DIAGNOSTICS_JSON",
    "json_safe",
    "CHECKS_PER_EPOCH",
    "PROBE_SIZE",
    "HIST_BINS",
    "SATURATION_DERIVATIVE",
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
