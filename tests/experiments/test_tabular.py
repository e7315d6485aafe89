"""C19 at the tiny budget, and its rule (win/tie/loss with a noise margin) on fed numbers."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.runner import run_task
from mlplab.experiments.tabular import BOOST_GRID, MLP_GRID, REAL_SETS


@pytest.fixture(scope="module")
def result():
    return run_task("C19", "tiny", [0])


def test_structure(result, check_result):
    check_result(result, "C19")
    S = result["measurements"]["sets"]
    assert set(S) == {"iris", "diabetes"}
    assert S["iris"]["metric"] == "accuracy" and S["diabetes"]["metric"] == "r2"
    assert S["iris"]["kind"] == "real"
    assert 0.5 < S["iris"]["boosting"]["mean"] <= 1.0 and 0.5 < S["iris"]["mlp"]["mean"] <= 1.0
    assert "iris" in result["evidence"] and "diabetes" in result["evidence"]


def test_same_tuning_budget_and_every_bundled_set():
    assert len(MLP_GRID) == len(BOOST_GRID)
    assert get("C19").settings("full")["grid"] == len(MLP_GRID)
    assert set(REAL_SETS) <= set(get("C19").settings("full")["sets"])
    from sklearn import datasets

    for loader, _ in REAL_SETS.values():
        assert hasattr(datasets, loader)


def _set(diffs, kind="real"):
    mlp = [0.5] * len(diffs)
    return {
        "kind": kind,
        "favours": "",
        "metric": "accuracy",
        "boosting": stat([0.5 + d for d in diffs]),
        "mlp": stat(mlp),
        "difference": stat(list(diffs)),
        "n_train_val_test_features": [10, 5, 5, 3],
    }


def test_outcome_uses_the_paired_spread():
    exp = get("C19")
    assert exp.outcome(_set([0.02, 0.021, 0.019]))[0] == "win"
    assert exp.outcome(_set([0.1, -0.05, 0.01]))[0] == "tie"
    assert exp.outcome(_set([-0.02, -0.021, -0.019]))[0] == "loss"
    # the floor: a difference of exactly MIN_NOISE is a tie, just above it a win
    assert exp.outcome(_set([exp.MIN_NOISE]))[0] == "tie"
    assert exp.outcome(_set([exp.MIN_NOISE * 1.5]))[0] == "win"


def _fed(m, diffs, synthetic=()):
    out = copy.deepcopy(m)
    out["sets"] = {f"set{i}": _set([d, d]) for i, d in enumerate(diffs)}
    out["sets"].update({f"syn{i}": _set([d, d], "synthetic") for i, d in enumerate(synthetic)})
    return out


def test_rule_counts_real_sets_only(result):
    exp = get("C19")
    m = result["measurements"]
    # two thirds exactly: 2 wins of 3 holds (at least two thirds)
    assert exp.judge(_fed(m, [0.05, 0.05, 0.0])).verdict == "holds"
    assert exp.judge(_fed(m, [0.05, 0.05, 0.1, 0.0, 0.02])).verdict == "holds"
    assert exp.judge(_fed(m, [0.05, 0.05, 0.0, 0.0, -0.02])).verdict == "partly"
    assert exp.judge(_fed(m, [0.05, -0.05, 0.0, 0.0, -0.02])).verdict == "fails"
    # synthetic wins do not count
    assert exp.judge(_fed(m, [0.05, -0.05], [0.3, 0.3, 0.3])).verdict == "fails"
