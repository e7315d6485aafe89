"""C08 and C09 at the tiny budget (MNIST subsets), and their rules fed numbers on every
boundary."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.runner import run_task

ACTS = ("sigmoid", "tanh", "relu", "gelu")


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C08", "C09")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
        assert r["breaks"]
    m8 = results["C08"]["measurements"]
    assert set(m8["depths"]) == {"2", "3"}  # both ends of "2–3 layers"
    assert all(set(d["test_accuracy"]) == set(ACTS) for d in m8["depths"].values())
    assert m8["n_test"] == 1000
    assert "2 weight layers" in results["C08"]["evidence"]
    assert "3 weight layers" in results["C08"]["evidence"]
    m9 = results["C09"]["measurements"]
    assert set(m9["inits"]) == {"torch_default", "intended"}
    assert set(m9["inits"]["intended"]) == {"4", "8"}
    assert 2.2 < m9["prior_entropy"] < 2.31
    assert "Adam steps" in results["C09"]["evidence"]
    # one cell per (depth, activation, seed) and (init, depth, activation, seed)
    assert len(results["C08"]["cells"]) == 2 * 4
    assert len(results["C09"]["cells"]) == 2 * 2 * 4


def _c08(m, gaps, seeds=1):
    """Every depth: three activations at 0.5, sigmoid ``gap`` points lower (same each seed)."""
    out = copy.deepcopy(m)
    for L, gap in zip(out["depths"], gaps):
        for a in ACTS:
            v = 0.5 - (gap / 100 if a == "sigmoid" else 0.0)
            out["depths"][L]["test_accuracy"][a] = stat([v] * seeds)
    return out


@pytest.mark.parametrize(
    ("gaps", "verdict"),
    [
        ((2.0, 0.0), "holds"),  # at most SAME points is 'same'
        ((2.5, 0.0), "partly"),
        ((5.0, 2.0), "partly"),  # at most ROUGH points is 'rough'
        ((5.5, 0.0), "fails"),
        ((0.0, 6.0), "fails"),  # the deeper end counts as much as the shallow one
    ],
)
def test_c08_rule_boundaries(results, gaps, verdict):
    exp = get("C08")
    assert (exp.SAME, exp.ROUGH) == (2.0, 5.0)
    assert exp.judge(_c08(results["C08"]["measurements"], gaps)).verdict == verdict


def test_c08_gap_inside_the_noise_is_a_tie(results):
    exp = get("C08")
    m = _c08(results["C08"]["measurements"], (0.0, 0.0))
    for d in m["depths"].values():
        # sigmoid 4 points behind on average, but the paired differences are +12, −4, −4, −20
        d["test_accuracy"]["sigmoid"] = stat([0.62, 0.46, 0.46, 0.30])
        for a in ("tanh", "relu", "gelu"):
            d["test_accuracy"][a] = stat([0.5] * 4)
    assert exp.judge(m).verdict == "holds"


def _c09(m, losses, std=0.0, n=1):
    out = copy.deepcopy(m)
    for by in out["inits"].values():
        for per in by.values():
            for a in ACTS:
                per[a]["final_train_loss"] = {
                    **stat([losses[a]] * n),
                    "std": std,
                }
    return out


def test_c09_rule(results):
    exp = get("C09")
    m = results["C09"]["measurements"]
    as_text = {"sigmoid": 2.3, "tanh": 2.25, "relu": 0.2, "gelu": 0.3}
    assert exp.judge(_c09(m, as_text)).verdict == "holds"
    tanh_trains = {**as_text, "tanh": 0.3}
    assert exp.judge(_c09(m, tanh_trains)).verdict == "partly"
    reversed_ = {"sigmoid": 0.2, "tanh": 0.2, "relu": 2.3, "gelu": 2.3}
    assert exp.judge(_c09(m, reversed_)).verdict == "fails"
    # 8 of 16 true is half: fewer than half fails, exactly half is partly (score_text)
    half = {"sigmoid": 2.3, "tanh": 2.3, "relu": 2.3, "gelu": 2.3}
    assert exp.judge(_c09(m, half)).verdict == "partly"
    assert "fewer than half" in exp.rule


def test_c09_outcome_boundaries():
    exp = get("C09")
    H = 2.0
    # converged: m + e <= 0.5 H (at most); stalled: m − e > 0.9 H (strictly above)
    assert exp.outcome(H, 1.0) == "converged"
    assert exp.outcome(H, 1.8) == "slow"
    assert exp.outcome(H, 1.8000001) == "stalled"
    assert exp.outcome(H, float("nan")) == "stalled"
    # with a margin: mean 0.75, std 0.5 over 4 seeds -> se 0.25, e = 0.5: 0.75 + 0.5 > 1.0
    s = {**stat([0.25, 0.75, 0.75, 1.25]), "std": 0.5}
    assert exp.outcome(H, s) == "slow"
    s = {**stat([0.25, 0.5, 0.5, 0.75]), "std": 0.25}  # 0.5 + 0.25 <= 1.0
    assert exp.outcome(H, s) == "converged"
