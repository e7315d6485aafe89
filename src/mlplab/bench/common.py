"""What every ``mlplab bench`` measurement shares: the settings and presets, the systems and
clocks, flop counts, the alternating timer and its summary, BLAS thread control, the machine
description and the MNIST arrays."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mlplab.errors import ConfigError, check_choice, check_range

FORMAT = "mlplab.bench/1"
SECTIONS = ("epoch", "peak", "tta", "scaling")

#: Systems of the epoch comparison, with the label the tables show.
SYSTEMS = {
    "mlplab": "mlplab engine (fused SGD step)",
    "mlplab_exact": "mlplab engine (fast path, bit for bit)",
    "mlplab_ref": "mlplab engine (reference path)",
    "torch": "PyTorch eager fp32",
    "torch_bf16": "PyTorch eager, bf16 autocast",
    "sklearn": "scikit-learn MLPClassifier",
}
#: Systems of the time-to-accuracy comparison.
TTA_SYSTEMS = {
    "mlplab": "mlplab, fast recipe",
    "torch": "PyTorch eager fp32, Adam 1e-3, batch 128, 784-256-256-10",
    "sklearn": "scikit-learn MLPClassifier defaults, hidden (256, 256)",
}
EPOCH = 60000  # images in an MNIST training epoch: per-epoch times are scaled to this
#: ``wall``: elapsed time (what a user waits); ``cpu``: this process's CPU time, all threads
#: together — with one thread a measure of work that other jobs on the machine barely disturb.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Settings:
    """What one ``mlplab bench`` run measures (see :data:`PRESETS`)."""

    preset: str = "full"
    sections: tuple[str, ...] = SECTIONS
    threads: int | None = None  # None: the CPUs this process may run on
    clock: str = "wall"  # "cpu": process CPU time (one thread on a busy machine)
    # epoch comparison
    hidden: tuple[tuple[int, ...], ...] = ((256, 256), (1024, 1024))
    batches: tuple[int, ...] = (128, 256)
    systems: tuple[str, ...] = (
        "mlplab",
        "mlplab_exact",
        "torch",
        "torch_bf16",
        "sklearn",
        "mlplab_ref",
    )
    repeats: int = 5
    epoch_samples: int = EPOCH  # images per timed pass; times are scaled to a 60000 epoch
    lr: float = 0.01
    # matmul peak
    peak_sizes: tuple[int, ...] = (1024, 2048, 3072, 4096)
    peak_repeats: int = 5
    # time to accuracy
    tta_systems: tuple[str, ...] = ("mlplab", "torch", "sklearn")
    tta_targets: tuple[float, ...] = (0.98, 0.985)
    tta_max_epochs: int = 30
    tta_max_seconds: float = 120.0
    tta_evals_per_epoch: int = 4
    tta_train_samples: int | None = None  # None: all 60000
    tta_test_samples: int | None = None  # None: all 10000
    tta_recipe_epochs: int | None = None  # None: the recipe's own
    tta_repeats: int = 5  # runs of the fast recipe (the median is reported; others run once)
    # scaling
    scaling_widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    scaling_batches: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    scaling_width_batch: int = 128
    scaling_batch_hidden: tuple[int, ...] = (256, 256)
    scaling_flops: float = 4e10  # matmul flops per timed point (sets its number of images)
    scaling_repeats: int = 3
    seed: int = 0

    def validated(self) -> Settings:
        for s in self.sections:
            check_choice("sections", s, list(SECTIONS))
        check_choice("clock", self.clock, list(CLOCKS))
        for s in self.systems:
            check_choice("systems", s, list(SYSTEMS))
        for s in self.tta_systems:
            check_choice("tta_systems", s, list(TTA_SYSTEMS))
        if self.threads is not None:
            check_range("threads", self.threads, 1, None, integer=True)
        check_range("repeats", self.repeats, 1, None, integer=True)
        check_range("tta_repeats", self.tta_repeats, 1, None, integer=True)
        check_range("epoch_samples", self.epoch_samples, 1, EPOCH, integer=True)
        for b in (*self.batches, *self.scaling_batches, self.scaling_width_batch):
            check_range("batch size", b, 1, None, integer=True)
        for h in self.hidden:
            for w in h:
                check_range("hidden width", w, 1, None, integer=True)
        for t in self.tta_targets:
            check_range("tta target", t, 0.0, 1.0, lo_open=True)
        return self


PRESETS: dict[str, Settings] = {
    "full": Settings(),
    "quick": Settings(
        preset="quick",
        batches=(128,),
        systems=("mlplab", "mlplab_exact", "torch", "sklearn"),
        epoch_samples=15000,
        peak_sizes=(2048, 3072),
        peak_repeats=3,
        tta_systems=("mlplab", "torch"),
        tta_max_epochs=12,
        tta_max_seconds=30.0,
        tta_evals_per_epoch=2,
        tta_repeats=3,
        scaling_widths=(64, 256, 1024, 2048),
        scaling_batches=(16, 64, 256, 1024),
        scaling_flops=1e10,
        scaling_repeats=2,
    ),
    # a few seconds: for tests and a first look that everything runs
    "smoke": Settings(
        preset="smoke",
        hidden=((32, 32),),
        batches=(64,),
        systems=("mlplab", "mlplab_exact", "torch", "sklearn", "mlplab_ref"),
        repeats=2,
        epoch_samples=1024,
        peak_sizes=(128, 256),
        peak_repeats=2,
        tta_systems=("mlplab", "torch", "sklearn"),
        tta_max_epochs=1,
        tta_max_seconds=10.0,
        tta_evals_per_epoch=2,
        tta_train_samples=1000,
        tta_test_samples=300,
        tta_recipe_epochs=1,
        tta_repeats=2,
        scaling_widths=(16, 32),
        scaling_batches=(16, 32),
        scaling_flops=2e7,
        scaling_repeats=1,
    ),
}


def settings_for(preset: str = "full", **overrides) -> Settings:
    """The settings of ``preset`` (``full``, ``quick`` or ``smoke``) with ``overrides``."""
    check_choice("preset", preset, list(PRESETS))
    kept = {k: v for k, v in overrides.items() if v is not None}
    try:
        return replace(PRESETS[preset], **kept).validated()
    except TypeError as exc:
        raise ConfigError(f"bench settings: {exc}") from None


# ---------------------------------------------------------------------------------------------
# small pieces
# ---------------------------------------------------------------------------------------------


def train_flops(sizes, n: int = 1) -> int:
    r"""Matrix-multiply flops of ``n`` training samples through an MLP with layer ``sizes``.

    Per sample and Dense layer ``d_in → d_out``: forward ``z = W h`` costs ``2 d_in d_out``,
    the weight gradient ``δᵀ h`` another ``2 d_in d_out``, and ``δ_prev = δ W`` another
    ``2 d_in d_out`` for every layer but the first (nobody needs ∂L/∂x)::

        flops = n · (4 Σ_l d_in,l d_out,l + 2 Σ_{l ≥ 2} d_in,l d_out,l)

    Element-wise work (bias, activations, softmax, the update) is O(Σ d) per sample and not
    counted: this is what a matrix-multiply peak can be compared with.
    """
    sizes = [int(s) for s in sizes]
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return int(n) * (4 * sum(macs) + 2 * sum(macs[1:]))


def summarize(times) -> dict:
    """``{"median", "min", "max", "runs"}`` of a list of seconds."""
    times = [float(t) for t in times]
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "runs": times,
    }


def alternate(cases: dict[str, Callable[[], float]], repeats: int, *, on_run=None) -> dict:
    """Call every case once per round, in the same order, for ``repeats`` rounds.

    Each case returns the seconds it measured.  Returns ``{name: [seconds per round]}``.
    ``on_run(name, round, seconds)`` is called after every run (progress display).
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, case in cases.items():
            t = float(case())
            times[name].append(t)
            if on_run is not None:
                on_run(name, r, t)
    return times


