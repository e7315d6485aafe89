"""XOR: the hand-built step network, trained 2-H-1 nets, the linear collapse."""

import numpy as np
import pytest

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import fit
from mlplab.errors import ConfigError
from mlplab.xor import (
    XOR_X,
    XOR_Y,
    _single_net,
    best_linear_accuracy,
    collapse_linear,
    hand_built_xor,
    least_squares_xor,
    linear_collapse_check,
    train_xor,
    xor_success_rates,
    xor_truth_table,
)


def test_hand_built_network_truth_table_is_exact():
    net = hand_built_xor()
    assert [la.activation.name for la in net.layers if hasattr(la, "activation")] == ["step"]
    assert not net.trainable
    np.testing.assert_array_equal(net.predict(XOR_X), XOR_Y)
    rows = xor_truth_table(net)
    # h1 = x1 AND NOT x2, h2 = NOT x1 AND x2, y = h1 OR h2
    assert [(r["h1"], r["h2"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (0, 0)]
    assert [r["y"] for r in rows] == [0, 1, 1, 0]
    assert [r["z_out"] for r in rows] == [-0.5, 0.5, 0.5, -0.5]
    with pytest.raises(ConfigError, match="step"):
        fit(net, XOR_X, XOR_Y, epochs=1)


@pytest.mark.parametrize("sizes", [(2, 1), (2, 3, 1), (3, 8, 8, 2), (2, 16, 16, 16, 16, 1)])
def test_identity_network_collapses_to_one_affine_map(sizes):
    out = linear_collapse_check(sizes, rng=1)
    assert out["max_abs_diff"] <= 1e-10
    W, b = np.array(out["W"]), np.array(out["b"])
    assert W.shape == (sizes[-1], sizes[0]) and b.shape == (sizes[-1],)


def test_collapse_is_the_textbook_formula_and_rejects_nonlinear_nets():
    rng = np.random.default_rng(0)
    net = Network(mlp_spec([2, 3, 1], "identity", head="identity_mse", dtype="float64"), rng=rng)
    net.layers[0].params["bias"][...] = rng.normal(size=3)
    W, b = collapse_linear(net)
    W1, b1 = net.layers[0].params["weight"], net.layers[0].params["bias"]
    W2, b2 = net.layers[2].params["weight"], net.layers[2].params["bias"]
    np.testing.assert_allclose(W, W2 @ W1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(b, W2 @ b1 + b2, rtol=0, atol=1e-14)
    relu = Network(mlp_spec([2, 3, 1], "relu", head="identity_mse", dtype="float64"))
    with pytest.raises(ConfigError, match="identity"):
        collapse_linear(relu)
    normed = Network(mlp_spec([2, 3, 1], "identity", norm="layer", dtype="float64"))
    with pytest.raises(ConfigError, match="not affine"):
        collapse_linear(normed)
    dropped = Network(mlp_spec([2, 3, 1], "identity", dropout=0.5, dtype="float64"))
    X = rng.normal(size=(5, 2))
    W, b = collapse_linear(dropped)
    np.testing.assert_allclose(dropped.forward(X), X @ W.T + b, atol=1e-12)


def test_best_linear_classifier_gets_three_of_four_xor_points():
    out = best_linear_accuracy()
    assert out["best_accuracy"] == 0.75
    assert out["n_labellings"] == 16 and out["n_separable"] == 14
    assert sorted(out["inseparable_labellings"]) == [[0, 1, 1, 0], [1, 0, 0, 1]]
    assert best_linear_accuracy(XOR_X, [0, 0, 0, 1])["best_accuracy"] == 1.0


def test_least_squares_on_xor_predicts_one_half_everywhere():
    out = least_squares_xor()
    np.testing.assert_allclose(out["w"], 0.0, atol=1e-12)
    assert out["b"] == pytest.approx(0.5)
    np.testing.assert_allclose(out["predictions"], 0.5, atol=1e-12)


def test_packed_training_equals_training_each_net_alone():
    seeds = [3, 7]
    run, nets = train_xor("tanh", 3, seeds, epochs=60, lr=0.1, return_networks=True)
    for seed, packed_net in zip(seeds, nets):
        alone = _single_net("tanh", 3, seed)
        fit(alone, XOR_X, XOR_Y, optimizer="adam", lr=0.1, epochs=60, batch_size=4, shuffle=False)
        a, p = alone.state_dict(), packed_net.state_dict()
        for key in a:
            np.testing.assert_allclose(p[key], a[key], rtol=0, atol=1e-10)
        success = bool(np.all(alone.predict(XOR_X) == XOR_Y))
        assert run.success[seeds.index(seed)] == success


def test_success_rates_grow_with_width():
    runs = xor_success_rates(("sigmoid", "tanh", "relu"), (2, 8), seeds=16, epochs=300)
    rate = {(r.activation, r.width): r.rate for r in runs}
    for act in ("sigmoid", "tanh", "relu"):
        assert rate[(act, 8)] >= rate[(act, 2)]
    assert rate[("tanh", 8)] >= 0.9 and rate[("sigmoid", 8)] >= 0.9
    assert min(rate[(a, 2)] for a in ("sigmoid", "tanh", "relu")) < 1.0  # small nets stall
    d = runs[0].to_dict()
    assert d["n_success"] == sum(d["success"]) and len(d["final_loss"]) == 16


def test_train_xor_rejects_bad_settings():
    with pytest.raises(ConfigError, match="width"):
        train_xor("tanh", 0, [0])
    with pytest.raises(ConfigError, match="seeds"):
        train_xor("tanh", 2, [])
    with pytest.raises(ConfigError, match="lr"):
        train_xor("tanh", 2, [0], lr=0)
