"""C19 at the tiny budget, and its rule (win/tie/loss with a noise margin) on fed numbers."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def result():
    return run_task("C19", "tiny", [0])


def test_structure(result, check_result):
    check_result(result, "C19")
    S = result["measurements"]["sets"]
    assert set(S) == {"wine", "diabetes"}
    assert S["wine"]["metric"] == "accuracy" and S["diabetes"]["metric"] == "r2"
    assert 0.5 < S["wine"]["boosting"]["mean"] <= 1.0 and 0.5 < S["wine"]["mlp"]["mean"] <= 1.0


def test_outcome_uses_the_spread():
    exp = get("C19")
    assert exp.outcome({"mean": 0.02, "std": 0.001, "n": 3})[0] == "win"
    assert exp.outcome({"mean": 0.02, "std": 0.05, "n": 3})[0] == "tie"
    assert exp.outcome({"mean": -0.02, "std": 0.001, "n": 3})[0] == "loss"
    assert exp.outcome({"mean": 0.003, "std": 0.0, "n": 1})[0] == "tie"  # below the floor


def _fed(m, diffs):
    out = copy.deepcopy(m)
    template = next(iter(out["sets"].values()))
    out["sets"] = {}
    for i, d in enumerate(diffs):
        s = copy.deepcopy(template)
        s["difference"].update(mean=d, std=0.001, n=2)
        out["sets"][f"set{i}"] = s
    return out


def test_rule(result):
    exp = get("C19")
    m = result["measurements"]
    assert exp.judge(_fed(m, [0.05, 0.05, 0.1, 0.0, 0.02])).verdict == "holds"
    assert exp.judge(_fed(m, [0.05, 0.05, 0.0, 0.0, -0.02])).verdict == "partly"
    assert exp.judge(_fed(m, [0.05, -0.05, 0.0, 0.0, -0.02])).verdict == "fails"
