"""C08 and C09 at the tiny budget (MNIST subsets), and their rules on fed measurements."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task

ACTS = ("sigmoid", "tanh", "relu", "gelu")


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C08", "C09")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m8 = results["C08"]["measurements"]
    assert set(m8["test_accuracy"]) == set(ACTS) and m8["n_test"] == 1000
    assert all(len(m8["curves"][a][0]) > 1 for a in ACTS)
    m9 = results["C09"]["measurements"]
    assert set(m9["inits"]["torch_default"]) == {"4", "8"}
    assert 2.2 < m9["prior_entropy"] < 2.31


def test_c08_rule(results):
    exp = get("C08")
    m = copy.deepcopy(results["C08"]["measurements"])
    for spread, verdict in ((0.015, "holds"), (0.04, "partly"), (0.10, "fails")):
        for i, a in enumerate(ACTS):
            m["test_accuracy"][a]["mean"] = 0.95 - spread * (i == 0)
        assert exp.judge(m).verdict == verdict


def _fed(m, losses):
    out = copy.deepcopy(m)
    for per in out["inits"]["torch_default"].values():
        for a in ACTS:
            per[a]["final_train_loss"]["mean"] = losses[a]
    return out


def test_c09_rule(results):
    exp = get("C09")
    m = results["C09"]["measurements"]
    as_text = {"sigmoid": 2.3, "tanh": 2.25, "relu": 0.2, "gelu": 0.3}
    assert exp.judge(_fed(m, as_text)).verdict == "holds"
    tanh_trains = {**as_text, "tanh": 0.3}
    assert exp.judge(_fed(m, tanh_trains)).verdict == "partly"
    reversed_ = {"sigmoid": 0.2, "tanh": 0.2, "relu": 2.3, "gelu": 2.3}
    assert exp.judge(_fed(m, reversed_)).verdict == "fails"
    assert exp.outcome(2.3, float("nan")) == "stalled"
    assert exp.outcome(2.3, 1.5) == "slow"
