"""Rosenblatt's perceptron: Novikoff's bound, cycles on XOR, pocket, one-vs-rest."""

import numpy as np
import pytest
from scipy.optimize import nnls

from mlplab.data import load_dataset
from mlplab.errors import ConfigError, DataError
from mlplab.perceptron import (
    Perceptron,
    augment,
    is_linearly_separable,
    margin_of,
    max_margin,
    novikoff,
    separable_set,
)

TRUTH_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
AND_Y = np.array([0, 0, 0, 1])
OR_Y = np.array([0, 1, 1, 1])
XOR_Y = np.array([0, 1, 1, 0])


def _sets(k=50):
    """k separable sets with varied size, dimension, margin and radius (R and γ known)."""
    for s in range(k):
        rng = np.random.default_rng(1000 + s)
        yield separable_set(
            int(rng.integers(20, 300)),
            int(rng.integers(2, 8)),
            float(rng.uniform(0.01, 0.2)),
            rng,
            radius=float(rng.choice([0.5, 1.0, 3.0])),
        )


def test_mistakes_within_novikoff_bound_on_50_separable_sets():
    ratios = []
    for ss in _sets(50):
        model = Perceptron(epochs=100_000).fit(ss.X, ss.y, separator=(ss.w_star, ss.b_star))
        r = model.result_
        assert r.converged
        assert r.mistakes_per_epoch[-1] == 0
        assert model.score(ss.X, ss.y) == 1.0
        # γ of the generator's separator in the augmented space (x, 1)
        g = np.min(ss.y * (ss.X @ ss.w_star + ss.b_star)) / np.hypot(1.0, ss.b_star)
        assert r.gamma == pytest.approx(g, rel=1e-12)
        assert r.gamma >= ss.margin / np.hypot(1.0, ss.b_star) - 1e-12
        R = np.sqrt(np.max(np.sum(ss.X**2, axis=1)) + 1.0)
        assert r.R == pytest.approx(R)
        assert r.bound == pytest.approx((R / g) ** 2)
        assert r.mistakes <= r.bound
        ratios.append(r.mistakes / r.bound)
    assert 0 < max(ratios) <= 1


def test_max_margin_satisfies_the_kkt_conditions_and_beats_the_generator():
    for ss in list(_sets(12)):
        gamma, u = max_margin(ss.X, ss.y)
        assert np.linalg.norm(u) == pytest.approx(1.0)
        Z = ss.y[:, None] * augment(ss.X)
        assert np.min(Z @ u) == pytest.approx(gamma, rel=1e-12)
        assert gamma >= margin_of(ss.X, ss.y, ss.w_star, ss.b_star) - 1e-12
        # optimality certificate of min ½‖v‖² s.t. Zv ≥ 1: v = Σ_S α_i z_i with α ≥ 0 over
        # the support vectors S (the constraints active at v = u/γ)
        v = u / gamma
        support = np.flatnonzero(Z @ v <= 1 + 1e-7)
        assert 1 <= len(support) <= Z.shape[1] + 1
        alpha, residual = nnls(Z[support].T, v)
        assert residual <= 1e-6 * np.linalg.norm(v)


def test_truth_tables_and_or_converge_within_the_max_margin_bound():
    for y, gamma in [(AND_Y, 1 / np.sqrt(17)), (OR_Y, 1 / 3)]:
        r = Perceptron().fit(TRUTH_X, y).result_
        assert r.converged and r.separable and r.accuracy == 1.0
        assert r.gamma == pytest.approx(gamma, rel=1e-6)  # exact max margins of AND and OR
        assert r.mistakes <= r.bound


def test_xor_never_has_a_mistake_free_epoch_and_cycles():
    model = Perceptron(epochs=1000, record_history=True).fit(TRUTH_X, XOR_Y)
    r = model.result_
    assert not r.converged
    assert r.epochs == 1000 and len(r.mistakes_per_epoch) == 1000
    assert min(r.mistakes_per_epoch) > 0
    assert r.separable is False and r.bound is None and r.gamma is None
    assert r.cycle_detected and r.cycle_length >= 1
    start, period = r.cycle_start, r.cycle_length
    mpe, hist = r.mistakes_per_epoch, r.weights_history
    for e in range(start, 1000 - period):
        assert mpe[e] == mpe[e + period]
        assert hist[e] == hist[e + period]
    assert r.accuracy <= 0.75
    # stopping at the cycle gives the same proof after a few epochs
    short = Perceptron(epochs=1000, stop_on_cycle=True).fit(TRUTH_X, XOR_Y).result_
    assert short.cycle_detected and short.epochs == start + period


def test_learning_rate_does_not_change_the_mistakes_from_zero_start():
    ss = next(_sets(1))
    for X, y in [(TRUTH_X, AND_Y), (TRUTH_X, XOR_Y), (ss.X, ss.y)]:
        a = Perceptron(lr=1.0, epochs=200, compute_bound=False).fit(X, y)
        b = Perceptron(lr=0.5, epochs=200, compute_bound=False).fit(X, y)
        assert a.result_.mistakes_per_epoch == b.result_.mistakes_per_epoch
        np.testing.assert_array_equal(a.coef_ * 0.5, b.coef_)


