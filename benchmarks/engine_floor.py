"""The engine's epoch over its matrix products alone, measured as interleaved ratios.

One process alternates, ``--rounds`` times: one engine epoch (``Trainer.fit`` on ``--rows``
MNIST rows, plain SGD, float32, ReLU, softmax + cross-entropy, the step given by ``--step``)
and the same number of steps' matrix products alone (``H Wᵀ``, ``δᵀ H``, ``δ W`` on arrays of
the step's shapes: :func:`mlplab.bench.epochs.products_runner`, the bench's floor).  Each round
gives a ratio engine / products; the median ratio is reported.  Because both halves of a round
run back to back, a change in machine load hits them alike — the ratio means something on a
shared machine where wall times do not (use ``--clock cpu``).

    python benchmarks/engine_floor.py --hidden 256,256 --batch 128 --threads 1 --clock cpu
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

from mlplab.bench import CLOCKS, blas_threads, mnist_arrays
from mlplab.bench.epochs import products_runner
from mlplab.core.network import Network
from mlplab.core.train import TrainConfig, Trainer


def measure(hidden, batch: int, rows: int, rounds: int, clock, fast=True) -> dict:
    """Interleaved engine epochs and products-alone runs; the ratio per round and its median."""
    X, y, _, _ = mnist_arrays(rows)
    sizes = [X.shape[1], *hidden, 10]
    steps = math.ceil(len(X) / batch)
    products = products_runner(sizes, batch, len(X), clock=clock)  # returns its seconds

    def engine():
        model = Network.from_sizes(sizes, "relu", rng=0)
        trainer = Trainer(
            model,
            {"name": "sgd", "lr": 0.01},
            config=TrainConfig(epochs=1, batch_size=batch),
            rng=0,
            fast=fast,
        )
        t0 = clock()
        trainer.fit(X, y)
        return clock() - t0

    engine()  # warm-up of both
    products()
    ratios, eng, prod = [], [], []
    for _ in range(rounds):
        e, p = engine(), products()
        eng.append(e)
        prod.append(p)
        ratios.append(e / p)
    return {
        "sizes": sizes,
        "batch": batch,
        "rows": len(X),
        "steps": steps,
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratios": ratios,
        "engine_ms_per_step_median": 1e3 * statistics.median(eng) / steps,
        "products_ms_per_step_median": 1e3 * statistics.median(prod) / steps,
    }


def main(argv=None) -> int:
    """Command line: print the median ratio (or JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", default="256,256", help="hidden widths (default 256,256)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rows", type=int, default=6400, help="training rows per epoch (default 6400)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    p.add_argument(
        "--step", choices=["fast", "fused", "reference"], default="fast", help="the engine's step"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    fast = {"fast": True, "fused": "fused", "reference": False}[args.step]
    hidden = [int(h) for h in args.hidden.split(",")]
    with blas_threads(args.threads):
        r = measure(hidden, args.batch, args.rows, args.rounds, CLOCKS[args.clock], fast)
    r.update(threads=args.threads, clock=args.clock, step=args.step)
    if args.json:
        print(json.dumps(r))
        return 0
    net = "-".join(map(str, r["sizes"]))
    print(
        f"{net}, batch {r['batch']}, {args.step} step, {args.threads} thread(s), "
        f"{args.clock} clock, "
        f"{r['rounds']} rounds: engine / products = {r['ratio_median']:.3f} "
        f"(min {r['ratio_min']:.3f}); per step {r['engine_ms_per_step_median']:.2f} ms vs "
        f"{r['products_ms_per_step_median']:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
