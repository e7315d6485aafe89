"""Time one training epoch of the NumPy engine against the same epoch in PyTorch (eager, CPU).

The workload: a 784-256-256-10 ReLU MLP with a softmax cross-entropy head, mini-batches of
128, plain SGD (lr 0.01), float32, on 60 000 random rows of 784 features (seeded).  Both sides
start from the same weights (the torch model is built from the mlplab one) and see the same
batches in the same order (no shuffling), so they do the same arithmetic:

* ``mlplab``: ``Trainer.fit`` for one epoch (forward, backward, SGD step, running accuracy);
* ``torch``:  ``nn.Sequential`` + ``torch.optim.SGD``, ``zero_grad`` / ``backward`` / ``step``.

Runs alternate (mlplab, torch, mlplab, torch, ...) so that a change in machine load hits both
alike; the table gives the median of the repeats with the min-max range, and the ratio of the
medians (and of the fastest runs, the least disturbed by other load).  Wall times on a
shared machine are noisy: read the ratios, not the digits.

Usage::

    python benchmarks/engine_epoch.py            # table
    python benchmarks/engine_epoch.py --json     # one JSON object
    python benchmarks/engine_epoch.py --rows 6000 --repeats 3   # a quicker look
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import epoch_timing
import numpy as np

SIZES = [784, 256, 256, 10]


def make_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=rows)
    return X, y


def mlplab_epoch(X, y, *, seed: int, batch_size: int, lr: float) -> tuple[float, float]:
    """One epoch of ``Trainer.fit``; returns (seconds, mean training loss)."""
    from mlplab.core.network import Network
    from mlplab.core.train import TrainConfig, Trainer

    net = Network.from_sizes(SIZES, "relu", dtype="float32", rng=seed)
    cfg = TrainConfig(epochs=1, batch_size=batch_size, shuffle=False)
    trainer = Trainer(net, {"name": "sgd", "lr": lr}, config=cfg, rng=seed)
    t0 = time.perf_counter()
    hist = trainer.fit(X, y)
    return time.perf_counter() - t0, float(hist["train_loss"][-1])


def torch_epoch(X, y, *, seed: int, batch_size: int, lr: float) -> tuple[float, float]:
    """The same epoch in PyTorch eager mode; returns (seconds, mean training loss)."""
    import torch
    import torch.nn.functional as F

    from mlplab.backends.torch import to_torch
    from mlplab.core.network import Network

    model = to_torch(Network.from_sizes(SIZES, "relu", dtype="float32", rng=seed))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), dtype=torch.float64)
    for start in range(0, n, batch_size):
        xb, yb = Xt[start : start + batch_size], yt[start : start + batch_size]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        loss_sum += loss.detach().double() * len(xb)
    seconds = time.perf_counter() - t0
    return seconds, float(loss_sum) / n


def blas_info() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [
        {
            "library": d.get("internal_api"),
            "version": d.get("version"),
            "threads": d.get("num_threads"),
            "user_api": d.get("user_api"),
        }
        for d in threadpool_info()
    ]


def run(rows: int, repeats: int, batch_size: int, lr: float, seed: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    X, y = make_data(rows, seed)
    # warm-up on a few batches (first-call allocations, thread pools) — not timed
    warm = slice(0, min(rows, 8 * batch_size))
    mlplab_epoch(X[warm], y[warm], seed=seed, batch_size=batch_size, lr=lr)
    torch_epoch(X[warm], y[warm], seed=seed, batch_size=batch_size, lr=lr)
    kw = dict(seed=seed, batch_size=batch_size, lr=lr)
    cases = {  # alternate A B A B
        "mlplab": functools.partial(mlplab_epoch, X, y, **kw),
        "torch": functools.partial(torch_epoch, X, y, **kw),
    }
    times, losses = epoch_timing.alternate(cases, repeats)
    summary = {
        name: epoch_timing.summary(ts, epoch_loss=losses[name]) for name, ts in times.items()
    }
    return {
        "workload": {
            "sizes": SIZES,
            "activation": "relu",
            "head": "softmax_ce",
            "rows": rows,
            "batch_size": batch_size,
            "steps": -(-rows // batch_size),
            "optimizer": f"sgd lr={lr}",
            "dtype": "float32",
            "seed": seed,
            "repeats": repeats,
            "order": "alternating mlplab, torch",
        },
        "results": summary,
        "ratio_mlplab_over_torch": summary["mlplab"]["median_s"] / summary["torch"]["median_s"],
        # the fastest run of each is the least disturbed by other load on a shared machine
        "ratio_of_minima": summary["mlplab"]["min_s"] / summary["torch"]["min_s"],
        "machine": epoch_timing.machine(torch, blas=blas_info()),
    }


def print_table(rep: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    w = rep["workload"]
    table = Table(
        title=(
            f"one epoch: {'-'.join(map(str, w['sizes']))} {w['activation']}, {w['rows']} rows, "
            f"batch {w['batch_size']} ({w['steps']} steps), {w['optimizer']}, {w['dtype']}"
        )
    )
    for col in ("engine", "median s", "min-max s", "epoch loss"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for name, r in rep["results"].items():
        table.add_row(
            name,
            f"{r['median_s']:.3f}",
            f"{r['min_s']:.3f}-{r['max_s']:.3f}",
            f"{r['epoch_loss']:.6f}",
        )
    console = Console()
    console.print(table)
    m = rep["machine"]
    blas = ", ".join(f"{b['library']} {b['version']} ({b['threads']} threads)" for b in m["blas"])
    console.print(
        f"mlplab / torch = {rep['ratio_mlplab_over_torch']:.2f}x (medians of {w['repeats']}, "
        f"alternating runs); fastest runs: {rep['ratio_of_minima']:.2f}x\n"
        f"{m['cpu_count']} cores; torch {m['torch']} with {m['torch_threads']} threads; "
        f"numpy {m['numpy']}; BLAS: {blas or 'unknown'}\n"
        "Wall times on a shared machine are noisy; compare the ratio, not the digits."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    epoch_timing.add_size_args(p, "engine")
    p.add_argument("--lr", type=float, default=0.01)
    epoch_timing.add_run_args(p)
    args = p.parse_args(argv)
    epoch_timing.check_args(p, args)
    rep = run(args.rows, args.repeats, args.batch_size, args.lr, args.seed, args.threads)
    return epoch_timing.emit(rep, args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
