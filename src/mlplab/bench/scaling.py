"""How the engine's cost grows with width and batch size: epoch time, achieved GFLOP/s and
peak memory (``tracemalloc``: model, optimizer state and buffers; the data excluded)."""

from __future__ import annotations

import statistics
import tracemalloc

from mlplab.bench.common import CLOCKS, EPOCH, Settings, train_flops
from mlplab.bench.epochs import epoch_runner


def peak_memory(sizes, batch: int, X, y) -> int:
    """Peak bytes allocated (tracemalloc) while building a model and training 3 steps."""
    from mlplab.core.network import Network
    from mlplab.core.train import TrainConfig, Trainer

    n = min(len(X), 3 * batch)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model = Network.from_sizes(sizes, "relu", rng=0)
        Trainer(
            model, {"name": "sgd", "lr": 0.01}, config=TrainConfig(epochs=1, batch_size=batch)
        ).fit(X[:n], y[:n])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return int(peak)


def _scaling_point(sizes, batch, X, y, settings: Settings) -> dict:
    flops_per_sample = train_flops(sizes)
    n = min(len(X), max(2 * batch, int(settings.scaling_flops / flops_per_sample)))
    run = epoch_runner("mlplab", sizes, batch, clock=CLOCKS[settings.clock])
    run(X[: min(n, 2 * batch)], y[: min(n, 2 * batch)])  # warm-up
    times = [run(X[:n], y[:n]) for _ in range(settings.scaling_repeats)]
    t = statistics.median(times)
    return {
        "sizes": list(sizes),
        "batch": batch,
        "samples": n,
        "seconds_per_epoch": t * EPOCH / n,
        "gflops": flops_per_sample * n / t / 1e9,
        "peak_memory_mib": peak_memory(sizes, batch, X, y) / 2**20,
    }


def measure_scaling(settings: Settings, data, *, progress=None) -> dict:
    """Engine epoch time, GFLOP/s and peak memory against width and against batch size."""
    X, y = data[0], data[1]
    by_width, by_batch = [], []
    for w in settings.scaling_widths:
        if progress is not None:
            progress(f"scaling: width {w}")
        sizes = [X.shape[1], w, w, 10]
        point = _scaling_point(sizes, settings.scaling_width_batch, X, y, settings)
        by_width.append({"width": w, **point})
    for b in settings.scaling_batches:
        if progress is not None:
            progress(f"scaling: batch {b}")
        sizes = [X.shape[1], *settings.scaling_batch_hidden, 10]
        by_batch.append({**_scaling_point(sizes, b, X, y, settings)})
    return {
        "width": by_width,
        "batch": by_batch,
        "width_batch": settings.scaling_width_batch,
        "batch_hidden": list(settings.scaling_batch_hidden),
        "note": "seconds per epoch extrapolated from a timed pass over `samples` images",
    }


# ---------------------------------------------------------------------------------------------
# the whole run
# ---------------------------------------------------------------------------------------------

#: The issue's targets: (name, what, goal); see :func:`check_targets`.
