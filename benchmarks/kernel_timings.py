"""Each fast kernel against the NumPy form it replaces, on one batch: microseconds per call,
median of ``--repeats`` interleaved timings in one process.

* ``relu``: ``ReLU.f_into`` against a buffer of zeros vs ``np.maximum(z, 0)`` into a buffer;
* ``relu_backward``: ``ReLU.df_mul_into`` vs the reference ``δ ⊙ φ′(z)``;
* ``softmax_ce``: ``SoftmaxCE.loss_and_delta_into`` vs the reference ``loss`` + ``delta``;
* ``accuracy``: ``batch_accuracy`` (``count_nonzero``) vs ``np.mean(argmax == y)``;
* ``gemm_plan``: the cost of calling BLAS alone — a planned ``GemmTN`` call vs
  ``gemm_tn_update`` preparing its arguments, both with α = 0 (nothing to compute);
* ``dense_sgd``: ``Dense.backward_sgd_into`` (update inside the GEMM) vs ``backward_into``
  followed by ``SGD.update_into`` of weight and bias.

Usage::

    python benchmarks/kernel_timings.py --batch 128 --width 256 [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from mlplab.bench import blas_threads
from mlplab.core import blas
from mlplab.core.activations import ReLU
from mlplab.core.layers import Dense
from mlplab.core.losses import SoftmaxCE
from mlplab.core.optim import SGD
from mlplab.core.steps import batch_accuracy


def _per_call(fn, calls: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def pairs(n: int, width: int, seed: int = 0) -> dict:
    """``{name: (new, old)}``: the kernel and the form it replaces, as argument-free calls."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, width), dtype=np.float32)
    d = rng.standard_normal((n, width), dtype=np.float32)
    out, zeros, mask = np.empty_like(z), np.zeros_like(z), np.empty(z.shape, bool)
    relu = ReLU()
    logits = rng.standard_normal((n, 10), dtype=np.float32)
    y = rng.integers(0, 10, n)
    head = SoftmaxCE()
    hbuf = head.fast_buffers(n, 10, np.float32)
    W = rng.standard_normal((width, width), dtype=np.float32)
    plan = blas.GemmTN(W, d, z)
    dense = Dense(width, width, rng=rng)
    dense._alloc_grads()
    dense.h_prev = z
    dbuf = dense.fast_buffers(n, width, np.float32, True)
    sgd, scratch = SGD(lr=1e-9), {}  # a tiny rate: the weights barely move over the calls

    def dense_exact():
        dense.backward_into(d, dbuf, True)
        for k in ("weight", "bias"):
            sgd.update_into(k, dense.params[k], dense.grads[k], scratch)

    return {
        "relu": (
            lambda: relu.f_into(z, out, zeros),
            lambda: np.maximum(z, 0, out=out),
        ),
        "relu_backward": (
            lambda: relu.df_mul_into(z, d, mask, out),
            lambda: d * relu.df(z),
        ),
        "softmax_ce": (
            lambda: head.loss_and_delta_into(logits, y, hbuf),
            lambda: (head.loss(logits, y), head.delta(logits, y)),
        ),
        "accuracy": (
            lambda: batch_accuracy(head, logits, y),
            lambda: float(np.mean(logits.argmax(1) == y)),
        ),
        "gemm_plan": (
            lambda: plan(0.0),  # α = 0, β = 1: BLAS returns at once, only the call is timed
            lambda: blas.gemm_tn_update(W, d, z, 0.0),
        ),
        "dense_sgd": (
            lambda: dense.backward_sgd_into(d, dbuf, True, 1e-9),
            dense_exact,
        ),
    }


def measure(n: int, width: int, repeats: int, calls: int) -> dict:
    """Median microseconds per call of each kernel (``new``) and its old form (``old``)."""
    if blas.blas_issue() is not None:
        raise SystemExit(f"NumPy's BLAS cannot be called: {blas.blas_issue()}")
    out = {}
    for name, (new, old) in pairs(n, width).items():
        t_new, t_old = [], []
        for _ in range(repeats):  # interleaved: drift of the machine hits both alike
            t_new.append(_per_call(new, calls))
            t_old.append(_per_call(old, calls))
        out[name] = {"new_us": statistics.median(t_new), "old_us": statistics.median(t_old)}
    return out


def main(argv=None) -> int:
    """Command line: a table (or JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=500, help="calls per timing (default 500)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with blas_threads(args.threads):
        r = measure(args.batch, args.width, args.repeats, args.calls)
    if args.json:
        print(json.dumps({"batch": args.batch, "width": args.width, "kernels": r}))
        return 0
    print(f"batch {args.batch}, width {args.width}, {args.threads} BLAS thread(s): µs per call")
    for name, v in r.items():
        print(f"  {name:14s} kernel {v['new_us']:8.1f}   replaced form {v['old_us']:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
