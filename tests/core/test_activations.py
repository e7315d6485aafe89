"""Activations: f and f′ against torch and central differences, kinks, extremes, the registry."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from mlplab.backends.torch import torch_activation
from mlplab.backends.torch_gradcheck import check_activation
from mlplab.core.activations import ACTIVATIONS, activation_names, get_activation
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, rel_err
from mlplab.errors import ConfigError, TrainingError

DIFFERENTIABLE = activation_names(differentiable_only=True)
# Activations with an option, at a non-default value (the default is covered by name).
VARIANTS = [
    {"name": "leaky_relu", "alpha": 0.2},
    {"name": "elu", "alpha": 0.5},
    {"name": "prelu", "alpha": 0.1},
]
EXTREMES = [1e4, -1e4, 1e3, -1e3, 100.0, -100.0, 30.0, -30.0, 0.0]


def torch_f_df(act, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """φ(z) and φ′(z) from torch autograd, float64."""
    zt = torch.as_tensor(np.asarray(z, dtype=np.float64)).reshape(1, -1).requires_grad_(True)
    mod = torch_activation(act, zt.shape[1]).double()
    out = mod(zt)
    out.sum().backward()
    return out.detach().numpy().ravel(), zt.grad.numpy().ravel()


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_f_and_df_match_torch_and_central_differences(name):
    res = check_activation(name, rng=np.random.default_rng(1))
    assert res["max_rel_err_torch"] <= TOL_TORCH
    assert res["max_rel_err_fd"] <= TOL_FD


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda s: f"{s['name']}-{s['alpha']}")
def test_options_match_torch(spec):
    act = get_activation(spec)
    z = np.random.default_rng(2).uniform(-5, 5, size=101)
    f_t, df_t = torch_f_df(act, z)
    assert rel_err(act.f(z), f_t) <= TOL_TORCH
    assert rel_err(act.df(z), df_t) <= TOL_TORCH


# At the kinks the derivative is a convention; mlplab picks the same one-sided value as torch.
KINKS = {
    "relu": [0.0],
    "leaky_relu": [0.0],
    "prelu": [0.0],
    "elu": [0.0],
    "relu6": [0.0, 6.0],
    "hardswish": [-3.0, 3.0],
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_derivative_at_kinks_is_torchs_convention(name):
    act = get_activation(name)
    z = np.array(KINKS[name])
    f_t, df_t = torch_f_df(act, z)
    np.testing.assert_array_equal(act.f(z), f_t)
    np.testing.assert_allclose(act.df(z), df_t, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_extreme_values_match_torch_float64(name):
    act = get_activation(name)
    z = np.array(EXTREMES)
    f_t, df_t = torch_f_df(act, z)
    # element by element: the tails (e.g. silu(−30) ≈ −2.8e−12) must not be lost next to 1e4
    np.testing.assert_allclose(act.f(z), f_t, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(act.df(z), df_t, rtol=1e-12, atol=1e-300)


def _strict():
    """Any warning is an error; so are NaN-producing, dividing and overflowing operations.

    Underflow (e^(−10⁴) rounding to 0, which is the correctly rounded result and what torch
    returns too) stays at NumPy's default, ignore.
    """
    return np.errstate(all="raise", under="ignore")


def _extreme_inputs(dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    magnitudes = 10.0 ** rng.uniform(-3, 4, size=200)  # log-uniform in [1e-3, 1e4]
    random_large = rng.choice([-1.0, 1.0], size=200) * magnitudes
    return np.concatenate([EXTREMES, random_large]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_stable_at_extreme_inputs(name, dtype):
    act = get_activation(name)
    z = _extreme_inputs(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _strict():
            f = act.f(z)
            df = act.df(z) if act.differentiable else None
    assert f.dtype == dtype and f.shape == z.shape
    assert np.all(np.isfinite(f))
    if df is not None:
        assert df.dtype == dtype and df.shape == z.shape
        assert np.all(np.isfinite(df))


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturating_derivative_vanishes_on_both_tails(name):
    act = get_activation(name)
    assert act.saturating
    assert np.all(act.df(np.array([-1e4, -1e3, 1e3, 1e4])) == 0.0)
    assert np.all(act.df(np.array([-100.0, 100.0])) < 1e-40)
    assert np.all(np.abs(act.f(np.array([-1e4, 1e4]))) <= 1.0)


def test_derivative_peaks():
    zero = np.zeros(1)
    assert get_activation("sigmoid").df(zero)[0] == 0.25
    assert get_activation("tanh").df(zero)[0] == 1.0
    assert get_activation("relu").df(np.array([-2.0, 3.0])).tolist() == [0.0, 1.0]


def test_step_forward_and_no_gradient():
    act = get_activation("step")
    assert not act.differentiable
    z = np.array([-1.0, -1e-9, 0.0, 2.0])
    assert act.f(z).tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(TrainingError, match="step"):
        act.df(z)
    assert "step" not in DIFFERENTIABLE


def test_prelu_slope_derivative():
    act = get_activation("prelu")
    z = np.array([-2.0, -0.5, 0.0, 1.5])
    a = np.full(4, 0.3)
    np.testing.assert_array_equal(act.f(z, a), [-0.6, -0.15, 0.0, 1.5])
    np.testing.assert_array_equal(act.dalpha(z), [-2.0, -0.5, 0.0, 0.0])
    np.testing.assert_array_equal(act.df(z, a), [0.3, 0.3, 0.3, 1.0])


def test_identity_returns_a_copy():
    z = np.arange(3.0)
    out = get_activation("identity").f(z)
    out[0] = 99.0
    assert z[0] == 0.0


def test_registry_aliases_specs_and_equality():
    assert get_activation("swish") == get_activation("silu")
    assert get_activation("linear").name == "identity"
    assert get_activation("ReLU").name == "relu"
    act = get_activation({"name": "leaky_relu", "alpha": 0.2})
    assert act.spec() == {"name": "leaky_relu", "alpha": 0.2}
    assert get_activation(act.spec()) == act
    assert get_activation(act) is act
    assert act != get_activation("leaky_relu")
    assert len({get_activation("relu"), get_activation("relu")}) == 1
    assert "alpha=0.2" in repr(act)


@pytest.mark.parametrize(
    "spec",
    [
        "nope",
        {"name": "nope"},
        {"alpha": 0.1},
        3,
        {"name": "relu", "alpha": 0.1},
        {"name": "leaky_relu", "alpha": 1.5},
        {"name": "leaky_relu", "alpha": -0.1},
        {"name": "elu", "alpha": 0.0},
        {"name": "prelu", "alpha": "x"},
    ],
)
def test_bad_activation_raises_config_error(spec):
    with pytest.raises(ConfigError):
        get_activation(spec)


def test_flags():
    assert get_activation("relu").can_die and get_activation("relu6").can_die
    assert not get_activation("gelu").can_die
    assert get_activation("prelu").learnable
    families = {n: get_activation(n).init_family for n in ("relu", "tanh", "sigmoid", "identity")}
    assert families == {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "identity": "linear"}
