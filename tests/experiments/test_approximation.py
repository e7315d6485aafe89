"""C11 at the tiny budget, and its rule on measurements that must pass and fail."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def result():
    return run_task("C11", "tiny", [0])


def test_structure(result, check_result):
    check_result(result, "C11")
    m = result["measurements"]
    assert set(m["widths"]) == {"8", "32", "128", "512", "2048"}
    assert m["n_points"] == 1024 and len(m["x"]) == len(m["widths"]["8"]["fit"])
    assert m["widths"]["2048"]["parameters"] == 3 * 2048 + 1
    assert len(result["figures"]) == 2


def _fed(m, mse, mx):
    out = copy.deepcopy(m)
    for w, a, b in zip(("8", "32", "128", "512", "2048"), mse, mx):
        out["widths"][w]["mse"]["mean"] = a
        out["widths"][w]["max_error"]["mean"] = b
    return out


def test_rule(result):
    exp = get("C11")
    m = result["measurements"]
    as_text = _fed(m, [0.2, 0.05, 1e-4, 5e-5, 1e-5], [1.0, 0.4, 0.05, 0.03, 0.02])
    assert exp.judge(as_text).verdict == "holds"
    no_gain = _fed(m, [0.2, 0.05, 1e-4, 2e-4, 3e-4], [1.0, 0.4, 0.05, 0.06, 0.07])
    assert exp.judge(no_gain).verdict == "partly"
    all_bad = _fed(m, [0.2, 0.3, 0.2, 0.2, 0.2], [0.3, 0.4, 0.5, 0.5, 0.5])
    assert exp.judge(all_bad).verdict == "fails"
