"""benchmarks/step_phases.py and benchmarks/fused_tolerance.py run and report what they say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlplab.core import blas

ROOT = Path(__file__).resolve().parents[2] / "benchmarks"
pytestmark = pytest.mark.skipif(blas.blas_issue() is not None, reason="no callable NumPy BLAS")


def _run(script, *argv):
    done = subprocess.run([sys.executable, str(ROOT / script), *argv, "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_step_phases_times_every_layer_and_the_gather():
    out = _run("step_phases.py", "--hidden", "16", "--batch", "256", "--epochs", "1", "--gather")
    ph = out["phases_us"]
    for key in ("gather", "forward 0 Dense", "backward 2 Dense", "loss and delta", "step"):
        assert ph[key] > 0, key
    assert ph["step"] >= sum(v for k, v in ph.items() if k != "step") * 0.9
    assert len(out["gather"]["per_batch_ms"]) == len(out["gather"]["one_copy_ms"]) == 1


def test_fused_tolerance_reports_both_distances():
    out = _run("fused_tolerance.py", "--hidden", "8", "--rows", "1024")
    for r in out.values():
        assert 0 <= r["fused_vs_exact"] < 1e-2 and r["exact_nudged_by_one_ulp"] >= 0
        assert abs(r["loss"]["exact"] - r["loss"]["fused"]) < 1e-3
