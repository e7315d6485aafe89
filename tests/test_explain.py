"""Attributions: saliency, gradient × input and Integrated Gradients (completeness, captum)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import fit
from mlplab.data import load_dataset
from mlplab.errors import ConfigError, DataError
from mlplab.explain import (
    IG_STEPS,
    RULES,
    explain,
    gradient_x_input,
    integrated_gradients,
    quadrature,
    saliency,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def trained():
    ds = load_dataset("mnist", subset=2000, seed=0)
    model = Network(mlp_spec([784, 64, 32, 10], "relu", init="he_normal"), rng=0)
    with threadpool_limits(1):
        fit(model, ds.X_train, ds.y_train, epochs=3, batch_size=64, lr=1e-3, rng=0)
    return ds, model


@pytest.mark.parametrize("rule", RULES)
def test_quadrature_weights_sum_to_one(rule):
    a, w = quadrature(10, rule)
    assert w.sum() == pytest.approx(1.0) and a.min() >= 0 and a.max() <= 1 and len(a) == 10


@pytest.mark.parametrize("wrt", ["logit", "output"])
def test_ig_completeness_within_1_percent_at_most_300_steps(trained, wrt):
    ds, model = trained
    for i in range(6):
        att = integrated_gradients(model, ds.X_test[i], wrt=wrt)
        assert att.steps <= 300 and att.steps in IG_STEPS
        assert att.completeness_relative <= 0.01
        diff = att.value - att.baseline_value
        assert abs(att.attributions.sum() - diff) == pytest.approx(att.completeness_error)
        # steps were raised only while the error was too large
        assert all(t["relative"] > 0.01 for t in att.tried[:-1])


def test_ig_error_falls_with_steps(trained):
    ds, model = trained
    errs = [
        integrated_gradients(model, ds.X_test[3], 0, steps=m).completeness_error
        for m in (5, 20, 80)
    ]
    assert errs[0] > errs[1] > errs[2]


@pytest.mark.parametrize("rule", ["riemann_middle", "riemann_right", "riemann_left"])
@pytest.mark.parametrize("baseline", ["zeros", "mean"])
def test_ig_equals_captum(trained, rule, baseline):
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    from mlplab.backends.torch import to_torch

    ds, model = trained
    m64 = Network({**model.spec, "dtype": "float64"})
    m64.load_state_dict(model.state_dict())
    module = to_torch(m64).eval()
    base = np.zeros(784) if baseline == "zeros" else ds.X_train.mean(0)
    for i, target in [(0, None), (1, 3)]:
        x = ds.X_test[i]
        mine = integrated_gradients(model, x, target, baseline=base, steps=64, rule=rule)
        ref = (
            captum_attr.IntegratedGradients(module)
            .attribute(
                torch.tensor(x[None]),
                baselines=torch.tensor(base[None]),
                target=mine.target,
                n_steps=64,
                method=rule,
            )[0]
            .numpy()
        )
        # captum draws its α points in float32 (torch.linspace), hence ~1e-8, not 1e-15
        np.testing.assert_allclose(mine.attributions, ref, rtol=1e-5, atol=1e-7)


def test_captum_trapezoid_is_scaled_by_m_minus_1_over_m(trained):
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    from mlplab.backends.torch import to_torch

    ds, model = trained
    m64 = Network({**model.spec, "dtype": "float64"})
    m64.load_state_dict(model.state_dict())
    x, m = ds.X_test[0], 50
    mine = integrated_gradients(model, x, 7, steps=m, rule="riemann_trapezoid")
    ref = (
        captum_attr.IntegratedGradients(to_torch(m64))
        .attribute(torch.tensor(x[None]), target=7, n_steps=m, method="riemann_trapezoid")[0]
        .numpy()
    )
    np.testing.assert_allclose(ref, mine.attributions * (m - 1) / m, rtol=1e-5, atol=1e-7)


def test_saliency_and_gradient_x_input(trained):
    ds, model = trained
    x = ds.X_test[0]
    g = model.input_gradient(x[None], 7)[0].astype(np.float64)
    sal = saliency(model, x, 7)
    gxi = gradient_x_input(model, x, 7)
    np.testing.assert_allclose(sal.attributions, np.abs(g), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gxi.attributions, x * g, rtol=1e-4, atol=1e-6)
    assert sal.completeness_error is None and sal.target == 7


def test_ig_of_a_linear_model_is_exact_and_equals_gradient_x_input():
    model = Network(mlp_spec([4, 3], dtype="float64"), rng=0)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    ig = integrated_gradients(model, x, 2, steps=2)
    np.testing.assert_allclose(ig.attributions, x * model.layers[0].params["weight"][2])
    np.testing.assert_allclose(ig.attributions, gradient_x_input(model, x, 2).attributions)
    assert ig.completeness_error < 1e-12


def test_binary_target_zero_negates_the_logit():
    model = Network(mlp_spec([3, 4, 1], "tanh", head="sigmoid_bce", dtype="float64"), rng=1)
    x = np.array([0.3, -1.0, 2.0])
    one = integrated_gradients(model, x, 1, steps=50)
    zero = integrated_gradients(model, x, 0, steps=50)
    np.testing.assert_allclose(zero.attributions, -one.attributions)
    p = integrated_gradients(model, x, 0, steps=100, wrt="output")
    z = model.forward(x[None])[0, 0]
    assert p.value == pytest.approx(1 / (1 + np.exp(z)))  # P(class 0)
    assert p.completeness_relative < 0.01


def test_bad_input_is_typed(trained):
    ds, model = trained
    with pytest.raises(DataError):
        integrated_gradients(model, np.zeros(5))
    with pytest.raises(ConfigError, match="target"):
        integrated_gradients(model, ds.X_test[0], 10)
    with pytest.raises(ConfigError, match="method"):
        explain(model, ds.X_test[0], "lime")
    with pytest.raises(ConfigError, match="rule"):
        integrated_gradients(model, ds.X_test[0], rule="simpson")
    with pytest.raises(ConfigError, match="baseline"):
        integrated_gradients(model, ds.X_test[0], baseline="blur")
    with pytest.raises(ConfigError):
        explain(model, ds.X_test[0], "saliency", steps=10)
