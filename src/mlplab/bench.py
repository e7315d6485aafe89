"""Measurements behind ``mlplab bench``: epoch time against PyTorch and scikit-learn, the
matrix-multiply peak, time to a test accuracy on MNIST, and how cost grows with width and batch.

Every comparison runs in **one process**, and systems are **alternated** — A B C, A B C, … —
``repeats`` times, so that slow drift of the machine (another job starting, the clock
throttling) lands on every system alike.  Each system gets one untimed warm-up first (thread
pools, first-call set-up).  A result is the median with its min–max.

What is timed:

* **epoch**: one pass over the training images (a fresh model each repeat, not timed), plain SGD
  (lr 0.01, no momentum), float32, ReLU, softmax + cross-entropy, shuffled mini-batches:
  mlplab's :class:`~mlplab.core.train.Trainer` (fast path, and the reference path for
  comparison), a PyTorch eager loop (``zero_grad``, forward, loss, ``backward``, ``step``) in
  fp32 and under bf16 autocast, and scikit-learn's ``MLPClassifier.fit`` with ``max_iter=1``
  and the same architecture, SGD, no momentum and no L2.
* **peak**: float32 square matrix products (the BLAS NumPy uses, and PyTorch's); the engine's
  achieved rate is its matmul flops per epoch (:func:`train_flops`) over its epoch time.
* **tta** (time to accuracy): training time until the MNIST test accuracy first reaches each
  target, checked ``evals_per_epoch`` times per epoch; evaluation time is measured apart and
  not counted.
* **scaling**: the engine's epoch time, achieved GFLOP/s and peak memory (``tracemalloc``:
  model, optimizer state and buffers, the data excluded) against width and batch size.

Nothing here prints; :mod:`mlplab.commands.bench` renders the result.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from mlplab.errors import ConfigError, check_choice, check_range

__all__ = [
    "Settings",
    "PRESETS",
    "SECTIONS",
    "SYSTEMS",
    "settings_for",
    "train_flops",
    "summarize",
    "alternate",
    "blas_threads",
    "environment",
    "mnist_arrays",
    "epoch_runner",
    "measure_epochs",
    "matmul_peak",
    "gemm_ceiling",
    "TrainClock",
    "time_to_accuracy",
    "measure_scaling",
    "check_targets",
    "run_bench",
    "render_markdown",
    "plot_scaling",
]

FORMAT = "mlplab.bench/1"
SECTIONS = ("epoch", "peak", "tta", "scaling")

#: Systems of the epoch comparison, with the label the tables show.
SYSTEMS = {
    "mlplab": "mlplab engine (fast path)",
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
    systems: tuple[str, ...] = ("mlplab", "torch", "torch_bf16", "sklearn", "mlplab_ref")
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
        systems=("mlplab", "torch", "sklearn"),
        epoch_samples=15000,
        peak_sizes=(2048, 3072),
        peak_repeats=3,
        tta_systems=("mlplab", "torch"),
        tta_max_epochs=12,
        tta_max_seconds=30.0,
        tta_evals_per_epoch=2,
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
        systems=("mlplab", "torch", "sklearn", "mlplab_ref"),
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

    torch = _torch()
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=int(n)):
        if torch is not None:
            torch.set_num_threads(int(n))
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def _torch():
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


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def environment(threads: int) -> dict:
    """Machine, libraries, BLAS kernels (threadpoolctl) and the environment variables that
    change them; the load average at the time of the call."""
    import sklearn
    from threadpoolctl import threadpool_info

    torch = _torch()
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
        "loadavg": _loadavg(),
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


def _engine_epoch(X, y, sizes, batch, lr, seed, fast, clock) -> float:
    from mlplab.core.network import Network
    from mlplab.core.train import TrainConfig, Trainer

    model = Network.from_sizes(sizes, "relu", rng=seed)
    trainer = Trainer(
        model,
        {"name": "sgd", "lr": lr},
        config=TrainConfig(epochs=1, batch_size=batch),
        rng=seed,
        fast=fast,
    )
    t0 = clock()
    trainer.fit(X, y)
    return clock() - t0


def _torch_mlp(torch, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _torch_epoch(X, y, sizes, batch, lr, seed, bf16, clock) -> float:
    torch = _torch()
    with torch.random.fork_rng(devices=[]):  # seeded init without touching torch's global RNG
        torch.manual_seed(seed)
        model = _torch_mlp(torch, sizes)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    t0 = clock()
    order = torch.randperm(n, generator=gen)
    for start in range(0, n, batch):
        idx = order[start : start + batch]
        xb, yb = Xt[idx], yt[idx]
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(xb)
            loss = loss_fn(out.float(), yb)
        else:
            loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return clock() - t0


def _sklearn_epoch(X, y, sizes, batch, lr, seed, clock) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="relu",
        solver="sgd",
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=batch,
        max_iter=1,
        shuffle=True,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = clock()
        clf.fit(X, y)
        return clock() - t0


def epoch_runner(
    system: str, sizes, batch: int, *, lr: float = 0.01, seed: int = 0, clock=time.perf_counter
):
    """A function ``(X, y) -> seconds`` training one epoch of ``system`` (see :data:`SYSTEMS`)
    on a freshly built ``sizes`` MLP; building is not timed."""
    check_choice("system", system, list(SYSTEMS))
    sizes = [int(s) for s in sizes]
    if system in ("mlplab", "mlplab_ref"):
        fast = system == "mlplab"
        return lambda X, y: _engine_epoch(X, y, sizes, batch, lr, seed, fast, clock)
    if system in ("torch", "torch_bf16"):
        bf16 = system == "torch_bf16"
        return lambda X, y: _torch_epoch(X, y, sizes, batch, lr, seed, bf16, clock)
    return lambda X, y: _sklearn_epoch(X, y, sizes, batch, lr, seed, clock)


def measure_epochs(settings: Settings, data, *, progress=None) -> dict:
    """The epoch comparison: every (architecture, batch) with the systems alternated."""
    X, y = data[0][: settings.epoch_samples], data[1][: settings.epoch_samples]
    systems = [s for s in settings.systems if _available(s)]
    missing = [s for s in settings.systems if s not in systems]
    scale = EPOCH / len(X)
    rows = []
    for hidden in settings.hidden:
        sizes = [X.shape[1], *hidden, 10]
        for batch in settings.batches:
            runners = {
                s: epoch_runner(s, sizes, batch, lr=settings.lr, clock=CLOCKS[settings.clock])
                for s in systems
            }
            warm = min(len(X), 4 * batch)
            for run in runners.values():  # untimed warm-up: thread pools, first calls
                run(X[:warm], y[:warm])
            cases = {s: (lambda run=run: run(X, y) * scale) for s, run in runners.items()}
            on_run = None
            if progress is not None:
                tag = f"epoch {'-'.join(map(str, sizes))} batch {batch}"
                on_run = lambda name, r, t, tag=tag: progress(f"{tag}: {name} {t:.3f} s")
            times = alternate(cases, settings.repeats, on_run=on_run)
            results = {s: {"label": SYSTEMS[s], **summarize(t)} for s, t in times.items()}
            base = results.get("mlplab", {}).get("median")
            fastest = results.get("mlplab", {}).get("min")
            for r in results.values():
                r["ratio_to_mlplab"] = r["median"] / base if base else None
                # the fastest runs are the least disturbed by other jobs on a shared machine
                r["min_ratio_to_mlplab"] = r["min"] / fastest if fastest else None
            flops = train_flops(sizes, EPOCH)
            row = {
                "sizes": sizes,
                "batch": batch,
                "samples": len(X),
                "flops_per_epoch": flops,
                "systems": results,
            }
            if base:
                row["mlplab_gflops"] = flops / base / 1e9
            # the matrix products alone, on the same BLAS: no float32 engine's epoch (nor
            # scikit-learn's, which runs the same products) can be shorter than this
            floor = gemm_ceiling(
                sizes, batch, max(5, settings.repeats), clock=CLOCKS[settings.clock]
            )
            row["gemm_floor_seconds"] = floor["seconds_per_epoch"]
            for r in results.values():
                r["most_ratio_possible"] = r["median"] / floor["seconds_per_epoch"]
            rows.append(row)
    return {
        "order": "alternating: every system once per round, same order, repeated",
        "repeats": settings.repeats,
        "samples": len(X),
        "scaled_to": EPOCH,
        "lr": settings.lr,
        "unavailable": missing,
        "rows": rows,
    }


def _available(system: str) -> bool:
    return not system.startswith("torch") or _torch() is not None


# ---------------------------------------------------------------------------------------------
# matrix-multiply peak
# ---------------------------------------------------------------------------------------------


def _best_rate(fn, flops: float, repeats: int, clock=time.perf_counter) -> float:
    fn()  # warm-up
    best = math.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return flops / best / 1e9


def matmul_peak(
    sizes=(2048, 4096), repeats: int = 5, *, seed: int = 0, clock=time.perf_counter
) -> dict:
    """Best float32 GFLOP/s of square products ``C = A B`` (2n³ flops) per size, for NumPy's
    BLAS (what the engine uses) and PyTorch's; ``peak`` is the best over sizes."""
    rng = np.random.default_rng(seed)
    out: dict = {"sizes": list(sizes), "numpy": {}, "torch": {}}
    torch = _torch()
    for n in sizes:
        A = rng.standard_normal((n, n), dtype=np.float32)
        B = rng.standard_normal((n, n), dtype=np.float32)
        C = np.empty((n, n), np.float32)
        flops = 2.0 * n**3
        run = lambda A=A, B=B, C=C: np.matmul(A, B, out=C)
        out["numpy"][str(n)] = _best_rate(run, flops, repeats, clock)
        if torch is not None:
            tA, tB, tC = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
            run = lambda A=tA, B=tB, C=tC: torch.mm(A, B, out=C)
            out["torch"][str(n)] = _best_rate(run, flops, repeats, clock)
    out["peak"] = max(out["numpy"].values())
    out["torch_peak"] = max(out["torch"].values()) if out["torch"] else None
    return out


