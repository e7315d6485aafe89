"""C11 at the tiny budget, and its rule on measurements that must pass and fail."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.runner import run_task

WIDTHS = ("8", "32", "128", "512", "2048")


@pytest.fixture(scope="module")
def result():
    return run_task("C11", "tiny", [0])


def test_structure(result, check_result):
    check_result(result, "C11")
    m = result["measurements"]
    assert set(m["activations"]) == {"tanh", "relu"}
    W = m["activations"]["relu"]
    assert set(W) == set(WIDTHS)
    assert m["n_points"] == 1024 and len(m["x"]) == len(W["8"]["fit"])
    assert W["2048"]["parameters"] == 3 * 2048 + 1
    assert len(result["figures"]) == 2
    assert len(result["cells"]) == 2 * 5
    assert "tanh (" in result["evidence"] and "relu (" in result["evidence"]


def _fed(m, per_act):
    """``per_act``: activation → (mse per width, max error per width), 3 seeds with a small
    spread (so the paired log-MSE steps have a margin)."""
    out = copy.deepcopy(m)
    out["activations"] = {}
    for a, (mse, mx) in per_act.items():
        out["activations"][a] = {
            w: {
                "mse": stat([e * 0.99, e, e * 1.01]),
                "max_error": stat([x, x, x]),
                "parameters": 3 * int(w) + 1,
                "fit": [0.0],
            }
            for w, e, x in zip(WIDTHS, mse, mx)
        }
    return out


AS_TEXT = ([0.2, 0.05, 1e-4, 5e-5, 1e-5], [1.0, 0.4, 0.05, 0.03, 0.02])
NO_GAIN = ([0.2, 0.05, 1e-4, 1e-4, 1e-4], [1.0, 0.4, 0.05, 0.06, 0.07])
ALL_BAD = ([0.2, 0.3, 0.2, 0.2, 0.2], [0.3, 0.4, 0.5, 0.5, 0.5])


def test_rule_per_activation_and_overall(result):
    exp = get("C11")
    m = result["measurements"]
    assert exp.judge(_fed(m, {"relu": AS_TEXT, "tanh": AS_TEXT})).verdict == "holds"
    assert exp.judge(_fed(m, {"relu": AS_TEXT, "tanh": NO_GAIN})).verdict == "partly"
    assert exp.judge(_fed(m, {"relu": ALL_BAD, "tanh": ALL_BAD})).verdict == "fails"
    assert exp.judge(_fed(m, {"relu": AS_TEXT, "tanh": ALL_BAD})).verdict == "partly"


def test_rule_boundaries(result):
    exp = get("C11")
    m = result["measurements"]
    # max error exactly VISIBLE counts as not visible; exactly MISS counts as a miss
    edge = (AS_TEXT[0], [exp.MISS, 0.4, exp.VISIBLE, exp.VISIBLE, exp.VISIBLE])
    assert exp.judge(_fed(m, {"relu": edge})).verdict == "holds"
    # just above VISIBLE at 128 breaks part (c); just below MISS breaks part (a): 2/4 partly
    worse = (AS_TEXT[0], [exp.MISS - 1e-9, 0.4, exp.VISIBLE + 1e-9, 0.05, 0.05])
    assert exp.judge(_fed(m, {"relu": worse})).verdict == "partly"
    # one part of four true is 'at most 1': fails
    one = (ALL_BAD[0], [1.0, 0.05, 0.5, 0.5, 0.5])
    assert exp.judge(_fed(m, {"relu": one})).verdict == "fails"
