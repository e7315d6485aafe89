"""The epoch comparison (mlplab fast and reference paths, PyTorch eager fp32 and bf16,
scikit-learn) and the matrix-product rates it is read against: the square-GEMM peak and the
products-alone floor of each epoch (``gemm_ceiling``)."""

from __future__ import annotations

import math
import statistics
import time
import warnings

import numpy as np

from mlplab.bench.common import (
    CLOCKS,
    EPOCH,
    SYSTEMS,
    Settings,
    alternate,
    load_torch,
    summarize,
    train_flops,
)
from mlplab.errors import check_choice

#: The engine's systems and the ``Trainer(fast=...)`` each runs: the fused SGD step (plain SGD
#: folded into the weight-gradient products on NumPy's BLAS, equal to the reference within
#: rounding; the fast step where it cannot run, see :func:`engine_step`), the fast step (bit
#: for bit the reference) and the reference step.
ENGINE_STEPS = {"mlplab": "fused", "mlplab_exact": True, "mlplab_ref": False}


def engine_step(sizes, system: str = "mlplab", lr: float = 0.01) -> str:
    """The name of the step class the engine ``system`` runs for ``sizes`` (what the bench
    records beside its times, so a fallback from the fused step is visible)."""
    from mlplab.core.network import Network
    from mlplab.core.train import TrainConfig, Trainer

    model = Network.from_sizes([int(s) for s in sizes], "relu", rng=0)
    trainer = Trainer(model, {"name": "sgd", "lr": lr}, config=TrainConfig(epochs=1),
                      fast=ENGINE_STEPS[system])  # fmt: skip
    return type(trainer.make_step()).__name__


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


def torch_mlp(torch, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _torch_epoch(X, y, sizes, batch, lr, seed, bf16, clock) -> float:
    torch = load_torch()
    with torch.random.fork_rng(devices=[]):  # seeded init without touching torch's global RNG
        torch.manual_seed(seed)
        model = torch_mlp(torch, sizes)
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
    if system in ENGINE_STEPS:
        fast = ENGINE_STEPS[system]
        return lambda X, y: _engine_epoch(X, y, sizes, batch, lr, seed, fast, clock)
    if system in ("torch", "torch_bf16"):
        bf16 = system == "torch_bf16"
        return lambda X, y: _torch_epoch(X, y, sizes, batch, lr, seed, bf16, clock)
    return lambda X, y: _sklearn_epoch(X, y, sizes, batch, lr, seed, clock)


def measure_epochs(settings: Settings, data, *, progress=None) -> dict:
    """The epoch comparison: every (architecture, batch) with the systems alternated."""
    X, y = data[0][: settings.epoch_samples], data[1][: settings.epoch_samples]
    systems = [s for s in settings.systems if available(s)]
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
            # The step's matrix products alone, as one more alternated case over as many steps
            # as the systems' pass: the floor is then measured under the same conditions and
            # summarised with the same statistic (median against median).
            floor_run = products_runner(sizes, batch, len(X), clock=CLOCKS[settings.clock])
            floor_run()  # untimed warm-up
            cases["floor"] = lambda floor_run=floor_run: floor_run() * scale
            on_run = None
            if progress is not None:
                tag = f"epoch {'-'.join(map(str, sizes))} batch {batch}"
                on_run = lambda name, r, t, tag=tag: progress(f"{tag}: {name} {t:.3f} s")
            times = alternate(cases, settings.repeats, on_run=on_run)
            floor_runs = times.pop("floor")
            floor = summarize(floor_runs)
            results = {s: {"label": SYSTEMS[s], **summarize(t)} for s, t in times.items()}
            base = results.get("mlplab", {}).get("median")
            fastest = results.get("mlplab", {}).get("min")
            for r in results.values():
                r["ratio_to_mlplab"] = r["median"] / base if base else None
                # the fastest runs are the least disturbed by other jobs on a shared machine
                r["min_ratio_to_mlplab"] = r["min"] / fastest if fastest else None
                # the largest speed-up over this system a zero-overhead engine could show
                r["most_ratio_possible"] = r["median"] / floor["median"]
            flops = train_flops(sizes, EPOCH)
            row = {
                "sizes": sizes,
                "batch": batch,
                "samples": len(X),
                "flops_per_epoch": flops,
                "systems": results,
                # no float32 engine's epoch on this BLAS (nor scikit-learn's, which runs the
                # same products) can be shorter than its matrix products alone
                "gemm_floor_seconds": floor["median"],
                "gemm_floor": floor,
            }
            if "mlplab" in systems:
                row["engine_step"] = engine_step(sizes, "mlplab", settings.lr)
            if base:
                row["mlplab_gflops"] = flops / base / 1e9
                # issue 18's measure: the engine's epoch over its products alone, medians of
                # the same alternated rounds; and between the fastest runs of each
                row["engine_over_floor"] = base / floor["median"]
                row["engine_over_floor_fastest"] = fastest / floor["min"]
                # the same ratio within each round (engine and floor a few seconds apart),
                # then the median: the least sensitive to the machine's slow drifts
                row["engine_over_floor_paired"] = statistics.median(
                    e / f for e, f in zip(times["mlplab"], floor_runs)
                )
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


def available(system: str) -> bool:
    return not system.startswith("torch") or load_torch() is not None


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
    torch = load_torch()
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


def step_products(sizes, batch: int, seed: int = 0) -> list:
    """The matrix products of one training step on float32 arrays of the step's shapes —
    ``H Wᵀ`` and ``δᵀ H`` per layer, ``δ W`` above the first — as argument-free callables."""
    rng = np.random.default_rng(seed)
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
    return ops


def products_runner(sizes, batch: int, samples: int, *, seed: int = 0, clock=time.perf_counter):
    """A function ``() -> seconds`` running only the matrix products of the training steps of
    a ``samples``-image pass at ``batch`` (the engine's shapes; the last, shorter batch
    included), on arrays made once: what the engine's epoch would take with zero overhead."""
    full, rest = divmod(int(samples), int(batch))
    ops = step_products(sizes, batch, seed)
    tail = step_products(sizes, rest, seed) if rest else []

    def run() -> float:
        t0 = clock()
        for _ in range(full):
            for op in ops:
                op()
        for op in tail:
            op()
        return clock() - t0

    return run


def gemm_ceiling(
    sizes, batch: int, repeats: int = 5, *, seed: int = 0, clock=time.perf_counter
) -> dict:
    """Time of only the matrix products of one training step (the shapes the engine runs:
    ``H Wᵀ``, ``δᵀ H``, ``δ W``), best of ``repeats``: the step time a perfect engine around
    this BLAS would reach, as GFLOP/s and as seconds per 60000-image epoch."""
    sizes = [int(s) for s in sizes]
    ops = step_products(sizes, batch, seed)
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
