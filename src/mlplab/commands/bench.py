"""``mlplab bench``: the engine against PyTorch and scikit-learn, in one run (see
:mod:`mlplab.bench` for what is timed and how)."""

from __future__ import annotations

import argparse
import json
import math

DESCRIPTION = """\
Measure, in one process with the systems alternated (A B A B …) and medians of repeats:
the epoch time of 784-256-256-10 and 784-1024-1024-10 at batch 128 and 256 (SGD, float32)
for the mlplab engine (its fused SGD step, its bit-exact fast step and its reference step),
PyTorch eager fp32 and bf16 autocast, and scikit-learn's MLPClassifier, with the step's
matrix products alone (the floor of any float32 engine on this BLAS) as one more alternated
case; the engine's GFLOP/s against a measured matrix-multiply peak; the training time to
98.0 % and 98.5 % MNIST test accuracy (mlplab's fast recipe, median of 5 runs; a PyTorch
Adam loop; scikit-learn's defaults); and how the engine's epoch time and memory grow with width and
batch size.  The full run takes about ten minutes; --quick one to two.  Timings are only as
quiet as the machine: the load average before and after is recorded with them.
"""


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time the engine against PyTorch and scikit-learn (epoch, peak, time to 98 %%)",
        description=DESCRIPTION,
    )
    p.add_argument(
        "--quick", action="store_true", help="fewer sizes and repeats, part-epoch timings"
    )
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: seconds
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--out", default=None, metavar="DIR", help="write bench.json, bench.md and scaling.png"
    )
    p.add_argument(
        "--only",
        default=None,
        metavar="SECTIONS",
        help="comma-separated subset of: epoch, peak, tta, scaling (default: all)",
    )
    p.add_argument("--repeats", type=int, default=None, help="rounds of the epoch comparison")
    p.add_argument(
        "--threads", type=int, default=None, help="BLAS/OpenMP/torch threads (default: all CPUs)"
    )
    p.add_argument(
        "--clock",
        default=None,
        choices=["wall", "cpu"],
        help="wall time (default) or this process's CPU time: with --threads 1 on a busy "
        "machine, CPU time compares the work of each system while other jobs run",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from mlplab import bench
    from mlplab.io import atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_dir

    preset = "smoke" if args.smoke else "quick" if args.quick else "full"
    sections = None
    if args.only is not None:
        sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    settings = bench.settings_for(
        preset, sections=sections, repeats=args.repeats, threads=args.threads, clock=args.clock
    )
    out_dir = ensure_dir(args.out) if args.out is not None else None
    err = Console(stderr=True, highlight=False)
    load = bench.loadavg()
    threads = settings.threads or bench.default_threads()
    if load is not None and load[0] > 0.5 * threads:
        err.print(
            f"[yellow]warning:[/] load average {load[0]:.2f} on {threads} CPU(s): other work "
            "is running, wall-clock timings will be slow and noisy (--threads 1 --clock cpu "
            "compares the work done instead)"
        )
    if err.is_terminal:
        with err.status("benchmarking …") as status:
            result = bench.run_bench(settings, progress=lambda msg: status.update(msg))
    else:  # a log file: one line per measurement
        result = bench.run_bench(settings, progress=lambda msg: err.print(msg, soft_wrap=True))
    if out_dir is not None:
        atomic_write_json(out_dir / "bench.json", _jsonable(result))
        atomic_write_text(out_dir / "bench.md", bench.render_markdown(result))
        if "scaling" in result:
            atomic_write_bytes(out_dir / "scaling.png", bench.plot_scaling(result))
    if args.json:
        print(json.dumps(_jsonable(result)))
    else:
        from rich.markdown import Markdown

        Console().print(Markdown(bench.render_markdown(result)))
        if out_dir is not None:
            err.print(
                f"wrote {out_dir}/bench.json, bench.md"
                + (", scaling.png" if "scaling" in result else "")
            )
    return 0


def _jsonable(x):
    """Non-finite floats become None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