def test_labels_are_mapped_and_returned():
    for labels in ([0, 1], [-1, 1], ["no", "yes"]):
        y = np.array([labels[int(v)] for v in AND_Y])
        model = Perceptron().fit(TRUTH_X, y)
        np.testing.assert_array_equal(model.predict(TRUTH_X), y)
        assert model.score(TRUTH_X, y) == 1.0
    ref = Perceptron().fit(TRUTH_X, AND_Y).result_.mistakes_per_epoch
    assert Perceptron().fit(TRUTH_X, 2 * AND_Y - 1).result_.mistakes_per_epoch == ref


def test_agrees_with_sklearn_perceptron_on_separable_sets():
    from sklearn.linear_model import Perceptron as SkPerceptron

    for ss in list(_sets(5)):
        sk = SkPerceptron(max_iter=1000, tol=None, shuffle=False, eta0=1.0).fit(ss.X, ss.y)
        mine = Perceptron(epochs=1000, compute_bound=False).fit(ss.X, ss.y)
        assert mine.result_.converged
        assert sk.score(ss.X, ss.y) == 1.0
        assert mine.score(ss.X, ss.y) == 1.0


def test_pocket_keeps_the_best_weights_on_non_separable_data():
    ds = load_dataset("moons", seed=0, n_samples=300)
    X, y = ds.X_train, ds.y_train
    assert not is_linearly_separable(X, y)[0]
    plain = Perceptron(epochs=30).fit(X, y)
    pocket = Perceptron(epochs=30, pocket=True).fit(X, y)
    rp, rq = plain.result_, pocket.result_
    assert not rq.converged and rq.bound is None and rq.separable is False
    # same updates; only the returned weights differ
    assert rp.mistakes_per_epoch == rq.mistakes_per_epoch
    assert rq.last_accuracy == rp.accuracy
    assert rq.accuracy >= rq.last_accuracy
    assert rq.accuracy >= max(rq.accuracy_per_epoch)
    assert pocket.score(X, y) == pytest.approx(rq.accuracy)
    assert rq.accuracy > rq.last_accuracy  # here the pocket really helps


def test_one_vs_rest_on_blobs():
    ds = load_dataset("blobs", seed=0, noise=1.5)
    model = Perceptron(epochs=50, pocket=True).fit(ds.X_train, ds.y_train)
    r = model.result_
    assert model.coef_.shape == (3, 2) and len(r.per_class) == 3
    assert r.mistakes == sum(c.mistakes for c in r.per_class)
    assert sum(r.mistakes_per_epoch) == r.mistakes
    assert model.decision_function(ds.X_test).shape == (len(ds.X_test), 3)
    assert r.accuracy >= 0.95
    assert model.score(ds.X_test, ds.y_test) >= 0.9


def test_shuffled_order_still_converges_without_cycle_detection():
    ss = next(_sets(1))
    r = Perceptron(shuffle=True, rng=3, compute_bound=False).fit(ss.X, ss.y).result_
    assert r.converged and not r.cycle_detected
    r = Perceptron(shuffle=True, rng=3, epochs=50).fit(TRUTH_X, XOR_Y).result_
    assert not r.converged and not r.cycle_detected


def test_novikoff_function():
    info = novikoff(TRUTH_X, XOR_Y)
    assert not info.separable and info.bound is None and info.R == pytest.approx(np.sqrt(3))
    with pytest.raises(DataError, match="does not separate"):
        novikoff(TRUTH_X, AND_Y, separator=(np.array([1.0, 1.0]), 0.0))
    info = novikoff(TRUTH_X, AND_Y, separator=(np.array([1.0, 1.0]), -1.5))
    assert info.source == "known" and info.gamma == pytest.approx(0.5 / np.sqrt(4.25))


def test_bad_input():
    with pytest.raises(ConfigError, match="lr"):
        Perceptron(lr=0)
    with pytest.raises(ConfigError, match="lr"):
        Perceptron(lr=-1)
    with pytest.raises(ConfigError, match="epochs"):
        Perceptron(epochs=0)
    with pytest.raises(DataError, match="two classes"):
        Perceptron().fit(TRUTH_X, np.zeros(4))
    with pytest.raises(DataError, match="rows"):
        Perceptron().fit(TRUTH_X, AND_Y[:3])
    with pytest.raises(DataError, match="NaN"):
        Perceptron().fit(np.array([[np.nan, 0.0], [1.0, 1.0]]), [0, 1])
    with pytest.raises(ConfigError, match="not fitted"):
        Perceptron().predict(TRUTH_X)
    model = Perceptron().fit(TRUTH_X, AND_Y)
    with pytest.raises(DataError, match="shape"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="margin"):
        separable_set(10, 2, 0.6, np.random.default_rng(0))
