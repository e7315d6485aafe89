"""Layers: every forward and backward against torch autograd in float64, dropout, norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlplab.backends.torch import torch_activation
from mlplab.core.activations import activation_names
from mlplab.core.gradcheck import rel_err
from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout, LayerNorm, build_layer
from mlplab.errors import ConfigError

TOL = 1e-12  # float64: forward and backward agree with torch to rounding
N, D_IN, D_OUT = 7, 5, 4


def run_torch(module: nn.Module, x: np.ndarray, delta: np.ndarray):
    """Output, ∂L/∂x and ∂L/∂params of ``module`` for the upstream gradient ``delta``."""
    xt = torch.as_tensor(x).requires_grad_(True)
    out = module(xt)
    out.backward(torch.as_tensor(delta))
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    return out.detach().numpy(), xt.grad.numpy(), grads


def assert_matches(layer, module, x, delta, training=True, rng=None):
    out = layer.forward(x, training, rng)
    dx = layer.backward(delta)
    out_t, dx_t, grads_t = run_torch(module, x, delta)
    assert rel_err(out, out_t) <= TOL
    assert rel_err(dx, dx_t) <= TOL
    assert set(layer.grads) == set(grads_t)
    for k, g in grads_t.items():
        assert rel_err(layer.grads[k], g) <= TOL, k


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, D_IN)), rng.normal(size=(N, D_IN)), rng


def test_dense_matches_torch(data):
    x, _, rng = data
    layer = Dense(D_IN, D_OUT, init="he_uniform", rng=rng, dtype=np.float64)
    layer.params["bias"][:] = rng.normal(size=D_OUT)
    lin = nn.Linear(D_IN, D_OUT).double()
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(layer.params["weight"]))
        lin.bias.copy_(torch.as_tensor(layer.params["bias"]))
    delta = rng.normal(size=(N, D_OUT))
    assert_matches(layer, lin, x, delta)
    # the text's equations: ∂L/∂W = δᵀ h_prev, ∂L/∂b = Σ δ, δ_prev = δ W
    np.testing.assert_allclose(layer.grads["weight"], delta.T @ x, rtol=1e-15)
    np.testing.assert_allclose(layer.grads["bias"], delta.sum(0), rtol=1e-15)


def test_dense_gradients_accumulate_until_zero_grad(data):
    x, _, rng = data
    layer = Dense(D_IN, D_OUT, rng=rng, dtype=np.float64)
    delta = rng.normal(size=(N, D_OUT))
    for _ in range(2):
        layer.forward(x)
        layer.backward(delta)
    np.testing.assert_allclose(layer.grads["weight"], 2 * delta.T @ x, rtol=1e-14)
    layer.zero_grad()
    assert not layer.grads["weight"].any() and not layer.grads["bias"].any()


def test_dense_keeps_dtype():
    layer = Dense(3, 2, rng=np.random.default_rng(0))
    assert layer.params["weight"].dtype == np.float32
    out = layer.forward(np.ones((2, 3), np.float32))
    back = layer.backward(np.ones((2, 2), np.float32))
    assert out.dtype == np.float32 and back.dtype == np.float32


@pytest.mark.parametrize("name", activation_names(differentiable_only=True))
def test_activation_layer_matches_torch(name, data):
    x, delta, _ = data
    x = 3 * x
    layer = ActivationLayer(name, D_IN, dtype=np.float64)
    module = torch_activation(layer.activation, D_IN).double()
    assert_matches(layer, module, x, delta)


def test_prelu_slope_gradient_matches_torch(data):
    x, delta, rng = data
    layer = ActivationLayer({"name": "prelu", "alpha": 0.1}, D_IN, dtype=np.float64)
    layer.params["weight"][:] = rng.uniform(0.0, 0.5, size=D_IN)
    module = nn.PReLU(D_IN).double()
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(layer.params["weight"]))
    assert_matches(layer, module, x, delta)
    # ∂L/∂a_j = Σ_n δ_nj · z_nj over the rows where z_nj ≤ 0
    want = np.where(x > 0, 0.0, delta * x).sum(axis=0)
    np.testing.assert_allclose(layer.grads["weight"], want, rtol=1e-14)


def test_prelu_needs_units():
    with pytest.raises(ConfigError, match="prelu"):
        ActivationLayer("prelu")


# --------------------------------------------------------------------------- dropout
def test_dropout_fixed_mask_forward_and_backward(data):
    x, delta, rng = data
    layer = Dropout(0.25)
    mask = rng.random(x.shape) >= 0.25
    layer.fixed_mask = mask
    out = layer.forward(x, training=True)
    np.testing.assert_array_equal(out, x * (mask / 0.75))
    np.testing.assert_array_equal(layer.backward(delta), delta * (mask / 0.75))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_random_mask_is_inverted_and_seeded(dtype):
    x = np.ones((400, 50), dtype=dtype)
    layer = Dropout(0.3)
    out = layer.forward(x, training=True, rng=np.random.default_rng(5))
    assert out.dtype == dtype
    kept = out != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(out[kept], dtype(1.0) / dtype(0.7), rtol=0)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # E[h] = x (inverted dropout)
    again = Dropout(0.3).forward(x, training=True, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(out, again)
    back = layer.backward(np.ones_like(x))
    assert back.dtype == dtype
    np.testing.assert_array_equal(back != 0, kept)  # the gradient flows through the same units


def test_dropout_eval_and_p0_are_identity(data):
    x, delta, _ = data
    layer = Dropout(0.5)
    assert layer.forward(x, training=False) is x
    assert layer.backward(delta) is delta
    assert Dropout(0.0).forward(x, training=True) is x


def test_dropout_training_without_generator_raises(data):
    with pytest.raises(ConfigError, match="rng"):
        Dropout(0.5).forward(data[0], training=True)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, "x", float("nan")])
def test_dropout_bad_p(p):
    with pytest.raises(ConfigError, match="dropout.p"):
        Dropout(p)


# --------------------------------------------------------------------------- norms
def _bn_pair(rng, momentum=0.1):
    layer = BatchNorm(D_IN, momentum=momentum, dtype=np.float64)
    layer.params["weight"][:] = rng.uniform(0.5, 1.5, size=D_IN)
    layer.params["bias"][:] = rng.normal(size=D_IN)
    module = nn.BatchNorm1d(D_IN, momentum=momentum).double()
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(layer.params["weight"]))
        module.bias.copy_(torch.as_tensor(layer.params["bias"]))
    return layer, module


def test_batchnorm_training_mode_matches_torch(data):
    x, delta, rng = data
    layer, module = _bn_pair(rng)
    module.train()
    assert_matches(layer, module, 2 * x + 1, delta, training=True)
    assert rel_err(layer.buffers["running_mean"], module.running_mean.numpy()) <= TOL
    assert rel_err(layer.buffers["running_var"], module.running_var.numpy()) <= TOL


def test_batchnorm_running_stats_and_eval_mode_match_torch(data):
    _, delta, rng = data
    layer, module = _bn_pair(rng, momentum=0.3)
    module.train()
    for _ in range(5):  # several training passes, different batch sizes
        x = rng.normal(3.0, 2.0, size=(int(rng.integers(2, 9)), D_IN))
        layer.forward(x, training=True)
        with torch.no_grad():
            module(torch.as_tensor(x))
    # running_var uses the unbiased batch variance, as torch does
    assert rel_err(layer.buffers["running_mean"], module.running_mean.numpy()) <= TOL
    assert rel_err(layer.buffers["running_var"], module.running_var.numpy()) <= TOL
    assert int(layer.buffers["num_batches_tracked"]) == int(module.num_batches_tracked) == 5
    module.eval()
    layer.zero_grad()
    x = rng.normal(3.0, 2.0, size=(N, D_IN))
    assert_matches(layer, module, x, delta, training=False)


def test_batchnorm_normalises_the_batch(data):
    x, _, rng = data
    layer = BatchNorm(D_IN, dtype=np.float64)
    out = layer.forward(5 * x - 2, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-3)  # var/(var + ε)


def test_batchnorm_needs_two_rows_in_training():
    with pytest.raises(ConfigError, match="at least 2"):
        BatchNorm(3).forward(np.ones((1, 3), np.float32), training=True)
    assert BatchNorm(3).forward(np.ones((1, 3), np.float32), training=False).shape == (1, 3)


def test_layernorm_matches_torch(data):
    x, delta, rng = data
    layer = LayerNorm(D_IN, dtype=np.float64)
    layer.params["weight"][:] = rng.uniform(0.5, 1.5, size=D_IN)
    layer.params["bias"][:] = rng.normal(size=D_IN)
    module = nn.LayerNorm(D_IN).double()
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(layer.params["weight"]))
        module.bias.copy_(torch.as_tensor(layer.params["bias"]))
    assert_matches(layer, module, 4 * x - 1, delta, training=True)
    layer.zero_grad()
    module.zero_grad()
    assert_matches(layer, module, 4 * x - 1, delta, training=False)  # no train/eval difference


def test_layernorm_normalises_each_row(data):
    x, _, _ = data
    out = LayerNorm(D_IN, dtype=np.float64).forward(10 * x + 3)
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1.0, rtol=1e-3)


# --------------------------------------------------------------------------- specs
def test_build_layer_and_specs():
    rng = np.random.default_rng(0)
    layer, dim = build_layer({"type": "dense", "units": 3}, 4, rng=rng, dtype=np.float64)
    assert dim == 3 and layer.params["weight"].shape == (3, 4)
    assert layer.spec()["units"] == 3 and "Dense(" in repr(layer)
    layer, dim = build_layer({"type": "batchnorm", "eps": 1e-3}, 4, rng=rng, dtype=np.float32)
    assert dim == 4 and layer.spec() == {"type": "batchnorm", "momentum": 0.1, "eps": 1e-3}


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "conv"},
        {"units": 3},
        "dense",
        {"type": "dense"},  # no units
        {"type": "dense", "units": 0},
        {"type": "dense", "units": 2, "colour": "red"},
        {"type": "dropout", "p": 1.0},
        {"type": "batchnorm", "momentum": 2.0},
        {"type": "layernorm", "eps": 0.0},
        {"type": "activation", "activation": "nope"},
    ],
)
def test_bad_layer_spec_raises_config_error(spec):
    with pytest.raises(ConfigError):
        build_layer(spec, 4, rng=np.random.default_rng(0), dtype=np.float32, where="layer")
