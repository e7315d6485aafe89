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

# Every public name of the modules (their __all__, thresholds included).
from mlplab.diagnostics import doctor, measurements, rules
from mlplab.diagnostics.doctor import *  # noqa: F403
from mlplab.diagnostics.measurements import *  # noqa: F403
from mlplab.diagnostics.rules import *  # noqa: F403

__all__ = [*measurements.__all__, *rules.__all__, *doctor.__all__]
