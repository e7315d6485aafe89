"""The scikit-learn estimators: scikit-learn's own estimator checks, one pytest case each, and
the behaviour beyond them (multi-label, multi-output, warm start, partial_fit, early stopping,
the torch backend, a Pipeline inside GridSearchCV)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlplab.sklearn import MLPClassifier, MLPRegressor, Perceptron

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Checks that are expected to fail, with the reason — none at present.  Kept as the place to
#: list one (scikit-learn's ``expected_failed_checks`` mechanism) should a future check need it.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MLPClassifier": {},
    "MLPRegressor": {},
    "Perceptron": {},
}


def _expected_failed(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Torch's thread pool slows down badly on oversubscribed cores; restored afterwards."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is part of the test environment
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@parametrize_with_checks(
    [MLPClassifier(), MLPRegressor(), Perceptron()], expected_failed_checks=_expected_failed
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [MLPClassifier(backend="torch", device="cpu")], expected_failed_checks=_expected_failed
)
def test_sklearn_estimator_checks_torch_backend(estimator, check):
    pytest.importorskip("torch")
    check(estimator)


# ---------------------------------------------------------------------- behaviour
def _blobs(n=120, k=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=k, n_features=4, random_state=seed, cluster_std=1.5)
    return StandardScaler().fit_transform(X), y


def test_binary_string_labels_and_probabilities():
    X, y = _blobs(k=2)
    labels = np.array(["cat", "dog"])[y]
    clf = MLPClassifier(random_state=0, max_iter=300).fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog"]
    assert clf.network_.head.name == "sigmoid_bce" and clf.network_.output_dim == 1
    p = clf.predict_proba(X)
    assert p.shape == (120, 2) and np.allclose(p.sum(1), 1)
    assert set(clf.predict(X)) <= {"cat", "dog"}
    assert clf.score(X, labels) > 0.9
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[p.argmax(1)])


def test_multiclass_and_multilabel():
    X, y = _blobs(k=4)
    clf = MLPClassifier(random_state=0, max_iter=300).fit(X, y)
    assert clf.network_.head.name == "softmax_ce" and clf.predict_proba(X).shape == (120, 4)
    assert clf.score(X, y) > 0.85
    Xm, Ym = make_multilabel_classification(
        n_samples=150, n_features=6, n_classes=3, random_state=0
    )
    Xm = StandardScaler().fit_transform(Xm)
    mlc = MLPClassifier(hidden_layer_sizes=(32,), random_state=0, max_iter=400).fit(Xm, Ym)
    assert mlc.network_.head.name == "multilabel_bce"
    pred = mlc.predict(Xm)
    assert pred.shape == Ym.shape and set(np.unique(pred)) <= {0, 1}
    proba = mlc.predict_proba(Xm)
    assert proba.shape == Ym.shape and np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(pred, (proba >= 0.5).astype(int))
    assert np.mean(pred == Ym) > 0.8  # per-label accuracy


def test_regression_single_and_multi_output_and_losses():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    reg = MLPRegressor(random_state=0, learning_rate_init=1e-2, max_iter=300).fit(X, y)
    assert reg.predict(X).shape == (200,) and reg.score(X, y) > 0.9
    Y = np.column_stack([y, -y])
    reg2 = MLPRegressor(random_state=0, learning_rate_init=1e-2, max_iter=300).fit(X, Y)
    assert reg2.predict(X).shape == (200, 2) and reg2.n_outputs_ == 2 and reg2.score(X, Y) > 0.9
    counts = rng.poisson(np.exp(0.5 * X[:, 0]))
    pois = MLPRegressor(loss="poisson", random_state=0, learning_rate_init=1e-2).fit(X, counts)
    assert pois.network_.head.name == "exp_poisson" and np.all(pois.predict(X) > 0)
    mae = MLPRegressor(loss="absolute_error", max_iter=5).fit(X, y)
    assert mae.network_.head.name == "identity_mae"
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)


def test_mlplab_options_reach_the_network():
    X, y = _blobs()
    clf = MLPClassifier(
        hidden_layer_sizes=(8, 6),
        activation=["gelu", {"name": "leaky_relu", "alpha": 0.1}],
        dropout=0.1,
        norm="layer",
        init="he_uniform",
        solver={"name": "adamw", "weight_decay": 0.05},
        schedule="cosine",
        dtype="float32",
        max_iter=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    types = [la["type"] for la in clf.network_.spec["layers"]]
    assert types == ["dense", "layernorm", "activation", "dropout"] * 2 + ["dense"]
    acts = [la["activation"] for la in clf.network_.spec["layers"] if la["type"] == "activation"]
    assert acts == [{"name": "gelu"}, {"name": "leaky_relu", "alpha": 0.1}]
    assert clf.network_.dtype == np.float32
    assert clf._trainer.optimizer.name == "adamw" and clf._trainer.optimizer.weight_decay == 0.05
    assert clf._trainer.schedule.name == "cosine"
    assert clf.predict_proba(X).dtype == np.float64
    sgd = MLPClassifier(solver="sgd", momentum=0.5, nesterovs_momentum=False, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd.fit(X, y)
    opt = sgd._trainer.optimizer
    assert (opt.name, opt.momentum, opt.nesterov) == ("sgd", 0.5, False)


@pytest.mark.parametrize(
    "params,match",
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "big"}, "hidden_layer_sizes"),
        ({"activation": "swoosh"}, "activation"),
        ({"solver": "lbfgs"}, "solver"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"backend": "jax"}, "backend"),
        ({"early_stopping": True, "validation_fraction": 1.5}, "validation_fraction"),
        ({"norm": "group"}, "norm"),
    ],
)
def test_bad_parameters_raise_value_error_at_fit(params, match):
    X, y = _blobs()
    clf = MLPClassifier(**params)  # never raises in __init__
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_tol_stop_early_stopping_and_convergence_warning():
    X, y = _blobs(n=200)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    clf = MLPClassifier(max_iter=500, learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and clf.best_loss_ == min(clf.loss_curve_)
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.validation_scores_ is None
    es = MLPClassifier(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        n_iter_no_change=3,
        learning_rate_init=0.05,
        max_iter=500,
        random_state=0,
    ).fit(X, y)
    assert es.n_iter_ < 500 and es.best_loss_ is None
    assert len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_) > 0.8
    assert es._trainer.stop_reason == "early_stopping"


def test_warm_start_and_partial_fit_continue():
    X, y = _blobs()
    clf = MLPClassifier(max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        w_after_first = clf.network_.state_dict()["0.weight"].copy()
        net = clf.network_
        clf.fit(X, y)
    assert clf.network_ is net and clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert not np.array_equal(w_after_first, clf.network_.state_dict()["0.weight"])
    # same result as 10 epochs in one go (same Generator, same optimizer state)
    once = MLPClassifier(max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        once.fit(X, y)
    np.testing.assert_allclose(once.predict_proba(X), clf.predict_proba(X), rtol=1e-12)

    pf = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        pf.partial_fit(X, y)
    pf.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    for _ in range(20):
        pf.partial_fit(X, y)
    assert pf.n_iter_ == 21 and pf.loss_curve_[-1] < pf.loss_curve_[1]
    with pytest.raises(ValueError, match="not seen"):
        pf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="features"):
        pf.partial_fit(X[:, :3], y)


def test_random_state_and_no_global_state():
    X, y = _blobs()
    a = MLPClassifier(random_state=3, max_iter=20, tol=0).fit(X, y)
    b = MLPClassifier(random_state=3, max_iter=20, tol=0).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLPClassifier(random_state=np.random.RandomState(3), max_iter=20, tol=0).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    np.random.seed(123)  # noqa: NPY002 - the global state must be left alone
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    MLPClassifier(max_iter=5, early_stopping=True).fit(X, y)  # random_state=None
    np.testing.assert_array_equal(before, np.random.get_state()[1])  # noqa: NPY002


def test_pickle_round_trip_keeps_training_state():
    X, y = _blobs()
    clf = MLPClassifier(random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))


def test_torch_backend_matches_numpy_in_float64():
    pytest.importorskip("torch")
    X, y = _blobs()
    kw = dict(solver="sgd", learning_rate_init=0.05, max_iter=15, tol=0, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(random_state=0, **kw).fit(X, y)
        b = MLPClassifier(random_state=0, backend="torch", device="cpu", **kw).fit(X, y)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-8)
    c = pickle.loads(pickle.dumps(b))  # a torch-trained estimator pickles and continues
    c.partial_fit(X, y)
    assert c.n_iter_ == 16
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2]])
    kw["solver"] = "adam"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ra = MLPRegressor(random_state=1, **kw).fit(X, Y)
        rb = MLPRegressor(random_state=1, backend="torch", device="cpu", **kw).fit(X, Y)
    np.testing.assert_allclose(rb.predict(X), ra.predict(X), atol=1e-8)


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(max_iter=5).fit(df, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"]


def test_perceptron_wraps_mlplab_perceptron():
    from mlplab.perceptron import Perceptron as Rule

    X, y = make_blobs(n_samples=80, centers=[[-3, -3], [3, 3]], random_state=0)
    p = Perceptron(shuffle=False).fit(X, y)
    rule = Rule(lr=1.0, epochs=100, compute_bound=False).fit(X, y)
    np.testing.assert_array_equal(p.coef_, rule.coef_)
    np.testing.assert_array_equal(p.intercept_, rule.intercept_)
    assert p.result_.converged and p.score(X, y) == 1.0 and p.n_iter_ == rule.result_.epochs
    X3, y3 = _blobs(k=3)
    p3 = Perceptron(pocket=True, random_state=0).fit(X3, np.array(["a", "b", "c"])[y3])
    assert p3.coef_.shape == (3, 4) and p3.decision_function(X3).shape == (120, 3)
    assert p3.score(X3, np.array(["a", "b", "c"])[y3]) > 0.8
    with pytest.raises(ValueError, match="2 classes"):
        Perceptron().fit(X, np.zeros(80))


def test_pipeline_in_grid_search_on_digits():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, random_state=0))
    grid = GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)], "mlpclassifier__alpha": [1e-4, 1.0]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X_tr, y_tr)
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] in [(16,), (32,)]
    assert grid.best_score_ > 0.9
    assert grid.score(X_te, y_te) > 0.9
    assert clone(grid.best_estimator_).get_params()["mlpclassifier__max_iter"] == 60
