"""C01–C04 and C22 at the tiny budget, and their rules fed measurements that must pass and fail."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task

IDS = ("C01", "C02", "C03", "C04", "C22")


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in IDS}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m1 = results["C01"]["measurements"]
    assert m1["n_sets"] == len(m1["runs"]) == 2 * 2 * 2
    assert all(r["bound"] > 0 for r in m1["runs"])
    m3 = results["C03"]["measurements"]
    assert m3["hand_built"]["exact"] and len(m3["hand_built"]["truth_table"]) == 4
    assert set(m3["trained"]) == {"tanh", "relu"} and set(m3["trained"]["tanh"]) == {"2", "8"}
    assert len(results["C03"]["figures"]) == 2
    m4 = results["C04"]["measurements"]
    assert m4["best_linear_accuracy"] == 0.75 and m4["separable_labellings"] == 14


def test_measured_facts(results):
    # theorems, not tendencies: these must come out this way on any seed
    assert results["C01"]["verdict"] == "holds"
    assert results["C02"]["verdict"] == "holds"
    assert results["C04"]["verdict"] == "holds"
    assert results["C22"]["verdict"] == "holds"
    f = results["C02"]["measurements"]["fixed_order"]
    assert f["cycle_detected"] and min(f["mistakes_per_epoch"]) >= 1


def test_c01_rule(results):
    exp = get("C01")
    m = results["C01"]["measurements"]
    assert exp.judge(m).verdict == "holds"
    over = copy.deepcopy(m)
    over["runs"][0]["mistakes"] = int(over["runs"][0]["bound"]) + 1
    assert exp.judge(over).verdict == "fails"
    stuck = copy.deepcopy(m)
    stuck["runs"][-1]["converged_shuffled"] = False
    assert exp.judge(stuck).verdict == "fails"


def test_c02_rule(results):
    exp = get("C02")
    m = results["C02"]["measurements"]
    no_cycle = copy.deepcopy(m)
    no_cycle["fixed_order"]["cycle_detected"] = False
    assert exp.judge(no_cycle).verdict == "partly"
    solved = copy.deepcopy(m)
    solved["shuffled_converged"] = 1
    assert exp.judge(solved).verdict == "fails"
    separable = copy.deepcopy(m)
    separable["lp_separable"] = True
    assert exp.judge(separable).verdict == "fails"


def _rates(m, values):
    out = copy.deepcopy(m)
    for a, per in out["trained"].items():
        for w in per:
            s = per[w]["success_rate"]
            s["mean"] = s["max"] = values[a][w]
    return out


def test_c03_rule(results):
    exp = get("C03")
    m = results["C03"]["measurements"]
    good = {"tanh": {"2": 0.5, "8": 1.0}, "relu": {"2": 0.1, "8": 0.95}}
    assert exp.judge(_rates(m, good)).verdict == "holds"
    weak = {"tanh": {"2": 0.5, "8": 1.0}, "relu": {"2": 0.0, "8": 0.6}}
    assert exp.judge(_rates(m, weak)).verdict == "partly"
    never = {"tanh": {"2": 0.0, "8": 0.0}, "relu": {"2": 0.0, "8": 0.0}}
    assert exp.judge(_rates(m, never)).verdict == "fails"
    wrong_table = _rates(m, good)
    wrong_table["hand_built"]["exact"] = False
    assert exp.judge(wrong_table).verdict == "fails"


def test_c04_rule(results):
    exp = get("C04")
    m = results["C04"]["measurements"]
    drift = copy.deepcopy(m)
    drift["relative_deviation"]["4"]["max"] = 1e-6
    assert exp.judge(drift).verdict == "partly"
    drift["best_linear_accuracy"] = 1.0
    assert exp.judge(drift).verdict == "fails"


def test_c22_rule(results):
    exp = get("C22")
    m = results["C22"]["measurements"]
    loose = copy.deepcopy(m)
    loose["cases"]["l2_separable"]["2"]["max"] = 1e-4
    assert exp.judge(loose).verdict == "partly"
    loose["cases"]["no_penalty"]["5"]["max"] = 0.2
    assert exp.judge(loose).verdict == "fails"
    growth = m["separable_growth"]
    assert growth[-1]["norm_no_penalty"] > growth[0]["norm_no_penalty"]
