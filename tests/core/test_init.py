"""Weight initialisers: shapes, the variance formulas, gains (vs torch), auto, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlplab.core.init import INITS, calculate_gain, init_names, init_weight, resolve_init
from mlplab.core.network import Network
from mlplab.errors import ConfigError

FAN_IN, FAN_OUT = 400, 300  # 120 000 draws: the sample std is within ~0.4 % (2σ)


def expected_std(name: str, gain: float, std: float = 1.0) -> float:
    return {
        "zeros": 0.0,
        "normal": std,
        "xavier_uniform": gain * math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
        "xavier_normal": gain * math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
        "he_uniform": gain / math.sqrt(FAN_IN),
        "he_normal": gain / math.sqrt(FAN_IN),
        "lecun_normal": 1.0 / math.sqrt(FAN_IN),
    }[name]


@pytest.mark.parametrize("name", list(INITS))
def test_shape_and_standard_deviation(name):
    W = init_weight(name, FAN_IN, FAN_OUT, np.random.default_rng(0), activation="relu")
    assert W.shape == (FAN_OUT, FAN_IN) and W.dtype == np.float64
    gain = math.sqrt(2.0) if name.startswith("he_") else 1.0
    want = expected_std(name, gain)
    if want == 0.0:
        assert not W.any()
    else:
        assert W.std() == pytest.approx(want, rel=0.01)
        assert abs(W.mean()) < 4 * want / math.sqrt(W.size)


@pytest.mark.parametrize("name", ["xavier_uniform", "he_uniform"])
def test_uniform_bounds(name):
    W = init_weight(name, FAN_IN, FAN_OUT, np.random.default_rng(1), activation="tanh")
    bound = expected_std(name, 5.0 / 3.0 if name == "he_uniform" else 1.0) * math.sqrt(3.0)
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.99 * bound


def test_normal_std_option_and_explicit_gain():
    W = init_weight("normal", FAN_IN, FAN_OUT, np.random.default_rng(2), std=0.05)
    assert W.std() == pytest.approx(0.05, rel=0.01)
    W = init_weight("xavier_normal", FAN_IN, FAN_OUT, np.random.default_rng(2), gain=2.0)
    assert W.std() == pytest.approx(expected_std("xavier_normal", 2.0), rel=0.01)


@pytest.mark.parametrize(
    "act, torch_args",
    [
        ("identity", ("linear",)),
        ("sigmoid", ("sigmoid",)),
        ("tanh", ("tanh",)),
        ("relu", ("relu",)),
        ({"name": "leaky_relu", "alpha": 0.2}, ("leaky_relu", 0.2)),
        ("leaky_relu", ("leaky_relu", 0.01)),
    ],
)
def test_gain_matches_torch(act, torch_args):
    assert calculate_gain(act) == pytest.approx(torch.nn.init.calculate_gain(*torch_args))


def test_auto_picks_he_for_relu_family_and_xavier_otherwise():
    for act in ("relu", "leaky_relu", "elu", "gelu", "silu", "prelu"):
        assert resolve_init("auto", act) == "he_normal"
    for act in ("tanh", "sigmoid", "identity"):
        assert resolve_init("auto", act) == "xavier_uniform"
    assert resolve_init("Kaiming_Uniform", "relu") == "he_uniform"
    assert resolve_init("glorot_normal", "relu") == "xavier_normal"
    assert init_names()[0] == "auto" and set(INITS) <= set(init_names())


def test_network_auto_init_uses_the_following_activation():
    net = Network.from_sizes([200, 300, 300, 10], "relu", rng=0)
    (i0, d0), (_, d1), (_, d2) = net.dense_layers()
    assert i0 == 0 and d0.init == "he_normal" and d1.init == "he_normal"
    assert d2.init == "xavier_uniform"  # the output layer feeds the head (identity)
    assert d0.params["weight"].std() == pytest.approx(math.sqrt(2.0 / 200), rel=0.02)
    assert d1.params["weight"].std() == pytest.approx(math.sqrt(2.0 / 300), rel=0.02)
    assert not d0.params["bias"].any()


def test_same_generator_same_weights():
    a = init_weight("he_normal", 5, 4, np.random.default_rng(9))
    b = init_weight("he_normal", 5, 4, np.random.default_rng(9))
    c = init_weight("he_normal", 5, 4, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs",
    [{"name": "orthogonal"}, {"name": "normal", "std": -1.0}, {"name": "he", "activation": "x"}],
)
def test_bad_init_raises_config_error(kwargs):
    kwargs = {"fan_in": 3, "fan_out": 2, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ConfigError):
        init_weight(**kwargs)
    with pytest.raises(ConfigError, match="init"):
        Network.from_sizes([3, 4, 2], "relu", init="orthogonal")
