"""C05, C06, C07 at the tiny budget, and their rules fed measurements that must pass and fail."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C05", "C06", "C07")}


def test_results_have_the_ledger_structure(results):
    for cid, r in results.items():
        assert r["error"] is None, r.get("traceback")
        assert r["id"] == cid and r["profile"] == "tiny" and r["seeds"] == [0]
        assert r["verdict"] in ("holds", "partly", "fails")
        assert r["rule"] and r["evidence"] and r["rows"]
        assert r["figures"] and all(f["png_base64"] for f in r["figures"])
        assert r["seconds"] > 0 and r["command"].startswith(f"mlplab reproduce --only {cid}")
        # the verdict is the judge applied to the stored measurements
        assert tuple(get(cid).judge(r["measurements"])) == (r["verdict"], r["evidence"])


def test_c05_delta_is_residual_for_canonical_heads(results):
    m = results["C05"]["measurements"]
    assert results["C05"]["verdict"] == "holds"
    assert m["heads"]["softmax_ce"]["torch"]["max"] < 1e-12
    assert m["heads"]["identity_mae"]["engine"]["min"] > 0.01
    exp = get("C05")
    bad = copy.deepcopy(m)
    bad["heads"]["softmax_ce"]["engine"]["max"] = 1e-3
    assert exp.judge(bad).verdict == "fails"
    partly = copy.deepcopy(m)
    partly["heads"]["exp_poisson"]["torch"]["max"] = 1e-6
    assert exp.judge(partly).verdict == "partly"
    blind = copy.deepcopy(m)
    blind["heads"]["identity_mae"]["engine"]["min"] = 0.0
    assert exp.judge(blind).verdict == "partly"


def test_c06_backprop_matches_autograd(results):
    m = results["C06"]["measurements"]
    assert results["C06"]["verdict"] == "holds"
    assert m["grid"]["networks_checked"] == 3 * 2 * 2
    exp = get("C06")
    noisy = copy.deepcopy(m)
    noisy["grid"]["max_rel_err_torch"]["max"] = 1e-6
    assert exp.judge(noisy).verdict == "partly"
    wrong = copy.deepcopy(m)
    wrong["suite"]["max_rel_err_torch"]["max"] = 0.3
    assert exp.judge(wrong).verdict == "fails"


def test_c07_tanh_wording_makes_it_partly(results):
    m = results["C07"]["measurements"]
    assert m["sigmoid"]["max_derivative"] == pytest.approx(0.25, abs=1e-12)
    assert m["tanh"]["max_derivative"] == pytest.approx(1.0, abs=1e-12)
    assert m["relu"]["derivative_values"] == [0.0, 1.0]
    assert m["gelu_tanh"]["max_abs_error"] < 1e-3
    assert results["C07"]["verdict"] == "partly"
    exp = get("C07")
    as_text_says = copy.deepcopy(m)
    as_text_says["tanh"]["max_derivative"] = 0.25
    assert exp.judge(as_text_says).verdict == "holds"
    worse = copy.deepcopy(m)
    worse["gelu_tanh"]["max_abs_error"] = 0.1
    worse["relu"]["derivative_values"] = [0.0, 0.5, 1.0]
    assert exp.judge(worse).verdict == "fails"


def test_c06_lists_networks_past_the_poisson_cap(results):
    exp = get("C06")
    m = copy.deepcopy(results["C06"]["measurements"])
    m["grid"]["set_aside_poisson_cap"] = [
        {
            "activation": "square",
            "layer_type": "dropout",
            "seed": 0,
            "max_logit": 143.0,
            "rel_err_torch": 1.0,
        }
    ]
    verdict, evidence = exp.judge(m)
    assert verdict == "holds" and "square/dropout, max logit 143" in evidence
