"""A single sigmoid neuron trained by the engine is scikit-learn's logistic regression."""

import numpy as np
import pytest

from mlplab.errors import DataError
from mlplab.logistic import compare_with_sklearn, fit_sigmoid_neuron, overlapping_gaussians
from mlplab.perceptron import is_linearly_separable, separable_set


@pytest.mark.parametrize("seed", [0, 1])
def test_unpenalised_neuron_equals_sklearn_on_overlapping_data(seed):
    X, y = overlapping_gaussians(400, 3, np.random.default_rng(seed))
    assert not is_linearly_separable(X, y)[0]  # so the MLE exists
    out = compare_with_sklearn(X, y)
    assert out["l2"] == 0.0
    assert out["rel_diff"] <= 1e-6
    assert out["grad_norm_engine"] <= 1e-8


@pytest.mark.parametrize("C", [1.0, 0.01])
def test_l2_penalised_neuron_equals_sklearn_with_lambda_one_over_cn(C):
    X, y = overlapping_gaussians(300, 4, np.random.default_rng(5))
    out = compare_with_sklearn(X, y, C=C)
    assert out["l2"] == pytest.approx(1.0 / (C * 300))
    assert out["rel_diff"] <= 1e-6
    # the mapping matters: λ = 1/C instead of 1/(C n) gives other coefficients
    wrong = fit_sigmoid_neuron(X, y, l2=1.0 / C)
    theta = np.r_[wrong.coef, wrong.intercept]
    assert np.max(np.abs(theta - np.array(out["sklearn"]))) > 1e-3


def test_penalty_on_separable_data_and_newton_finish():
    ss = separable_set(60, 2, 0.1, np.random.default_rng(0))
    y = (ss.y > 0).astype(int)
    with pytest.raises(DataError, match="separable"):
        compare_with_sklearn(ss.X, y)
    out = compare_with_sklearn(ss.X, y, C=10.0, epochs=50, newton_steps=8)
    assert out["grad_norm"] <= 1e-10
    assert out["rel_diff"] <= 1e-6
