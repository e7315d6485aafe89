"""average_networks: one block-diagonal MLP whose logits are the members' mean logits."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.core.ensemble import average_networks
from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import fit
from mlplab.errors import ConfigError


def _members(k=3, **kw):
    spec = mlp_spec([5, 6, 4, 3], kw.pop("activation", "relu"), dtype="float64", **kw)
    return [Network(spec, rng=s) for s in range(k)]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"activation": "tanh", "dropout": 0.3, "input_dropout": 0.1},
        {"norm": "batch"},
        {"head": "sigmoid_bce"},
    ],
)
def test_merged_logits_are_the_mean_of_the_members_logits(kw):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, 40) if kw.get("head") is None else rng.integers(0, 2, (40, 3))
    members = _members(**kw)
    for m in members:  # trained, so batch-norm statistics and biases are not at their init
        fit(m, X, y, optimizer="adam", lr=1e-2, epochs=2, batch_size=8, rng=1)
    merged = average_networks(members)
    expect = np.mean([m.forward(X) for m in members], axis=0)
    np.testing.assert_allclose(merged.forward(X), expect, rtol=1e-12, atol=1e-12)
    assert merged.n_parameters > sum(m.n_parameters for m in members)  # the zero blocks
    widths = [la["units"] for la in merged.spec["layers"] if la["type"] == "dense"]
    assert widths == [18, 12, 3]


def test_hidden_weights_are_block_diagonal_and_one_member_is_itself():
    members = _members(2)
    merged = average_networks(members)
    W = merged.named_parameters()["2.weight"]  # second dense layer, (8, 12)
    assert W.shape == (8, 12)
    np.testing.assert_array_equal(W[:4, 6:], 0)
    np.testing.assert_array_equal(W[4:, :6], 0)
    np.testing.assert_array_equal(W[:4, :6], members[0].named_parameters()["2.weight"])
    X = np.random.default_rng(1).normal(size=(7, 5))
    np.testing.assert_array_equal(average_networks(members[:1]).forward(X), members[0].forward(X))


def test_no_hidden_layer_averages_the_weights():
    a, b = (Network.from_sizes([4, 3], rng=s, dtype="float64") for s in (0, 1))
    X = np.random.default_rng(2).normal(size=(5, 4))
    np.testing.assert_allclose(
        average_networks([a, b]).forward(X), (a.forward(X) + b.forward(X)) / 2, rtol=1e-12
    )


def test_members_that_cannot_be_merged_are_a_config_error():
    with pytest.raises(ConfigError, match="at least one"):
        average_networks([])
    a = Network.from_sizes([4, 5, 3])
    with pytest.raises(ConfigError, match=r"models\[1\]"):
        average_networks([a, Network.from_sizes([4, 6, 3])])
    with pytest.raises(ConfigError, match="layernorm"):
        average_networks([Network(mlp_spec([4, 5, 3], norm="layer"))] * 2)
    with pytest.raises(ConfigError, match="activation"):
        average_networks([Network.from_sizes([4, 5, 3], "prelu")] * 2)
