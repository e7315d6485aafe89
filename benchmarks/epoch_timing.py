"""What the epoch benchmarks (``backends_epoch.py``, ``engine_epoch.py``) share: the alternating
timing loop, the per-system summary, the machine description and the command line's common
part.  Imported by those scripts as ``epoch_timing`` (they run with ``benchmarks/`` on the path)."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable

import numpy as np


def alternate(cases: dict[str, Callable[[], tuple]], repeats: int) -> tuple[dict, dict]:
    """Run every case once per repeat, in the given order (A B A B …), so that a change in
    machine load hits all alike.

    Each case returns ``(seconds, result)``.  Returns ``({name: [seconds per repeat]},
    {name: result of its last run})``.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    last: dict = {}
    for _ in range(repeats):
        for name, case in cases.items():
            sec, last[name] = case()
            times[name].append(sec)
    return times, last


def summary(times: list[float], **extra) -> dict:
    """``median_s``, ``min_s``, ``max_s``, ``runs_s`` of a list of seconds, then ``extra``."""
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs_s": times,
        **extra,
    }


def machine(torch, **extra) -> dict:
    """Cores, torch threads, ``extra`` (e.g. the BLAS libraries), then the software versions."""
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        **extra,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def add_size_args(p, unit: str) -> None:
    """``--json``, ``--rows``, ``--repeats`` (timed epochs per ``unit``), ``--batch-size``."""
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rows", type=int, default=60000, help="training rows (default 60000)")
    p.add_argument("--repeats", type=int, default=5, help=f"timed epochs per {unit} (default 5)")
    p.add_argument("--batch-size", type=int, default=128)


def add_run_args(p) -> None:
    """``--seed`` and ``--threads`` (torch threads, default: the machine's cores)."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: cores)"
    )


def check_args(p, args) -> None:
    """Exit with a usage error unless rows, repeats, batch size and threads are ≥ 1."""
    for field in ("rows", "repeats", "batch_size", "threads"):
        if getattr(args, field) < 1:
            p.error(f"--{field.replace('_', '-')} must be >= 1")


def emit(rep: dict, as_json: bool, print_table: Callable[[dict], None]) -> int:
    """Print the report as one JSON object or as the script's table; returns 0."""
    if as_json:
        print(json.dumps(rep))
    else:
        print_table(rep)
    return 0
