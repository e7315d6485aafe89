"""C15, C16, C17 at the tiny budget, dead-unit counting, and the rules on fed measurements."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.core.network import Network, mlp_spec
from mlplab.experiments import get
from mlplab.experiments.base import stat
from mlplab.experiments.dead_relu import unit_states
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C15", "C16", "C17")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m15 = results["C15"]["measurements"]
    assert set(m15["activations"]) == {"relu", "leaky_relu", "gelu"}
    assert len(m15["training"]) == 2 and len(m15["init"]) == 1
    ev = results["C15"]["evidence"]
    assert "Deaths at init" in ev and "Deaths caused by training" in ev
    assert len(results["C15"]["figures"]) == 2  # one figure per cause of death
    m16 = results["C16"]["measurements"]
    assert len(m16["curves"][0]["val_loss"]) == 25
    m17 = results["C17"]["measurements"]
    assert set(m17["configs"]) == {"none", "dropout", "early stopping", "combined"}


def test_unit_states_counts_dead_relus():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(64, 20))
    dead = Network(mlp_spec([20, 16, 3], "relu", bias_init=-50.0), rng)
    st = unit_states(dead, X)[0]
    assert st["dead"] == st["inactive"] == st["diagnostics_dead"] == 1.0
    leaky = Network(mlp_spec([20, 16, 3], "leaky_relu", bias_init=-50.0), rng)
    st = unit_states(leaky, X)[0]
    assert st["inactive"] == 1.0 and st["dead"] == 0.0  # pushed negative, still a gradient
    alive = Network(mlp_spec([20, 16, 3], "gelu", bias_init=0.0), rng)
    assert unit_states(alive, X)[0]["dead"] == 0.0


def _c15(m, relu_killed, relu_rec, other_killed, other_rec):
    """Fed C15 measurements: ReLU killed ``relu_killed`` at the highest rate (2 % at the
    others), the other activations ``other_killed`` everywhere; recoveries per init cell."""
    out = copy.deepcopy(m)
    T, I = out["training"], out["init"]
    top = max(c["lr"] for c in T.values())
    for c in T.values():
        for a in out["activations"]:
            if a == "relu":
                v = relu_killed if c["lr"] == top else 0.02
            else:
                v = other_killed
            c[a]["killed"] = stat([v])
    for c in I.values():
        for a in out["activations"]:
            c[a]["recovered"] = stat([relu_rec if a == "relu" else other_rec])
    return out


def test_c15_rule(results):
    exp = get("C15")
    m = results["C15"]["measurements"]
    assert exp.judge(_c15(m, 0.8, 0.0, 0.0, 0.8)).verdict == "holds"
    assert exp.judge(_c15(m, 0.8, 0.0, 0.0, 0.1)).verdict == "partly"
    assert exp.judge(_c15(m, 0.8, 0.0, 0.3, 0.1)).verdict == "fails"
    assert exp.judge(_c15(m, 0.01, 0.5, 0.0, 0.8)).verdict == "fails"  # relu never dies


def test_c15_rule_boundaries(results):
    exp = get("C15")
    m = results["C15"]["measurements"]
    # exactly on every threshold: killed ≥ KILLED_SOME, recovered ≤ NEVER_BACK (ReLU);
    # killed ≤ DEAD_FEW, recovered ≥ COMES_BACK (the others) — all inclusive
    edge = _c15(m, exp.KILLED_SOME, exp.NEVER_BACK, exp.DEAD_FEW, exp.COMES_BACK)
    assert exp.judge(edge).verdict == "holds"
    checks = exp.checks(_c15(m, exp.KILLED_SOME - 1e-9, exp.NEVER_BACK + 1e-9, 0.0, 1.0))
    assert not checks["relu: training kills units"]
    assert not checks["relu: pushed negative at init stay dead"]
    checks = exp.checks(_c15(m, 0.5, 0.0, exp.DEAD_FEW + 1e-9, exp.COMES_BACK - 1e-9))
    assert not checks["gelu: training kills none"]
    assert not checks["leaky_relu: recovers from a negative init"]


def test_c16_rule(results):
    exp = get("C16")
    m = copy.deepcopy(results["C16"]["measurements"])
    m["train_accuracy"]["mean"], m["test_accuracy"]["mean"] = 1.0, 0.8
    m["val_loss_min"]["mean"], m["val_loss_final"]["mean"] = 0.5, 0.7
    m["val_loss_min_epoch"]["mean"] = 5
    m["train_loss_at_val_min"]["mean"], m["train_loss_final"]["mean"] = 0.1, 0.001
    assert exp.judge(m).verdict == "holds"
    m["val_loss_final"]["mean"] = 0.52
    assert exp.judge(m).verdict == "partly"
    m["test_accuracy"]["mean"] = 0.97
    assert exp.judge(m).verdict == "fails"


def _c17(m, acc, spread=0.0):
    """Fed C17 measurements over 3 seeds: each arm at ``acc`` ± a paired ``spread``."""
    out = copy.deepcopy(m)
    for k, v in acc.items():
        out["configs"][k]["test_accuracy"] = stat(
            [v - spread, v, v + spread] if k == "combined" else [v, v, v]
        )
    return out


def test_c17_rule(results):
    exp = get("C17")
    m = results["C17"]["measurements"]
    base = {"none": 0.80, "dropout": 0.82, "early stopping": 0.81}
    assert exp.judge(_c17(m, {**base, "combined": 0.86})).verdict == "holds"
    assert exp.judge(_c17(m, {**base, "combined": 0.821})).verdict == "partly"
    assert exp.judge(_c17(m, {**base, "combined": 0.79})).verdict == "fails"
    # a big spread over seeds turns the same means into a tie
    assert exp.judge(_c17(m, {**base, "combined": 0.79}, spread=0.05)).verdict == "partly"
    # exactly the floor above the best single one is a tie, not a win
    floor = {"none": 0.5, "dropout": 0.5, "early stopping": 0.5, "combined": 0.5 + 0.00390625}
    assert exp.MIN_NOISE < 0.00390625  # 2⁻⁸, exact in binary
    assert exp.judge(_c17(m, floor)).verdict == "holds"
    assert "chosen" in results["C17"]["evidence"]
