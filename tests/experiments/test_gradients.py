"""C10, C14, C18 at the tiny budget, and their rules fed measurements that must pass and fail."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.experiments import get
from mlplab.experiments._common import loglinear_factor
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C10", "C14", "C18")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)


def test_loglinear_factor_recovers_a_geometric_decay():
    norms = 3.0 * 0.25 ** np.arange(8, 0, -1)  # input side smallest: shrinks going back
    fit = loglinear_factor(norms)
    assert fit["factor"] == pytest.approx(0.25) and fit["r2"] == pytest.approx(1.0)
    assert loglinear_factor([1.0, 0.0, 2.0])["factor"] is None


def test_c10_sigmoid_factor_near_quarter(results):
    m = results["C10"]["measurements"]
    assert 0.15 < m["factor_init"]["mean"] < 0.3  # σ′ ≤ 0.25 with Xavier weights
    exp = get("C10")
    fed = copy.deepcopy(m)
    fed["factor_init"]["mean"], fed["factor_trained"]["mean"] = 0.25, 0.3
    assert exp.judge(fed).verdict == "holds"
    fed["factor_trained"]["mean"] = 0.7
    assert exp.judge(fed).verdict == "partly"
    fed["factor_init"]["mean"] = 0.95
    assert exp.judge(fed).verdict == "fails"


def test_c14_relu_passes_delta_exactly(results):
    m = results["C14"]["measurements"]
    assert m["relu_positive_max_rel_dev"]["max"] == 0.0
    assert m["relu_negative_max_abs_delta"]["max"] == 0.0
    exp = get("C14")
    fed = copy.deepcopy(m)
    fed["factor"]["relu"]["mean"] = 1.0
    assert exp.judge(fed).verdict == "holds"
    fed["factor"]["relu"]["mean"] = 0.5
    assert exp.judge(fed).verdict == "partly"
    fed["relu_positive_max_rel_dev"]["max"] = 0.3
    assert exp.judge(fed).verdict == "fails"


def test_c18_rule(results):
    m = results["C18"]["measurements"]
    exp = get("C18")
    assert set(m["runs"]) == {f"{a}/{i}" for a in exp.ACTS for i in exp.INITS}

    def set_run(fed, key, h, d, final):
        r = fed["runs"][key]
        r["h_factor"]["mean"], r["delta_factor"]["mean"] = h, d
        r["final_loss"].update(mean=final, nonfinite=0)

    good = copy.deepcopy(m)
    set_run(good, "tanh/normal", 1.0, 3.0, 2.3)
    set_run(good, "relu/normal", 8.0, 8.0, 2.3)
    set_run(good, "tanh/xavier_uniform", 1.0, 0.95, 0.8)
    set_run(good, "relu/he_normal", 1.0, 1.0, 0.7)
    assert exp.judge(good).verdict == "holds"
    fixed_normal = copy.deepcopy(good)
    set_run(fixed_normal, "tanh/normal", 1.0, 1.0, 0.8)
    set_run(fixed_normal, "relu/normal", 1.0, 1.0, 0.8)
    assert exp.judge(fixed_normal).verdict == "partly"
    set_run(fixed_normal, "relu/he_normal", 1.0, 1.0, 2.3)
    assert exp.judge(fixed_normal).verdict == "fails"
