"""Measurements behind ``mlplab bench``: epoch time against PyTorch and scikit-learn, the
matrix-multiply peak, time to a test accuracy on MNIST, and how cost grows with width and batch.

Every comparison runs in **one process**, and systems are **alternated** — A B C, A B C, … —
``repeats`` times, so that slow drift of the machine (another job starting, the clock
throttling) lands on every system alike.  Each system gets one untimed warm-up first (thread
pools, first-call set-up).  A result is the median with its min–max.

What is timed:

* **epoch**: one pass over the training images (a fresh model each repeat, not timed), plain SGD
  (lr 0.01, no momentum), float32, ReLU, softmax + cross-entropy, shuffled mini-batches:
  mlplab's :class:`~mlplab.core.train.Trainer` (the fused SGD step, equal to the reference
  within rounding; the fast step, bit for bit the reference; and the reference step), with the
  step's matrix products alone as one more alternated case (the floor), a PyTorch eager
  loop (``zero_grad``, forward, loss, ``backward``, ``step``) in fp32 and under bf16
  autocast, and scikit-learn's ``MLPClassifier.fit`` with ``max_iter=1`` and the same
  architecture, SGD, no momentum and no L2.
* **peak**: float32 square matrix products (the BLAS NumPy uses, and PyTorch's); the engine's
  achieved rate is its matmul flops per epoch (:func:`train_flops`) over its epoch time.
* **tta** (time to accuracy): training time until the MNIST test accuracy first reaches each
  target, checked ``evals_per_epoch`` times per epoch; evaluation time is measured apart and
  not counted.
* **scaling**: the engine's epoch time, achieved GFLOP/s and peak memory (``tracemalloc``:
  model, optimizer state and buffers, the data excluded) against width and batch size.

Nothing here prints; :mod:`mlplab.commands.bench` prints and writes the result.

The package keeps the measurements apart from the report: :mod:`~mlplab.bench.common`
(settings, timers, machine, data), :mod:`~mlplab.bench.epochs` (epoch comparison, GEMM peak and
floor), :mod:`~mlplab.bench.tta` (time to accuracy), :mod:`~mlplab.bench.scaling` (width and
batch), :mod:`~mlplab.bench.run` (targets, :func:`run_bench`) and :mod:`~mlplab.bench.report`
(Markdown and figure).  The names below are importable from ``mlplab.bench`` as before.
"""

from __future__ import annotations

from mlplab.bench.common import (
    CLOCKS,
    EPOCH,
    FORMAT,
    PRESETS,
    SECTIONS,
    SYSTEMS,
    TTA_SYSTEMS,
    Settings,
    alternate,
    blas_threads,
    default_threads,
    environment,
    loadavg,
    mnist_arrays,
    settings_for,
    summarize,
    train_flops,
)
from mlplab.bench.epochs import epoch_runner, gemm_ceiling, matmul_peak, measure_epochs
from mlplab.bench.report import plot_scaling, render_markdown
from mlplab.bench.run import TARGETS, check_targets, run_bench
from mlplab.bench.scaling import measure_scaling, peak_memory
from mlplab.bench.tta import TrainClock, TTARecorder, eval_checkpoints, time_to_accuracy

__all__ = [
    "Settings",
    "PRESETS",
    "SECTIONS",
    "SYSTEMS",
    "TTA_SYSTEMS",
    "FORMAT",
    "EPOCH",
    "CLOCKS",
    "settings_for",
    "train_flops",
    "summarize",
    "alternate",
    "blas_threads",
    "default_threads",
    "environment",
    "loadavg",
    "mnist_arrays",
    "epoch_runner",
    "measure_epochs",
    "matmul_peak",
    "gemm_ceiling",
    "TrainClock",
    "TTARecorder",
    "eval_checkpoints",
    "time_to_accuracy",
    "measure_scaling",
    "peak_memory",
    "TARGETS",
    "check_targets",
    "run_bench",
    "render_markdown",
    "plot_scaling",
]