@contextlib.contextmanager
def blas_threads(n: int):
    """Limit BLAS and OpenMP pools (threadpoolctl) and PyTorch's intra-op threads to ``n``."""
    from threadpoolctl import threadpool_limits

    torch = load_torch()
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=int(n)):
        if torch is not None:
            torch.set_num_threads(int(n))
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def load_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def default_threads() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def environment(threads: int) -> dict:
    """Machine, libraries, BLAS kernels (threadpoolctl) and the environment variables that
    change them; the load average at the time of the call."""
    import sklearn
    from threadpoolctl import threadpool_info

    torch = load_torch()
    pools = [
        {
            k: p.get(k)
            for k in (
                "user_api",
                "internal_api",
                "prefix",
                "version",
                "architecture",
                "num_threads",
            )
        }
        for p in threadpool_info()
    ]
    env_keys = (
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "MKL_ENABLE_INSTRUCTIONS",
    )
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": default_threads(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "torch": None if torch is None else torch.__version__,
        "thread_pools": pools,
        "env": {k: os.environ.get(k) for k in env_keys},
        "loadavg": loadavg(),
    }


def mnist_arrays(n_train: int | None = None, n_test: int | None = None):
    """MNIST as float32 in [0, 1]: ``X_train (n, 784), y_train, X_test, y_test`` (int64)."""
    from mlplab.data import load_mnist

    d = load_mnist()
    n_train = len(d.train_images) if n_train is None else int(n_train)
    n_test = len(d.test_images) if n_test is None else int(n_test)
    scale = np.float32(1 / 255)

    def prep(images, n):
        X = images[:n].reshape(n, -1).astype(np.float32)
        X *= scale
        return X

    return (
        prep(d.train_images, n_train),
        d.train_labels[:n_train].astype(np.int64),
        prep(d.test_images, n_test),
        d.test_labels[:n_test].astype(np.int64),
    )


# ---------------------------------------------------------------------------------------------
# one epoch of each system
# ---------------------------------------------------------------------------------------------