def gemm_ceiling(
    sizes, batch: int, repeats: int = 5, *, seed: int = 0, clock=time.perf_counter
) -> dict:
    """Time of only the matrix products of one training step (the shapes the engine runs:
    ``H Wᵀ``, ``δᵀ H``, ``δ W``), best of ``repeats``: the step time a perfect engine around
    this BLAS would reach, as GFLOP/s and as seconds per 60000-image epoch."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in sizes]
    ops = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        H = rng.random((batch, a), dtype=np.float32)
        W = rng.random((b, a), dtype=np.float32)
        D = rng.random((batch, b), dtype=np.float32)
        Z, G, P = np.empty((batch, b), np.float32), np.empty_like(W), np.empty_like(H)
        ops.append(lambda H=H, W=W, Z=Z: np.matmul(H, W.T, out=Z))
        ops.append(lambda D=D, H=H, G=G: np.matmul(D.T, H, out=G))
        if i > 0:
            ops.append(lambda D=D, W=W, P=P: np.matmul(D, W, out=P))

    flops = train_flops(sizes, batch)
    inner = max(1, math.ceil(2e9 / flops))  # steps per timing: about 2 GFLOP, not one short step

    def step():
        for _ in range(inner):
            for op in ops:
                op()

    rate = _best_rate(step, flops * inner, repeats, clock)
    return {
        "sizes": sizes,
        "batch": batch,
        "gflops": rate,
        "seconds_per_epoch": train_flops(sizes, EPOCH) / rate / 1e9,
    }


# ---------------------------------------------------------------------------------------------
# time to accuracy
# ---------------------------------------------------------------------------------------------


class TrainClock:
    """Training time with evaluations cut out: ``evaluate(fn)`` runs ``fn`` off the clock.

    ``train_seconds`` is the time since :meth:`start` minus the time spent inside
    :meth:`evaluate`, which is reported apart as ``eval_seconds``.
    """

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.eval_seconds = 0.0
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = self.clock()
        self.eval_seconds = 0.0

    @property
    def train_seconds(self) -> float:
        return self.clock() - self._t0 - self.eval_seconds

    def evaluate(self, fn):
        t = self.clock()
        try:
            return fn()
        finally:
            self.eval_seconds += self.clock() - t


class _Recorder:
    """Checkpoints of one run: (train seconds, epochs, accuracy); first crossing per target."""

    def __init__(self, targets, clock: TrainClock):
        self.targets = sorted(float(t) for t in targets)
        self.clock = clock
        self.curve: list[dict] = []
        self.reached: dict[str, dict | None] = {_key(t): None for t in self.targets}

    def record(self, epochs: float, accuracy_fn) -> None:
        seconds = self.clock.train_seconds  # read before the evaluation starts
        acc = float(self.clock.evaluate(accuracy_fn))
        self.curve.append({"train_seconds": seconds, "epochs": epochs, "accuracy": acc})
        for t in self.targets:
            if self.reached[_key(t)] is None and acc >= t:
                self.reached[_key(t)] = {"train_seconds": seconds, "epochs": epochs}

    @property
    def done(self) -> bool:
        return all(v is not None for v in self.reached.values())

    def result(self, label: str, config: dict) -> dict:
        return {
            "label": label,
            "config": config,
            "reached": self.reached,
            "final_accuracy": self.curve[-1]["accuracy"] if self.curve else None,
            "best_accuracy": max((c["accuracy"] for c in self.curve), default=None),
            "train_seconds": self.curve[-1]["train_seconds"] if self.curve else 0.0,
            "eval_seconds": self.clock.eval_seconds,
            "curve": self.curve,
        }


def _key(target: float) -> str:
    return f"{target:.4g}"


def _checkpoints(steps_per_epoch: int, evals: int) -> set[int]:
    """Updates into an epoch after which to evaluate: ``evals`` even parts, less the epoch's
    end (checked separately); e.g. 469 steps, 4 parts → {117, 234, 352}."""
    return {round(steps_per_epoch * j / evals) for j in range(1, evals)} - {0, steps_per_epoch}


def _tta_mlplab(data, settings: Settings, evals: int) -> dict:
    from mlplab.core.train import Callback
    from mlplab.recipes import build_recipe, get_recipe

    Xtr, ytr, Xte, yte = data
    recipe = get_recipe("fast")
    epochs = settings.tta_recipe_epochs
    model, trainer = build_recipe("fast", Xtr.shape[1], 10, seed=settings.seed, epochs=epochs)
    clock = TrainClock(CLOCKS[settings.clock])
    rec = _Recorder(settings.tta_targets, clock)
    spe = math.ceil(len(Xtr) / trainer.config.batch_size)  # steps per epoch
    marks = _checkpoints(spe, evals)
    accuracy = lambda: np.mean(model.predict(Xte) == yte)

    class Checkpoints(Callback):
        def on_batch_end(self, tr, loss):  # called before the step: tr.step updates are done
            done = tr.step - tr.epoch * spe  # updates done in this epoch
            if done in marks:
                rec.record(tr.epoch + done / spe, accuracy)

        def on_epoch_end(self, tr):
            rec.record(float(tr.epoch), accuracy)
            if rec.done or clock.train_seconds > settings.tta_max_seconds:
                tr.stop = True

    trainer.callbacks.append(Checkpoints())
    clock.start()
    trainer.fit(Xtr, ytr)
    config = {"recipe": "fast", **recipe["settings"]}
    if epochs is not None:
        config["epochs"] = epochs
    return rec.result(TTA_SYSTEMS["mlplab"], config)


def _tta_torch(data, settings: Settings, evals: int) -> dict:
    torch = _torch()
    Xtr, ytr, Xte, yte = data
    batch, lr, sizes = 128, 1e-3, [Xtr.shape[1], 256, 256, 10]
    with torch.random.fork_rng(devices=[]):  # seeded init without touching torch's global RNG
        torch.manual_seed(settings.seed)
        model = _torch_mlp(torch, sizes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt, Xv = torch.from_numpy(Xtr), torch.from_numpy(ytr), torch.from_numpy(Xte)
    gen = torch.Generator().manual_seed(settings.seed)
    n = len(Xtr)
    spe = math.ceil(n / batch)  # steps per epoch
    marks = _checkpoints(spe, evals) | {spe}

    def accuracy():
        model.eval()
        with torch.no_grad():
            pred = model(Xv).argmax(1).numpy()
        model.train()
        return np.mean(pred == yte)

    clock = TrainClock(CLOCKS[settings.clock])
    rec = _Recorder(settings.tta_targets, clock)
    clock.start()
    for epoch in range(settings.tta_max_epochs):
        order = torch.randperm(n, generator=gen)
        for done, start in enumerate(range(0, n, batch), start=1):
            idx = order[start : start + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()
            if done in marks:
                rec.record(epoch + done / spe, accuracy)
        if rec.done or clock.train_seconds > settings.tta_max_seconds:
            break
    config = {"sizes": sizes, "optimizer": "adam", "lr": lr, "batch_size": batch}
    return rec.result(TTA_SYSTEMS["torch"], config)


def _tta_sklearn(data, settings: Settings, evals: int) -> dict:
    from sklearn.neural_network import MLPClassifier

    Xtr, ytr, Xte, yte = data
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), random_state=settings.seed)
    classes = np.arange(10)
    rng = np.random.default_rng(settings.seed)
    n = len(Xtr)
    bounds = np.linspace(0, n, evals + 1).astype(int)
    accuracy = lambda: np.mean(clf.predict(Xte) == yte)
    clock = TrainClock(CLOCKS[settings.clock])
    rec = _Recorder(settings.tta_targets, clock)
    clock.start()
    for epoch in range(settings.tta_max_epochs):
        order = rng.permutation(n)
        for j in range(evals):  # partial_fit on each part of a shuffled epoch
            part = order[bounds[j] : bounds[j + 1]]
            clf.partial_fit(Xtr[part], ytr[part], classes=classes)
            rec.record(epoch + (j + 1) / evals, accuracy)
        if rec.done or clock.train_seconds > settings.tta_max_seconds:
            break
    config = {
        "hidden_layer_sizes": [256, 256],
        "defaults": "adam, lr 1e-3, batch min(200, n), alpha 1e-4",
        "fit": f"partial_fit on {evals} parts of each shuffled epoch",
    }
    return rec.result(TTA_SYSTEMS["sklearn"], config)


def time_to_accuracy(settings: Settings, data=None, *, progress=None) -> dict:
    """Training time until the test accuracy first reaches each of ``settings.tta_targets``."""
    if data is None:
        data = mnist_arrays(settings.tta_train_samples, settings.tta_test_samples)
    runners = {"mlplab": _tta_mlplab, "torch": _tta_torch, "sklearn": _tta_sklearn}
    out = {
        "targets": list(settings.tta_targets),
        "train_samples": len(data[0]),
        "test_samples": len(data[2]),
        "evals_per_epoch": settings.tta_evals_per_epoch,
        "max_epochs": settings.tta_max_epochs,
        "max_seconds": settings.tta_max_seconds,
        "systems": {},
    }
    for name in settings.tta_systems:
        if not _available(name):
            out["systems"][name] = None
            continue
        if progress is not None:
            progress(f"time to accuracy: {name}")
        out["systems"][name] = runners[name](data, settings, settings.tta_evals_per_epoch)
    return out


# ---------------------------------------------------------------------------------------------
# scaling with width and batch
# ---------------------------------------------------------------------------------------------


def _peak_memory(sizes, batch: int, X, y) -> int:
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
        "peak_memory_mib": _peak_memory(sizes, batch, X, y) / 2**20,
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
TARGETS = (
    ("vs_torch_256", "engine epoch speed-up over PyTorch eager fp32, 784-256-256-10", 1.2),
    ("vs_torch_1024", "engine epoch speed-up over PyTorch eager fp32, 784-1024-1024-10", 1.1),
    ("vs_sklearn", "engine epoch speed-up over scikit-learn (smallest over the rows)", 3.0),
    ("peak_fraction", "engine GFLOP/s / matmul peak at batch 256, width 1024", 0.70),
    ("fast_recipe_98", "fast recipe: training seconds to 98.0 % MNIST test accuracy", 1.0),
)


def check_targets(result: dict) -> list[dict]:
    """Each target of issue 9 with the measured value (None where not measured) and ``met``."""
    rows = result.get("epoch", {}).get("rows", [])

    def ratio(system, width=None, key="ratio_to_mlplab"):
        vals = [
            r["systems"][system][key]
            for r in rows
            if system in r["systems"]
            and (width is None or r["sizes"][1] == width)
            and r["systems"][system].get(key) is not None
        ]
        return min(vals) if vals else None

    peak = result.get("peak", {}).get("peak")
    frac = frac_fastest = None
    for r in rows:
        if r["batch"] == 256 and r["sizes"][1:-1] == [1024, 1024] and peak and "mlplab_gflops" in r:
            frac = r["mlplab_gflops"] / peak
            best = r["systems"]["mlplab"].get("min")
            if best and "flops_per_epoch" in r:
                frac_fastest = r["flops_per_epoch"] / best / 1e9 / peak
    fast = (result.get("tta", {}).get("systems") or {}).get("mlplab")
    fast98 = None
    if fast and fast["reached"].get(_key(0.98)):
        fast98 = fast["reached"][_key(0.98)]["train_seconds"]
    values = {
        "vs_torch_256": ratio("torch", 256),
        "vs_torch_1024": ratio("torch", 1024),
        "vs_sklearn": ratio("sklearn"),
        "peak_fraction": frac,
        "fast_recipe_98": fast98,
    }
    # the same ratios between the fastest (least disturbed) runs of each system
    fastest = {
        "vs_torch_256": ratio("torch", 256, "min_ratio_to_mlplab"),
        "vs_torch_1024": ratio("torch", 1024, "min_ratio_to_mlplab"),
        "vs_sklearn": ratio("sklearn", None, "min_ratio_to_mlplab"),
        "peak_fraction": frac_fastest,
    }
    # the largest speed-up the matrix-product floor leaves (other system's epoch / floor)
    bounds = {
        "vs_torch_256": ratio("torch", 256, "most_ratio_possible"),
        "vs_torch_1024": ratio("torch", 1024, "most_ratio_possible"),
        "vs_sklearn": ratio("sklearn", None, "most_ratio_possible"),
    }
    out = []
    for key, what, goal in TARGETS:
        v = values[key]
        met = None if v is None else (v <= goal if key == "fast_recipe_98" else v >= goal)
        row = {"target": key, "what": what, "goal": goal, "value": v, "met": met}
        row["fastest_runs"] = fastest.get(key)
        row["most_possible"] = bounds.get(key)
        out.append(row)
    return out


def run_bench(settings: Settings, *, progress=None) -> dict:
    """Measure the sections of ``settings`` and return one JSON-ready dict."""
    settings = settings.validated()
    threads = settings.threads or default_threads()
    t0 = time.perf_counter()
    result: dict = {
        "format": FORMAT,
        "preset": settings.preset,
        "settings": asdict(settings),
        "environment": environment(threads),
    }
    with blas_threads(threads):
        need_train = {"epoch", "scaling"} & set(settings.sections)
        data = mnist_arrays() if need_train else None
        if "epoch" in settings.sections:
            result["epoch"] = measure_epochs(settings, data, progress=progress)
        if "peak" in settings.sections:
            if progress is not None:
                progress("matrix-multiply peak")
            clock = CLOCKS[settings.clock]
            peak = matmul_peak(
                settings.peak_sizes, settings.peak_repeats, seed=settings.seed, clock=clock
            )
            hidden = max(settings.hidden, key=lambda h: sum(h))
            batch = max(settings.batches)
            peak["ceiling"] = gemm_ceiling(
                [784, *hidden, 10], batch, settings.peak_repeats, clock=clock
            )
            peak["ceiling"]["fraction_of_peak"] = peak["ceiling"]["gflops"] / peak["peak"]
            result["peak"] = peak
        if "tta" in settings.sections:
            result["tta"] = time_to_accuracy(settings, progress=progress)
        if "scaling" in settings.sections:
            result["scaling"] = measure_scaling(settings, data, progress=progress)
    result["targets"] = check_targets(result)
    result["loadavg_after"] = _loadavg()
    result["wall_seconds"] = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def _fmt_s(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def render_markdown(result: dict) -> str:
    """The result as Markdown tables (what ``--out`` writes to ``bench.md``)."""
    env = result["environment"]
    lines = [
        f"# mlplab bench ({result['preset']})",
        "",
        f"{env['cpu']}, {env['threads']} threads; numpy {env['numpy']}, torch {env['torch']}, "
        f"scikit-learn {env['sklearn']}; load average before {env['loadavg']}, after "
        f"{result.get('loadavg_after')}.",
    ]
    blas = [p for p in env["thread_pools"] if p["user_api"] == "blas"]
    if blas:
        lines.append(
            "BLAS: "
            + "; ".join(f"{p['internal_api']} {p['version']} ({p['architecture']})" for p in blas)
            + "."
        )
    set_env = {k: v for k, v in env["env"].items() if v is not None}
    lines.append(f"Environment: {set_env or 'no BLAS/OpenMP variables set'}.")
    clock = result["settings"].get("clock", "wall")
    lines.append(
        "Clock: "
        + (
            "wall time."
            if clock == "wall"
            else "process CPU time (all threads together), not wall time."
        )
    )
    if "epoch" in result:
        ep = result["epoch"]
        lines += [
            "",
            f"## Epoch time (s per 60000-image epoch; median [min–max] of {ep['repeats']}, "
            f"alternated; timed on {ep['samples']} images)",
            "",
            "| network | batch | system | median | min–max | × mlplab (medians) "
            "| × mlplab (fastest runs) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in ep["rows"]:
            net = "-".join(map(str, row["sizes"]))
            for s in row["systems"].values():
                ratio, fast = s["ratio_to_mlplab"], s.get("min_ratio_to_mlplab")
                lines.append(
                    f"| {net} | {row['batch']} | {s['label']} | {s['median']:.3f} | "
                    f"{s['min']:.3f}–{s['max']:.3f} | "
                    f"{'—' if ratio is None else f'{ratio:.2f}'} | "
                    f"{'—' if fast is None else f'{fast:.2f}'} |"
                )
            if "mlplab_gflops" in row:
                lines.append(
                    f"| {net} | {row['batch']} | engine rate | {row['mlplab_gflops']:.0f} GFLOP/s"
                    " | | | |"
                )
            if "gemm_floor_seconds" in row:
                lines.append(
                    f"| {net} | {row['batch']} | matrix products alone | "
                    f"{row['gemm_floor_seconds']:.3f} | | | |"
                )
    if "peak" in result:
        pk = result["peak"]
        c = pk["ceiling"]
        lines += [
            "",
            "## Matrix-multiply peak (float32, GFLOP/s, best of repeats)",
            "",
            "| n | NumPy BLAS | PyTorch |",
            "|---|---|---|",
        ]
        for n in pk["numpy"]:
            t = pk["torch"].get(n)
            lines.append(f"| {n} | {pk['numpy'][n]:.0f} | {'—' if t is None else f'{t:.0f}'} |")
        lines += [
            "",
            f"Peak {pk['peak']:.0f} GFLOP/s.  The matrix products alone of one step of "
            f"{'-'.join(map(str, c['sizes']))} at batch {c['batch']} run at {c['gflops']:.0f} "
            f"GFLOP/s ({100 * c['fraction_of_peak']:.0f} % of peak): "
            f"{c['seconds_per_epoch']:.3f} s per epoch is the floor for this BLAS.",
        ]
    if "tta" in result:
        tta = result["tta"]
        keys = [_key(t) for t in tta["targets"]]
        lines += [
            "",
            f"## Time to test accuracy (training seconds; {tta['evals_per_epoch']} checks per "
            f"epoch; at most {tta['max_epochs']} epochs or {tta['max_seconds']:.0f} s)",
            "",
            "| system | "
            + " | ".join(f"to {100 * float(k):.1f} %" for k in keys)
            + " | best acc. | train s | eval s |",
            "|---|" + "---|" * (len(keys) + 3),
        ]
        for s in tta["systems"].values():
            if s is None:
                continue
            cells = []
            for k in keys:
                r = s["reached"][k]
                cells.append(
                    "not reached"
                    if r is None
                    else f"{r['train_seconds']:.2f} s ({r['epochs']:.2f} ep.)"
                )
            lines.append(
                f"| {s['label']} | "
                + " | ".join(cells)
                + f" | {100 * s['best_accuracy']:.2f} % | {s['train_seconds']:.2f} | "
                f"{s['eval_seconds']:.2f} |"
            )
    if "scaling" in result:
        sc = result["scaling"]
        lines += [
            "",
            f"## Cost against width (784-w-w-10, batch {sc['width_batch']}) and batch "
            f"(784-{'-'.join(map(str, sc['batch_hidden']))}-10)",
            "",
            "| network | batch | s / epoch | GFLOP/s | peak memory MiB |",
            "|---|---|---|---|---|",
        ]
        for p in sc["width"] + sc["batch"]:
            lines.append(
                f"| {'-'.join(map(str, p['sizes']))} | {p['batch']} | "
                f"{p['seconds_per_epoch']:.3f} | {p['gflops']:.0f} | "
                f"{p['peak_memory_mib']:.1f} |"
            )
    if result.get("targets"):
        lines += [
            "",
            "## Targets (issue 9)",
            "",
            "| target | goal | measured | met | fastest runs | most possible on this BLAS |",
            "|---|---|---|---|---|---|",
        ]
        fmt = lambda x: "" if x is None else f"{x:.3g}"
        for t in result["targets"]:
            v = t["value"]
            shown = "—" if v is None else f"{v:.3g}"
            met = {True: "yes", False: "NO", None: "not measured"}[t["met"]]
            lines.append(
                f"| {t['what']} | {t['goal']} | {shown} | {met} | {fmt(t.get('fastest_runs'))} "
                f"| {fmt(t.get('most_possible'))} |"
            )
        lines += [
            "",
            "*Measured* and *met* use the medians; *fastest runs* is the same ratio between each "
            "system's fastest run (the least disturbed by other work on the machine).  "
            "*Most possible*: the other system's median epoch divided by the time of the "
            "step's matrix products alone on NumPy's BLAS (the smallest over the rows), the "
            "speed-up a float32 engine with zero overhead around those products would have.",
        ]
    return "\n".join(lines) + "\n"


def plot_scaling(result: dict) -> bytes:
    """PNG bytes: epoch time and peak memory against width and against batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = result["scaling"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for row, (key, xs, xlabel) in enumerate(
        (
            ("width", [p["width"] for p in sc["width"]], "hidden width w (784-w-w-10)"),
            ("batch", [p["batch"] for p in sc["batch"]], "batch size"),
        )
    ):
        pts = sc[key]
        ax = axes[row][0]
        ax.plot(xs, [p["seconds_per_epoch"] for p in pts], "o-", color="C0")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds per 60000-image epoch", color="C0")
        twin = ax.twinx()
        twin.plot(xs, [p["gflops"] for p in pts], "s--", color="C1")
        twin.set_ylabel("achieved GFLOP/s", color="C1")
        ax.grid(True, which="both", alpha=0.3)
        mem = axes[row][1]
        mem.plot(xs, [p["peak_memory_mib"] for p in pts], "o-", color="C2")
        mem.set_xscale("log", base=2)
        mem.set_xlabel(xlabel)
        mem.set_ylabel("peak memory, MiB (model + training state)")
        mem.grid(True, which="both", alpha=0.3)
    fig.suptitle("mlplab engine: cost against width and batch size (SGD, float32)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
