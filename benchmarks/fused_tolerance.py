"""How far the fused SGD step ends from the exact (bit-for-bit reference) step after real
training, set against how far the exact step itself moves when every initial weight is nudged
by one ulp: MNIST, 784-256-256-10, float32, batch 128, one epoch, seed 0.

For each optimizer it prints the largest weight difference relative to each array's largest
weight, the epoch's training loss and the test accuracy of both runs.

Usage::

    python benchmarks/fused_tolerance.py [--epochs 1] [--hidden 256,256] [--rows 60000] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from mlplab.bench import mnist_arrays
from mlplab.core.network import Network
from mlplab.core.train import fit

OPTIMIZERS = {
    "sgd": {"name": "sgd", "lr": 0.01},
    "nesterov": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True},
}


def _train(data, opt, fast, epochs, hidden, nudge=False):
    X, y, Xt, yt = data
    model = Network.from_sizes([X.shape[1], *hidden, 10], "relu", rng=0)
    if nudge:  # every initial weight one ulp up
        for p in model.named_parameters().values():
            p[...] = np.nextafter(p, np.float32(np.inf))
    hist = fit(model, X, y, optimizer=opt, epochs=epochs, batch_size=128, rng=0, fast=fast)
    acc = float(np.mean(model.predict(Xt) == yt))
    return model.state_dict(), hist["train_loss"][-1], acc


def _distance(a, b) -> float:
    return max(float(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(a[k]))) for k in a)


def main(argv=None) -> int:
    """Command line: one line per optimizer (or JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", default="256,256")
    p.add_argument("--rows", type=int, default=60000, help="training images (default 60000)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    data = mnist_arrays(args.rows)
    hidden = [int(h) for h in args.hidden.split(",")]
    out = {}
    for name, opt in OPTIMIZERS.items():
        exact = _train(data, opt, True, args.epochs, hidden)
        fused = _train(data, opt, "fused", args.epochs, hidden)
        nudged = _train(data, opt, True, args.epochs, hidden, nudge=True)
        out[name] = {
            "fused_vs_exact": _distance(exact[0], fused[0]),
            "exact_nudged_by_one_ulp": _distance(exact[0], nudged[0]),
            "loss": {"exact": exact[1], "fused": fused[1]},
            "test_accuracy": {"exact": exact[2], "fused": fused[2]},
        }
    if args.json:
        print(json.dumps(out))
        return 0
    for name, r in out.items():
        print(f"{name}: fused vs exact {r['fused_vs_exact']:.2e}; exact, weights nudged one ulp "
              f"{r['exact_nudged_by_one_ulp']:.2e}; loss {r['loss']['exact']:.6f} vs "
              f"{r['loss']['fused']:.6f}; test accuracy {100 * r['test_accuracy']['exact']:.2f}"
              f" vs {100 * r['test_accuracy']['fused']:.2f} %")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
