"""Callbacks the playground hangs on the engine's trainer, and bounded record lists.

The page trains one epoch per :meth:`~mlplab.core.train.Trainer.fit` call: :class:`EpochMonitor`
stops each call after its epoch and keeps the per-layer gradient norms, and
:func:`make_doctor` adapts mlplab's doctor to that rhythm.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.train import Callback

__all__ = ["EpochMonitor", "make_doctor", "trim_records"]


class EpochMonitor(Callback):
    """Stops ``fit`` after each engine epoch and keeps the mean gradient norm ‖∂L/∂W_ℓ‖ per
    dense layer over the batches since :meth:`take` was last called (read in ``on_batch_end``,
    before the optimizer step).  The page's epoch may span several ``fit`` calls over pieces
    of the data (see :meth:`mlplab.web.sessions.Session.advance`): the norms cover all of it.
    """

    def __init__(self):
        self.sums: np.ndarray | None = None
        self.batches = 0

    def on_epoch_begin(self, trainer):
        """Start the sums unless a page epoch is under way."""
        if self.sums is None:
            self.sums = np.zeros(len(trainer.model.dense_layers()))
            self.batches = 0

    def on_batch_end(self, trainer, batch_loss):
        """Add this batch's weight-gradient norms."""
        for j, (_, layer) in enumerate(trainer.model.dense_layers()):
            g = layer.grads["weight"]
            self.sums[j] += math.sqrt(float(np.sum(g.astype(np.float64) ** 2)))
        self.batches += 1

    def on_epoch_end(self, trainer):
        """Stop ``fit`` (the session decides what comes next)."""
        trainer.stop = True

    def take(self) -> list[float]:
        """The mean norms of the page epoch just finished; the next batch starts new sums."""
        sums = self.sums if self.sums is not None else np.zeros(0)
        norms = (sums / max(self.batches, 1)).tolist()
        self.sums, self.batches = None, 0
        return norms

    def discard(self) -> None:
        """Forget the sums of an epoch that will not finish (divergence, rebuild)."""
        self.sums, self.batches = None, 0


def trim_records(records: list, head: int, tail: int) -> None:
    """Keep the first ``head`` and last ``tail`` items of a growing list, in place (a long
    run's memory stays bounded; the doctor looks at the start and the recent past)."""
    if len(records) > head + tail:
        del records[head : len(records) - tail]


def make_doctor(probe: np.ndarray, on_finding):
    """mlplab's doctor (:class:`mlplab.diagnostics.Doctor`) as a training callback.

    The page runs ``fit`` for one epoch at a time, so the doctor's end-of-epoch and
    end-of-training diagnoses would fall on the same moment: only the second one (which also
    sees a divergence) is kept.
    """
    from mlplab.diagnostics import DiagnosticsRecorder, Doctor

    class EpochDoctor(Doctor):
        """The doctor with its end-of-epoch diagnosis left out."""

        def on_epoch_end(self, trainer) -> None:
            """Record the epoch without diagnosing it."""
            DiagnosticsRecorder.on_epoch_end(self, trainer)

    return EpochDoctor(probe, on_finding=on_finding)
