"""C15, C16, C17 at the tiny budget, dead-unit counting, and the rules on fed measurements."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.core.network import Network, mlp_spec
from mlplab.experiments import get
from mlplab.experiments.failure_modes import unit_states
from mlplab.experiments.runner import run_task


@pytest.fixture(scope="module")
def results():
    return {cid: run_task(cid, "tiny", [0]) for cid in ("C15", "C16", "C17")}


def test_structure(results, check_result):
    for cid, r in results.items():
        check_result(r, cid)
    m15 = results["C15"]["measurements"]
    assert set(m15["activations"]) == {"relu", "leaky_relu", "gelu"}
    assert len(m15["activations"]["relu"]) == 2 * 2
    for c in m15["activations"]["relu"].values():  # our count agrees with diagnostics'
        assert c["diagnostics_dead"]["mean"] == pytest.approx(c["dead"]["mean"])
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


def _c15(m, relu_dead, relu_rec, other_dead, other_rec):
    out = copy.deepcopy(m)
    for act, cells in out["activations"].items():
        for c in cells.values():
            high_lr = c["lr"] == max(x["lr"] for x in cells.values())
            if act == "relu":
                c["dead"]["mean"] = relu_dead if (c["bias_init"] < 0 or high_lr) else 0.02
                c["recovered"]["mean"] = relu_rec if c["bias_init"] < 0 else None
            else:
                c["dead"]["mean"] = other_dead
                c["recovered"]["mean"] = other_rec if c["bias_init"] < 0 else None
            c["pushed_negative_at_init"]["mean"] = 10.0 if c["bias_init"] < 0 else 0.0
    return out


def test_c15_rule(results):
    exp = get("C15")
    m = results["C15"]["measurements"]
    assert exp.judge(_c15(m, 0.8, 0.0, 0.0, 0.8)).verdict == "holds"
    assert exp.judge(_c15(m, 0.8, 0.0, 0.0, 0.1)).verdict == "partly"
    assert exp.judge(_c15(m, 0.8, 0.0, 0.3, 0.1)).verdict == "fails"
    assert exp.judge(_c15(m, 0.8, 0.5, 0.0, 0.8)).verdict == "fails"  # relu units came back


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


def _c17(m, acc, std=0.002, n=3):
    out = copy.deepcopy(m)
    for k, v in acc.items():
        out["configs"][k]["test_accuracy"].update(mean=v, std=std, n=n)
    return out


def test_c17_rule(results):
    exp = get("C17")
    m = results["C17"]["measurements"]
    base = {"none": 0.80, "dropout": 0.82, "early stopping": 0.81}
    assert exp.judge(_c17(m, {**base, "combined": 0.86})).verdict == "holds"
    assert exp.judge(_c17(m, {**base, "combined": 0.821})).verdict == "partly"
    assert exp.judge(_c17(m, {**base, "combined": 0.79})).verdict == "fails"
    # a big spread over seeds turns the same means into a tie
    assert exp.judge(_c17(m, {**base, "combined": 0.79}, std=0.05)).verdict == "partly"
