"""Where the time of one engine training step goes: matrix products, optimizer update, the rest.

The step is :class:`mlplab.core.fastpath.FastStep` on shuffled MNIST batches (plain SGD,
ReLU, softmax + cross-entropy, float32).  Its pieces are timed the same way, each over the
same number of steps:

* ``step``: forward + backward + update, the batch gathered from the shuffled data set;
* ``matmul``: only the step's matrix products, same shapes and operand layouts
  (``H Wᵀ``, ``δᵀ H``, ``δ W``) on the same arrays (:func:`mlplab.bench.gemm_ceiling` style);
* ``update``: only the optimizer's in-place update;
* ``other``: step − matmul − update — bias, ReLU, softmax, batch gather, Python.

This is the profile evidence BENCHMARKS.md cites for what limits the epoch time.

Usage::

    python benchmarks/step_profile.py --hidden 1024,1024 --batch 128 --threads 1 --clock cpu
    python benchmarks/step_profile.py --hidden 256,256 --batch 128 --json
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np

from mlplab.bench import CLOCKS, blas_threads, mnist_arrays, train_flops
from mlplab.core.fastpath import FastStep, FusedSGDStep
from mlplab.core.network import Network
from mlplab.core.optim import make_optimizer


def profile(hidden, batch: int, steps: int, repeats: int, clock, step_cls=None) -> dict:
    X, y, _, _ = mnist_arrays(min(60000, steps * batch))
    sizes = [X.shape[1], *hidden, 10]
    model = Network.from_sizes(sizes, "relu", rng=0)
    fast = (step_cls or FastStep)(model, make_optimizer({"name": "sgd", "lr": 0.01}))
    order = np.random.default_rng(0).permutation(len(X))
    batches = [order[i * batch : (i + 1) * batch] for i in range(len(X) // batch)][:steps]

    def run_steps():
        for idx in batches:
            fast.forward_backward(X[idx], y[idx])
            fast.update()

    # the same matrix products on the arrays the last step used
    fast.forward_backward(X[batches[0]], y[batches[0]])
    buf = fast.buffers(batch)
    dense = [(i, la) for i, la in enumerate(model.layers) if type(la).__name__ == "Dense"]
    deltas = [model.deltas[i] for i, _ in dense]

    def run_matmuls():
        for _ in batches:
            for j, (i, la) in enumerate(dense):
                W = la.params["weight"]
                np.matmul(la.h_prev, W.T, out=buf.out[i])
                np.matmul(deltas[j].T, la.h_prev, out=la.grads["weight"])
                if j > 0:
                    np.matmul(deltas[j], W, out=buf.din[i])

    def run_updates():
        for _ in batches:
            fast.update()

    def timed(fn):
        fn()  # warm-up
        out = []
        for _ in range(repeats):
            t0 = clock()
            fn()
            out.append((clock() - t0) / len(batches))
        return statistics.median(out)

    step, mm, upd = timed(run_steps), timed(run_matmuls), timed(run_updates)
    flops = train_flops(sizes, batch)
    return {
        "sizes": sizes,
        "batch": batch,
        "steps": len(batches),
        "step_ms": 1e3 * step,
        "matmul_ms": 1e3 * mm,
        "update_ms": 1e3 * upd,
        "other_ms": 1e3 * (step - mm - upd),
        "matmul_share": mm / step,
        "update_share": upd / step,
        "other_share": (step - mm - upd) / step,
        "step_gflops": flops / step / 1e9,
        "matmul_gflops": flops / mm / 1e9,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", default="1024,1024", help="hidden widths (default 1024,1024)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=60, help="steps per timed run (default 60)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    p.add_argument(
        "--step",
        choices=["fast", "fused"],
        default="fast",
        help="fast: the bit-exact fast step; fused: SGD folded into the weight-gradient "
        "products (its update is then inside 'step', and 'update' is only what is left)",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    hidden = [int(h) for h in args.hidden.split(",")]
    step_cls = FusedSGDStep if args.step == "fused" else FastStep
    with blas_threads(args.threads):
        r = profile(hidden, args.batch, args.steps, args.repeats, CLOCKS[args.clock], step_cls)
    r.update(threads=args.threads, clock=args.clock, step=args.step)
    if args.json:
        print(json.dumps(r))
        return 0
    net = "-".join(map(str, r["sizes"]))
    print(
        f"{net}, batch {r['batch']}, {args.step} step, {args.threads} thread(s), "
        f"{args.clock} clock: "
        f"step {r['step_ms']:.2f} ms ({r['step_gflops']:.0f} GFLOP/s)"
    )
    for part in ("matmul", "update", "other"):
        print(f"  {part:7s} {r[part + '_ms']:7.2f} ms  {100 * r[part + '_share']:5.1f} %")
    print(f"  matrix products alone: {r['matmul_gflops']:.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
