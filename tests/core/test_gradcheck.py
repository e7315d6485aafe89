"""The gradient checker itself: it passes on the engine and it catches planted mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.backends.torch_gradcheck import (
    check_activation,
    check_head,
    check_network,
    run_gradcheck,
)
from mlplab.core import activations, losses
from mlplab.core import gradcheck as core_gradcheck
from mlplab.core.activations import ACTIVATIONS
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, numeric_gradients, rel_err
from mlplab.core.layers import Dense, Dropout
from mlplab.core.losses import HEADS
from mlplab.core.network import Network


def test_rel_err():
    assert rel_err([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_err([1.0, 2.5], [1.0, 2.0]) == 0.25  # max|a − b| / max|b|
    assert rel_err([1.0, 2.5], [1.0, 2.0], scale=5.0) == 0.1
    assert rel_err([], []) == 0.0
    assert rel_err([0.0], [0.0]) == 0.0


def test_run_gradcheck_passes_and_covers_everything():
    rep = run_gradcheck(seed=3)
    assert rep["ok"]
    assert rep["activations"] == list(ACTIVATIONS) and rep["heads"] == list(HEADS)
    names = {c["name"] for c in rep["cases"]}
    assert set(ACTIVATIONS) <= names and set(HEADS) <= names
    layer_cases = " ".join(c["name"] for c in rep["cases"] if c["kind"] == "layer")
    for word in ("dropout", "batchnorm", "layernorm", "prelu", "dense"):
        assert word in layer_cases
    assert rep["max_rel_err_torch"] <= TOL_TORCH and rep["max_rel_err_fd"] <= TOL_FD
    assert all(c["ok"] for c in rep["cases"])


def test_without_torch_only_central_differences():
    net = Network.from_sizes([3, 4, 2], "tanh", dtype="float64", rng=0)
    X = np.random.default_rng(0).normal(size=(5, 3))
    res = check_network(net, X, np.array([0, 1, 1, 0, 1]), use_torch=False)
    assert res["max_rel_err_torch"] is None and res["max_rel_err_fd"] <= TOL_FD
    assert check_activation("relu", use_torch=False)["max_rel_err_torch"] is None


def test_numeric_gradients_sample_large_parameters():
    net = Network.from_sizes([10, 12, 3], "tanh", dtype="float64", rng=0)
    X = np.random.default_rng(1).normal(size=(4, 10))
    num = numeric_gradients(net, X, np.array([0, 1, 2, 0]), max_entries=16)
    idx, vals = num["0.weight"]
    assert len(idx) == len(vals) == 16 and len(set(idx)) == 16
    assert len(num["2.bias"][0]) == 3  # small parameters are checked whole
    net.loss_and_grad(X, np.array([0, 1, 2, 0]))
    g = net.named_gradients()["0.weight"].reshape(-1)[idx]
    assert rel_err(g, vals) <= TOL_FD


def test_float64_only():
    net = Network.from_sizes([3, 2], "relu")
    with pytest.raises(ValueError, match="float64"):
        check_network(net, np.ones((2, 3)), np.array([0, 1]))


def test_dropout_masks_are_released_afterwards():
    net = Network.from_sizes([3, 6, 2], "relu", dropout=0.5, dtype="float64", rng=0)
    res = check_network(net, np.random.default_rng(0).normal(size=(6, 3)), np.arange(6) % 2)
    assert res["max_rel_err_torch"] <= TOL_TORCH
    assert all(la.fixed_mask is None for la in net.layers if isinstance(la, Dropout))


# --------------------------------------------------------------------------- planted mistakes
def test_catches_a_wrong_activation_derivative(monkeypatch):
    good = activations.Tanh.df
    monkeypatch.setattr(activations.Tanh, "df", lambda self, z: 1.001 * good(self, z))
    res = check_activation("tanh")
    assert res["max_rel_err_torch"] > TOL_TORCH and res["max_rel_err_fd"] > TOL_FD
    net = Network.from_sizes([3, 5, 2], "tanh", dtype="float64", rng=0)
    res = check_network(net, np.random.default_rng(0).normal(size=(6, 3)), np.arange(6) % 2)
    assert res["max_rel_err_torch"] > TOL_TORCH and res["max_rel_err_fd"] > TOL_FD


def test_catches_a_delta_that_forgets_the_mean(monkeypatch):
    good = losses.SigmoidBCE.delta
    monkeypatch.setattr(losses.SigmoidBCE, "delta", lambda self, z, y: good(self, z, y) * len(z))
    res = check_head("sigmoid_bce")
    assert res["max_rel_err_torch"] > 0.5 and res["max_rel_err_fd"] > 0.5


def test_catches_a_missing_bias_gradient(monkeypatch):
    good = Dense.backward

    def no_bias(self, delta):
        out = good(self, delta)
        self.grads["bias"][...] = 0
        return out

    monkeypatch.setattr(Dense, "backward", no_bias)
    net = Network.from_sizes([3, 5, 2], "relu", head="mse", dtype="float64", rng=0)
    rng = np.random.default_rng(0)
    res = check_network(net, rng.normal(size=(6, 3)), rng.normal(size=(6, 2)))
    assert res["per_param"]["0.bias"]["torch"] > TOL_TORCH
    assert res["per_param"]["0.bias"]["fd"] > TOL_FD
    assert res["per_param"]["0.weight"]["torch"] <= TOL_TORCH


def test_the_core_check_runs_on_numpy_alone():
    rep = core_gradcheck.run_gradcheck(seed=1)
    assert rep["ok"] and rep["max_rel_err_torch"] is None and rep["max_rel_err_fd"] <= TOL_FD
