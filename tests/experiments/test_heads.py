"""C20 and C21 at the tiny budget, the GLM data generator, and the rules on fed numbers."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.heads import GLM_HEADS, _nll, glm_data
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C20", "C21")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m20 = results["C20"]["measurements"]
    rules = m20["models"]["relu"]["rules"]
    assert set(rules) == {"riemann_trapezoid", "riemann_right"}
    assert set(rules["riemann_right"]) == {"20", "100"}
    assert len(m20["maps"]) == 4 and len(m20["maps"][0]["attributions"]) == 64
    assert len(results["C20"]["figures"]) == 2
    m21 = results["C21"]["measurements"]
    assert set(m21["recovery"]) == set(GLM_HEADS)
    assert len(m21["heldout_nll"]) == 4


def test_glm_data_shapes_and_distributions():
    rng = np.random.default_rng(0)
    for head, (_, k) in GLM_HEADS.items():
        d = glm_data(head, 200, 3, rng)
        assert d["X"].shape == (200, 3) and d["W"].shape == (k, 3) and d["b"].shape == (k,)
    soft = glm_data("softmax_ce", 500, 3, rng)
    assert set(np.unique(soft["y"])) <= {0, 1, 2}
    assert np.allclose(soft["W"].sum(axis=0), 0)  # centred over the classes
    counts = glm_data("exp_poisson", 500, 3, rng)["y"]
    assert np.all(counts >= 0) and np.all(counts == np.round(counts))
    # the NLL prefers the true mean
    y = rng.poisson(3.0, size=2000).astype(float)
    assert _nll("poisson", np.full(2000, 3.0), y) < _nll("poisson", np.full(2000, 2.0), y)


def test_c20_rule(results):
    exp = get("C20")
    m = copy.deepcopy(results["C20"]["measurements"])
    last = m["models"]["relu"]["rules"]["riemann_right"]["100"]
    last["share_within_tol"] = 0.95
    assert exp.judge(m).verdict == "partly"
    last["share_within_tol"] = 0.5
    assert exp.judge(m).verdict == "fails"
    last["share_within_tol"] = 1.0
    assert exp.judge(m).verdict == "holds"


def test_c21_rule(results):
    exp = get("C21")
    m = copy.deepcopy(results["C21"]["measurements"])
    for h in m["recovery"]:
        m["recovery"][h] = stat([exp.TOL])  # exactly on the tolerance: recovered
    for v in m["heldout_nll"].values():
        v["right"], v["wrong"] = stat([1.0, 1.0, 1.0]), stat([1.1, 1.1, 1.1])
    assert exp.judge(m).verdict == "holds"
    # the wrong head is worse on average, but the paired differences are −0.2, 0, +0.5
    m["heldout_nll"]["identity_mae data"]["wrong"] = stat([0.8, 1.0, 1.5])
    assert exp.judge(m).verdict == "partly"
    for h in m["recovery"]:
        m["recovery"][h] = stat([0.5])
    # 3 of 10 true: fewer than half fails
    assert exp.judge(m).verdict == "fails"
    assert "fewer than half" in exp.rule
