"""benchmarks/kernel_timings.py runs and reports every kernel against its replaced form."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlplab.core import blas

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel_timings.py"


@pytest.mark.skipif(blas.blas_issue() is not None, reason="NumPy's BLAS is not callable here")
def test_kernel_timings_reports_every_pair():
    argv = ["--batch", "8", "--width", "16", "--repeats", "1", "--calls", "2", "--json"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out["kernels"]) == {
        "relu", "relu_backward", "softmax_ce", "accuracy", "gemm_plan", "dense_sgd"
    }  # fmt: skip
    for v in out["kernels"].values():
        assert v["new_us"] > 0 and v["old_us"] > 0
