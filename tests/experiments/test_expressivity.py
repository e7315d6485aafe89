"""C12 and C13 at the tiny budget, the sawtooth constructions, and the rules on fed numbers."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.expressivity import deep_sawtooth, shallow_kinks, tent_power
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C12", "C13")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m12 = results["C12"]["measurements"]
    assert set(m12["activations"]) == {"square", "relu", "sigmoid"}
    assert set(m12["activations"]["relu"]) == {"4", "32"}
    # a square net of any width is a quadratic: never below the best quadratic fit
    floor = m12["quadratic_floor_mse"]
    for w in ("4", "32"):
        assert m12["activations"]["square"][w]["mse_least_squares"]["min"] >= floor * (1 - 1e-6)
    m13 = results["C13"]["measurements"]
    assert [r["deep_params"] for r in m13["construction"]] == [13, 19, 25]
    assert all(r["deep_rel_mse"] < 1e-20 for r in m13["construction"])


def test_sawtooth_constructions_are_exact():
    x = np.linspace(0.0, 1.0, 16 * 2**5)
    mu, sigma = float(x.mean()), float(x.std())
    Xs = ((x - mu) / sigma)[:, None]
    y = tent_power(x, 5)
    assert np.max(np.abs(deep_sawtooth(5, mu, sigma).predict(Xs).reshape(-1) - y)) < 1e-12
    net = shallow_kinks(2**5, mu, sigma)
    from mlplab.experiments.expressivity import _solve_output

    _solve_output(net, Xs, y)
    assert np.max(np.abs(net.predict(Xs).reshape(-1) - y)) < 1e-8


def _c12(m, lo, hi):
    out = copy.deepcopy(m)
    for a, (l_ls, h_ls, l_tr, h_tr) in {**lo, **hi}.items():
        per = out["activations"][a]
        per["4"]["mse_least_squares"], per["32"]["mse_least_squares"] = stat([l_ls]), stat([h_ls])
        per["4"]["mse_trained"], per["32"]["mse_trained"] = stat([l_tr]), stat([h_tr])
    return out


def test_c12_rule(results):
    exp = get("C12")
    m = results["C12"]["measurements"]
    square = {"square": (0.42, 0.42, 0.42, 0.42)}
    good = {"relu": (0.3, 1e-4, 0.3, 1e-3), "sigmoid": (0.3, 1e-5, 0.4, 0.1)}
    assert exp.judge(_c12(m, square, good)).verdict == "holds"
    sig_stuck = {**good, "sigmoid": (0.3, 1e-5, 0.4, 0.39)}
    assert exp.judge(_c12(m, square, sig_stuck)).verdict == "partly"
    # on the boundaries: square gains exactly 2× (not 'less than 2×'), relu exactly 10×
    edge = {"square": (0.4, 0.2, 0.4, 0.4)}
    assert not exp.judge(_c12(m, edge, good)).evidence.endswith("3/3 predictions true.")
    relu_10x = {**good, "relu": (0.3, 0.03, 0.3, 1e-3)}
    assert exp.judge(_c12(m, square, relu_10x)).verdict == "partly"
    square_learns = {"square": (0.42, 1e-3, 0.42, 1e-3)}
    flat = {"relu": (0.3, 0.2, 0.3, 0.3), "sigmoid": (0.3, 0.2, 0.4, 0.4)}
    assert exp.judge(_c12(m, square_learns, flat)).verdict == "fails"


def _c13(m, shallow_need, rows):
    """Fed numbers: the shallow need at the largest k, and trained rows (family, params, err)."""
    out = copy.deepcopy(m)
    out["construction"][-1]["shallow_params_needed"] = shallow_need
    template = out["trained"][0]
    out["trained"] = [
        {**template, "family": f, "params": p, "rel_mse": {**template["rel_mse"], "mean": e}}
        for f, p, e in rows
    ]
    return out


def test_c13_rule(results):
    exp = get("C13")
    m = results["C13"]["measurements"]
    deep_wins = [
        ("shallow", 100, 0.3),
        ("shallow", 400, 0.04),
        ("deep", 60, 0.2),
        ("deep", 150, 0.03),
    ]
    assert exp.judge(_c13(m, 200, deep_wins)).verdict == "holds"
    # the construction shows the gap, training does not
    shallow_wins = [("shallow", 100, 0.04), ("deep", 60, 0.2), ("deep", 150, 0.3)]
    assert exp.judge(_c13(m, 200, shallow_wins)).verdict == "partly"
    # a deep net reaching the target, the shallow family never: it must be under half its largest
    only_deep = [("shallow", 100, 0.3), ("shallow", 400, 0.2), ("deep", 150, 0.03)]
    assert exp.judge(_c13(m, 200, only_deep)).verdict == "holds"
    only_deep_big = [("shallow", 100, 0.3), ("shallow", 200, 0.2), ("deep", 150, 0.03)]
    assert exp.judge(_c13(m, 200, only_deep_big)).verdict == "partly"
    none = [("shallow", 100, 0.3), ("deep", 60, 0.2)]
    assert exp.judge(_c13(m, 49, none)).verdict == "fails"  # 25 > 49 / 4 at k = 4
