"""Time one MNIST training epoch on each mlplab backend: NumPy, torch fp32, torch bf16.

The workload: a 784-256-256-10 ReLU MLP with a softmax cross-entropy head, mini-batches of
128, float32 weights, on the 60 000 MNIST training images (pixels / 255), shuffled by the same
seeded Generator on every system.  Each system is the public API, end to end:

* ``numpy``:      ``mlplab.core.train.fit``;
* ``torch-fp32``: ``mlplab.backends.torch.torch_fit(..., precision="fp32")``;
* ``torch-bf16``: the same with ``precision="bf16"`` (autocast; weights stay float32).

so the torch times include copying the data to a tensor and the weights back into the mlplab
model.  Each optimizer (Adam lr 1e-3 and SGD lr 0.01 by default) is timed separately; within a
repeat the systems alternate (numpy, torch-fp32, torch-bf16, numpy, ...) so that a change in
machine load hits all alike.  The table gives the median of the repeats with the min-max range
and the test accuracy after the epoch.  Wall times on a shared machine are noisy: read the
ratios, not the digits.

Usage::

    python benchmarks/backends_epoch.py                      # table, 5 repeats
    python benchmarks/backends_epoch.py --json               # one JSON object
    python benchmarks/backends_epoch.py --repeats 1 --rows 6000 --optimizers adam  # quick look
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import epoch_timing
import numpy as np

SIZES = [784, 256, 256, 10]
SYSTEMS = ("numpy", "torch-fp32", "torch-bf16")
OPTIMIZERS = {"adam": {"name": "adam", "lr": 1e-3}, "sgd": {"name": "sgd", "lr": 0.01}}


def mnist(rows: int):
    from mlplab.data import load_mnist

    d = load_mnist()
    X = d.train_images[:rows].reshape(-1, 784).astype(np.float32) / 255.0
    Xt = d.test_images.reshape(-1, 784).astype(np.float32) / 255.0
    return X, d.train_labels[:rows], Xt, d.test_labels


def one_epoch(system: str, optimizer: dict, X, y, *, batch_size: int, seed: int):
    """Train a fresh model for one epoch; returns (seconds, the trained Network)."""
    from mlplab.core.network import Network
    from mlplab.core.train import fit

    model = Network.from_sizes(SIZES, "relu", dtype="float32", rng=seed)
    kw = dict(optimizer=optimizer, epochs=1, batch_size=batch_size, rng=seed)
    t0 = time.perf_counter()
    if system == "numpy":
        fit(model, X, y, **kw)
    else:
        from mlplab.backends.torch import torch_fit

        torch_fit(model, X, y, device="cpu", precision=system.split("-")[1], **kw)
    return time.perf_counter() - t0, model


def run(rows: int, repeats: int, batch_size: int, seed: int, threads: int, optimizers) -> dict:
    import torch

    torch.set_num_threads(threads)
    X, y, Xt, yt = mnist(rows)
    warm = slice(0, min(rows, 8 * batch_size))  # first-call costs (imports, thread pools)
    for system in SYSTEMS:
        one_epoch(system, OPTIMIZERS["sgd"], X[warm], y[warm], batch_size=batch_size, seed=seed)
    results = {}
    for opt_name in optimizers:
        cases = {  # alternate the systems inside each repeat
            system: functools.partial(
                one_epoch, system, OPTIMIZERS[opt_name], X, y, batch_size=batch_size, seed=seed
            )
            for system in SYSTEMS
        }
        times, models = epoch_timing.alternate(cases, repeats)
        results[opt_name] = {
            s: epoch_timing.summary(ts, test_accuracy=float(np.mean(models[s].predict(Xt) == yt)))
            for s, ts in times.items()
        }
    return {
        "workload": {
            "sizes": SIZES,
            "activation": "relu",
            "head": "softmax_ce",
            "data": "MNIST train (pixels / 255)",
            "rows": int(len(X)),
            "batch_size": batch_size,
            "steps": -(-len(X) // batch_size),
            "optimizers": {k: OPTIMIZERS[k] for k in optimizers},
            "dtype": "float32",
            "seed": seed,
            "repeats": repeats,
            "order": "alternating " + ", ".join(SYSTEMS),
        },
        "results": results,
        "machine": epoch_timing.machine(torch),
    }


def print_table(rep: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    w = rep["workload"]
    console = Console()
    for opt_name, res in rep["results"].items():
        opt = w["optimizers"][opt_name]
        table = Table(
            title=(
                f"one epoch: {'-'.join(map(str, w['sizes']))} {w['activation']}, {w['rows']} "
                f"rows, batch {w['batch_size']} ({w['steps']} steps), {opt['name']} "
                f"lr={opt['lr']}, {w['dtype']}"
            )
        )
        for col in ("system", "median s", "min-max s", "vs numpy", "test acc."):
            table.add_column(col, justify="left" if col == "system" else "right")
        base = res["numpy"]["median_s"]
        for system, r in res.items():
            table.add_row(
                system,
                f"{r['median_s']:.2f}",
                f"{r['min_s']:.2f}-{r['max_s']:.2f}",
                f"{base / r['median_s']:.2f}x",
                f"{r['test_accuracy']:.4f}",
            )
        console.print(table)
    m = rep["machine"]
    console.print(
        f"medians of {w['repeats']} alternating runs; {m['cpu_count']} cores; torch "
        f"{m['torch']} with {m['torch_threads']} threads; numpy {m['numpy']}.\n"
        "Wall times on a shared machine are noisy; compare the ratios, not the digits."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    epoch_timing.add_size_args(p, "system")
    epoch_timing.add_run_args(p)
    p.add_argument(
        "--optimizers",
        nargs="+",
        choices=list(OPTIMIZERS),
        default=list(OPTIMIZERS),
        help="which optimizers to time (default: adam sgd)",
    )
    args = p.parse_args(argv)
    epoch_timing.check_args(p, args)
    rep = run(args.rows, args.repeats, args.batch_size, args.seed, args.threads, args.optimizers)
    return epoch_timing.emit(rep, args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
