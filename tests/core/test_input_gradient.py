"""Network.input_gradient: ∂F/∂x through the engine's backward, against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.core.network import Network, mlp_spec
from mlplab.errors import ConfigError

CASES = [
    ("softmax_ce", 3, "tanh", "none"),
    ("sigmoid_bce", 1, "gelu", "layer"),
    ("multilabel_bce", 3, "leaky_relu", "batch"),
    ("identity_mse", 2, "prelu", "none"),
    ("exp_poisson", 2, "silu", "none"),
]


def _numeric(model, X, k, wrt, eps=1e-6):
    def f(x):
        z = model.forward(x[None, :])
        out = z if wrt == "logit" else model.head.output(z)
        return out[0, k]

    g = np.zeros_like(X)
    for i, x in enumerate(X):
        for j in range(x.size):
            e = np.zeros_like(x)
            e[j] = eps
            g[i, j] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


@pytest.mark.parametrize(("head", "n_out", "act", "norm"), CASES)
@pytest.mark.parametrize("wrt", ["logit", "output"])
def test_input_gradient_matches_central_differences(head, n_out, act, norm, wrt):
    spec = mlp_spec([4, 6, 5, n_out], act, head=head, norm=norm, dropout=0.2, dtype="float64")
    model = Network(spec, rng=3)
    rng = np.random.default_rng(0)
    # give batch norm non-trivial running statistics
    model.forward(rng.standard_normal((16, 4)), training=True, rng=rng)
    X = rng.standard_normal((3, 4))
    k = np.array([0, n_out - 1, n_out // 2])
    g = model.input_gradient(X, k, wrt=wrt)
    num = np.stack([_numeric(model, X[i : i + 1], k[i], wrt)[0] for i in range(3)])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_input_gradient_leaves_parameter_gradients_alone():
    model = Network(mlp_spec([3, 4, 2], "relu", dtype="float64"), rng=0)
    X = np.random.default_rng(1).standard_normal((5, 3))
    model.loss_and_grad(X, np.array([0, 1, 0, 1, 1]))
    before = {k: v.copy() for k, v in model.named_gradients().items()}
    model.input_gradient(X, 1)
    for key, v in model.named_gradients().items():
        np.testing.assert_array_equal(v, before[key])


def test_input_gradient_of_a_linear_model_is_its_weight_row():
    model = Network(mlp_spec([3, 2], dtype="float64"), rng=0)
    g = model.input_gradient(np.ones((2, 3)), 1)
    np.testing.assert_array_equal(g, np.tile(model.layers[0].params["weight"][1], (2, 1)))


@pytest.mark.parametrize("bad", [2, -1, 0.5, [0, 1, 0]])
def test_input_gradient_rejects_bad_output_index(bad):
    model = Network(mlp_spec([3, 2]), rng=0)
    with pytest.raises(ConfigError, match="output_index"):
        model.input_gradient(np.ones((2, 3)), bad)
    with pytest.raises(ConfigError, match="wrt"):
        model.input_gradient(np.ones((2, 3)), 0, wrt="prob")
