"""Where a training step's time goes, phase by phase, on real shuffled MNIST batches: the batch
gather, each layer's forward and backward, the head's loss and δ, the update and the running
accuracy — microseconds per step, each phase timed around the very call the step makes.

``--gather`` also compares the per-step gather with one shuffled copy of the whole training set
per epoch (the alternative the issue names), in milliseconds per epoch.

Usage::

    python benchmarks/step_phases.py --hidden 256,256 --batch 128 --step fused [--gather]
"""

from __future__ import annotations

import argparse
import collections
import json
import time

import numpy as np

from mlplab.bench import blas_threads, mnist_arrays
from mlplab.core.fastpath import FastStep, FusedSGDStep
from mlplab.core.network import Network
from mlplab.core.optim import make_optimizer


def phases(hidden, batch: int, epochs: int, step_cls) -> dict:
    """Median over ``epochs`` shuffled epochs of each phase's µs per step."""
    X, y, _, _ = mnist_arrays(60000)
    model = Network.from_sizes([X.shape[1], *hidden, 10], "relu", rng=0)
    step = step_cls(model, make_optimizer({"name": "sgd", "lr": 0.01}))
    step.prepare(X, y.astype(np.int64), None, None)
    rng = np.random.default_rng(0)
    layers, head, clock = model.layers, model.head, time.perf_counter
    xb = np.empty((batch, X.shape[1]), X.dtype)
    steps = len(X) // batch
    per_epoch = []
    for _ in range(epochs + 1):  # the first epoch warms up and is dropped
        t = collections.defaultdict(float)
        order = rng.permutation(len(X))
        t_epoch = clock()
        for s in range(steps):
            idx = order[s * batch : (s + 1) * batch]
            t0 = clock()
            h = np.take(X, idx, axis=0, out=xb, mode="clip")
            yb = step.y[idx]
            t["gather"] += clock() - t0
            buf = step.buffers(batch)
            for i, (layer, lb) in enumerate(zip(layers, buf.layer)):
                t0 = clock()
                h = layer.forward_into(h, lb, True, rng)
                t[f"forward {i} {type(layer).__name__}"] += clock() - t0
            t0 = clock()
            _, d = head.loss_and_delta_into(h, yb, buf.head)
            t["loss and delta"] += clock() - t0
            for i in range(len(layers) - 1, -1, -1):
                t0 = clock()
                d = step.backward_layer(i, d, buf.layer[i], i > 0)
                t[f"backward {i} {type(layers[i]).__name__}"] += clock() - t0
            t0 = clock()
            step.update()
            t["update"] += clock() - t0
            t0 = clock()
            step.correct(h, idx)
            t["accuracy"] += clock() - t0
        total = clock() - t_epoch
        row = {k: 1e6 * v / steps for k, v in t.items()}
        row["step"] = 1e6 * total / steps
        per_epoch.append(row)
    per_epoch = per_epoch[1:]
    return {k: float(np.median([r[k] for r in per_epoch])) for k in per_epoch[0]}


def gather_compare(batch: int, epochs: int) -> dict:
    """ms per epoch: per-batch ``np.take`` into a reused buffer vs one shuffled copy."""
    X, _, _, _ = mnist_arrays(60000)
    rng = np.random.default_rng(0)
    xb, whole = np.empty((batch, X.shape[1]), X.dtype), np.empty_like(X)
    np.take(X, rng.permutation(len(X)), axis=0, out=whole)  # touch the pages once
    per_batch, one_copy = [], []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        t0 = time.perf_counter()
        for s in range(len(X) // batch):
            np.take(X, order[s * batch : (s + 1) * batch], axis=0, out=xb, mode="clip")
        t1 = time.perf_counter()
        np.take(X, order, axis=0, out=whole, mode="clip")
        t2 = time.perf_counter()
        per_batch.append(1e3 * (t1 - t0))
        one_copy.append(1e3 * (t2 - t1))
    return {"per_batch_ms": per_batch, "one_copy_ms": one_copy}


def main(argv=None) -> int:
    """Command line: a table (or JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", default="256,256")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (default 3)")
    p.add_argument("--step", choices=["fast", "fused"], default="fused")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gather", action="store_true", help="also compare gather strategies")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    hidden = [int(h) for h in args.hidden.split(",")]
    with blas_threads(args.threads):
        r = {"phases_us": phases(hidden, args.batch, args.epochs,
                                 FusedSGDStep if args.step == "fused" else FastStep)}  # fmt: skip
        if args.gather:
            r["gather"] = gather_compare(args.batch, args.epochs)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"784-{'-'.join(map(str, hidden))}-10, batch {args.batch}, {args.step} step, "
          f"{args.threads} thread(s): µs per step, median of {args.epochs} epochs")  # fmt: skip
    for k, v in r["phases_us"].items():
        print(f"  {k:28s} {v:8.1f}")
    if args.gather:
        g = r["gather"]
        fmt = lambda xs: ", ".join(f"{x:.1f}" for x in xs)
        print(f"gather, ms per epoch: per batch {fmt(g['per_batch_ms'])}; "
              f"one shuffled copy {fmt(g['one_copy_ms'])}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
