"""The scikit-learn estimators: scikit-learn's own estimator checks (one pytest case each), the
same surface as scikit-learn's MLPs (defaults read from its signatures, attribute shapes compared
with its fitted models, the same loss on the same weights), training behaviour, the doctor and
interoperability."""

from __future__ import annotations

import inspect
import pickle
import tempfile
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlplab.sklearn import MLPClassifier, MLPRegressor, Perceptron

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Checks that are expected to fail, with the reason (scikit-learn's ``expected_failed_checks``
#: mechanism): none, on either backend — the torch backend takes ``sample_weight`` through the
#: same loop as NumPy's.  (scikit-learn itself skips two checks here: the array-API check
#: without SCIPY_ARRAY_API, and the decision_function check, which MLPClassifier has no
#: method for.)
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MLPClassifier": {},
    "MLPRegressor": {},
    "Perceptron": {},
    "torch": {},
}


def _expected_failed(estimator) -> dict[str, str]:
    if getattr(estimator, "backend", "numpy") == "torch":
        return EXPECTED_FAILED_CHECKS["torch"]
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


# ---------------------------------------------------------------------- helpers
def _blobs(n=120, k=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=k, n_features=4, random_state=seed, cluster_std=1.5)
    return StandardScaler().fit_transform(X), y


def _quiet(est, *args, **kwargs):
    """``est.fit(*args)`` without the ConvergenceWarning of a deliberately short fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# ---------------------------------------------------------------------- same surface
@pytest.mark.parametrize(
    "ours,theirs", [(MLPClassifier, SkClassifier), (MLPRegressor, SkRegressor)]
)
def test_parameters_and_defaults_equal_scikit_learns(ours, theirs):
    mine = inspect.signature(ours.__init__).parameters
    ref = inspect.signature(theirs.__init__).parameters
    assert list(mine)[: len(ref)] == list(ref)  # same order: positional calls work too
    for name, p in ref.items():
        assert mine[name].default == p.default, name
        assert mine[name].kind == p.kind, name
    extra = {k: v.default for k, v in mine.items() if k not in ref}
    assert extra["dropout"] == 0.0 and extra["norm"] == "none" and extra["schedule"] is None
    assert extra["backend"] == "numpy" and extra["init"] == "xavier_uniform"


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": -1},
        {"activation": "swoosh"},
        {"solver": "newton"},
        {"alpha": -1.0},
        {"batch_size": 0},
        {"learning_rate": "cyclic"},
        {"learning_rate_init": 0.0},
        {"max_iter": 0},
        {"momentum": 1.5},
        {"validation_fraction": 1.0},
        {"beta_1": 1.0},
        {"epsilon": 0.0},
        {"n_iter_no_change": 0},
        {"max_fun": 0},
        {"tol": -1e-3},
        {"dropout": 1.0},
        {"norm": "group"},
        {"backend": "jax"},
    ],
)
def test_bad_parameters_raise_invalid_parameter_error_at_fit(params):
    X, y = _blobs()
    clf = MLPClassifier(**params)  # never raises in __init__
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        clf.fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


def test_hidden_layer_sizes_with_a_zero_is_a_value_error_as_in_scikit_learn():
    X, y = _blobs()
    for cls in (MLPClassifier, SkClassifier):
        with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
            cls(hidden_layer_sizes=(5, 0)).fit(X, y)


def test_n_iter_no_change_inf_and_mlplab_activation_names_are_accepted():
    X, y = _blobs()
    clf = _quiet(MLPClassifier(n_iter_no_change=np.inf, max_iter=4, activation="gelu"), X, y)
    assert clf.n_iter_ == 4
    clf = _quiet(MLPClassifier(activation="logistic", max_iter=2, random_state=0), X, y)
    assert clf.network_.spec["layers"][1]["activation"]["name"] == "sigmoid"


# ---------------------------------------------------------------------- fitted attributes
ATTRIBUTES = [
    "classes_", "n_features_in_", "n_layers_", "n_outputs_", "out_activation_", "n_iter_",
    "t_", "loss_", "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
]  # fmt: skip


def _shape(value):
    if isinstance(value, list):
        return ("list", len(value))
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.tolist() if value.ndim == 1 else None)
    if value is None or isinstance(value, str):
        return value
    return type(value).__name__ if not isinstance(value, float) else "float"


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "regression", "multi"])
@pytest.mark.parametrize("early", [False, True])
def test_fitted_attributes_have_scikit_learns_shapes(solver, target, early):
    X, y = _blobs(k=3)
    if target == "binary":
        y = np.array(["no", "yes"])[(y == 0).astype(int)]
    elif target == "multilabel":
        y = np.column_stack([y == 0, y == 1, y != 2]).astype(int)
    elif target == "regression":
        y = X @ [1.0, -2.0, 0.5, 0.0]
    elif target == "multi":
        y = np.column_stack([X[:, 0], X[:, 1] - X[:, 2]])
    cls = (MLPRegressor, SkRegressor) if target in ("regression", "multi") else None
    ours_cls, ref_cls = cls or (MLPClassifier, SkClassifier)
    kw = dict(hidden_layer_sizes=(7, 5), solver=solver, max_iter=3, early_stopping=early)
    ours = _quiet(ours_cls(random_state=0, **kw), X, y)
    ref = _quiet(ref_cls(random_state=0, **kw), X, y)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in ref.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in ref.intercepts_]
    for name in ATTRIBUTES:
        if not hasattr(ref, name):  # classes_ of a regressor; lbfgs keeps no curve
            continue
        assert _shape(getattr(ours, name)) == _shape(getattr(ref, name)), name
    assert ours.n_iter_ == ref.n_iter_ or solver == "lbfgs"
    if solver != "lbfgs":
        assert ours.t_ == ref.t_ and len(ours.loss_curve_) == ours.n_iter_
    assert ours.predict(X).shape == ref.predict(X).shape
    if ours_cls is MLPClassifier:
        assert ours.predict_proba(X).shape == ref.predict_proba(X).shape
        assert set(np.unique(ours.predict(X))) <= set(np.unique(y))


def test_coefs_are_live_views_in_scikit_learns_orientation():
    X, y = _blobs()
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, random_state=0), X, y)
    W = clf.network_.dense_layers()[0][1].params["weight"]
    np.testing.assert_array_equal(clf.coefs_[0], W.T)
    clf.coefs_[0][0, 0] = 42.0
    assert W[0, 0] == 42.0
    clf.intercepts_ = [np.zeros(6), np.ones(3)]
    np.testing.assert_array_equal(clf.network_.dense_layers()[1][1].params["bias"], np.ones(3))


def test_penalty_and_loss_match_scikit_learn_on_the_same_weights():
    """One SGD epoch (momentum 0, no shuffling, batches of 32 and a last one of 24) from the
    same weights: the same loss (with scikit-learn's per-batch L2 penalty) and the same
    weights after."""
    X, y = _blobs()
    kw = dict(
        hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, shuffle=False, batch_size=32,
        alpha=0.5, learning_rate_init=0.1, max_iter=1, warm_start=True, random_state=0,
    )  # fmt: skip
    ref = _quiet(SkClassifier(**kw), X, y)
    ours = _quiet(MLPClassifier(**kw), X, y)
    ours.coefs_, ours.intercepts_ = ref.coefs_, ref.intercepts_
    _quiet(ref, X, y)
    _quiet(ours, X, y)
    assert ours.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=1e-12)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- training behaviour
def test_partial_fit_only_for_stochastic_solvers():
    X, y = _blobs()
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    pf = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        pf.partial_fit(X, y)
    pf.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    for _ in range(15):
        pf.partial_fit(X, y)
    assert pf.n_iter_ == 1 and pf.t_ == 60 + 15 * 120  # as scikit-learn: n_iter_ per call
    assert len(pf.loss_curve_) == 16 and pf.loss_curve_[-1] < pf.loss_curve_[1]
    with pytest.raises(ValueError, match="classes not in"):
        pf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="features"):
        pf.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    reg = MLPRegressor(random_state=0)
    reg.partial_fit(X, X[:, 0])
    assert reg.n_iter_ == 1 and reg.t_ == 120


def test_warm_start_continues_like_scikit_learn():
    X, y = _blobs()
    clf = MLPClassifier(max_iter=5, warm_start=True, random_state=0, tol=0)
    _quiet(clf, X, y)
    w1 = clf.coefs_[0].copy()
    net = clf.network_
    _quiet(clf, X, y)
    assert clf.network_ is net and clf.n_iter_ == 5 and len(clf.loss_curve_) == 10
    assert clf.t_ == 10 * 120 and not np.array_equal(w1, clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        _quiet(clf, X[y < 2], y[y < 2])
    cold = _quiet(MLPClassifier(max_iter=5, random_state=0, tol=0), X, y)
    _quiet(cold, X, y)
    assert len(cold.loss_curve_) == 5  # without warm_start fit starts over


def test_stopping_rules_and_early_stopping():
    X, y = _blobs(n=200)
    clf = MLPClassifier(max_iter=500, learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    es = MLPClassifier(early_stopping=True, n_iter_no_change=3, learning_rate_init=0.05,
                       max_iter=500, random_state=0).fit(X, y)  # fmt: skip
    assert es.n_iter_ < 500 and es.best_loss_ is None
    assert len(es.validation_scores_) == es.n_iter_ == len(es.loss_curve_)
    assert es.best_validation_score_ == max(es.validation_scores_) > 0.8
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(es)).predict(X), es.predict(X))
    ad = MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.5,
                       n_iter_no_change=2, max_iter=300, random_state=0).fit(X, y)  # fmt: skip
    assert ad._trainer.optimizer.base_lr <= 1e-6  # divided by 5 until it reached 1e-6
    inv = _quiet(MLPClassifier(solver="sgd", learning_rate="invscaling", max_iter=3), X, y)
    assert inv._trainer.optimizer.base_lr == pytest.approx(0.001 / (3 * 200 + 1) ** 0.5)


def test_verbose_prints_scikit_learns_progress_lines(capsys):
    X, y = _blobs()
    _quiet(MLPClassifier(verbose=True, max_iter=2, early_stopping=True), X, y)
    _quiet(MLPClassifier(verbose=True, max_iter=2, solver="lbfgs"), X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and out[1].startswith("Validation score: ")
    assert out[4].startswith("Iteration 1, loss = ") and len(out) == 6


def test_lbfgs_respects_max_iter_and_max_fun():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and clf.loss_ == clf.loss_curve_[-1]
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(solver="lbfgs", max_fun=2, random_state=0).fit(X, y)
    good = MLPClassifier(solver="lbfgs", random_state=0).fit(X, y)
    assert good.score(X, y) > 0.9


def test_integer_sample_weights_equal_repeated_rows_with_lbfgs():
    X, y = _blobs(n=60)
    w = np.random.default_rng(0).integers(0, 4, size=60)
    kw = dict(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=50, random_state=0, tol=0)
    a = _quiet(MLPClassifier(**kw), X, y, sample_weight=w)
    b = _quiet(MLPClassifier(**kw), np.repeat(X, w, axis=0), np.repeat(y, w))
    assert a.loss_curve_[0] == pytest.approx(b.loss_curve_[0], rel=1e-10)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)
    r = MLPRegressor(**kw)
    ra = _quiet(r, X, X[:, 0] * 3 + 1, sample_weight=w)
    rb = _quiet(MLPRegressor(**kw), np.repeat(X, w, axis=0), np.repeat(X[:, 0] * 3 + 1, w))
    np.testing.assert_allclose(ra.target_mean_, rb.target_mean_)
    np.testing.assert_allclose(ra.predict(X), rb.predict(X), atol=1e-4)


def test_sample_weight_changes_the_stochastic_fit():
    X, y = _blobs()
    w = np.where(y == 0, 5.0, 1.0)
    a = _quiet(MLPClassifier(max_iter=5, random_state=0), X, y)
    b = _quiet(MLPClassifier(max_iter=5, random_state=0), X, y, sample_weight=w)
    assert not np.allclose(a.loss_curve_, b.loss_curve_)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier().fit(X, y, sample_weight=np.ones(3))


def test_target_scaling_round_trip():
    X, y = _blobs()
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * X[:, 3] ** 2
    a = _quiet(MLPRegressor(random_state=0, max_iter=30), X, y)
    b = _quiet(MLPRegressor(random_state=0, max_iter=30), X, 1000.0 * y - 250.0)
    # the standardised problem is the same, so the predictions map exactly
    np.testing.assert_allclose(b.predict(X), 1000.0 * a.predict(X) - 250.0, rtol=1e-9)
    assert b.target_mean_ == pytest.approx(1000.0 * y.mean() - 250.0)
    assert b.target_scale_ == pytest.approx(1000.0 * y.std())
    raw = _quiet(MLPRegressor(random_state=0, max_iter=30, standardize_targets=False), X, y)
    assert raw.target_scale_ == 1.0 and raw.target_mean_ == 0.0
    assert b.score(X, 1000.0 * y - 250.0) > 0.9
    pois = MLPRegressor(loss="poisson", max_iter=5, random_state=0)
    _quiet(pois, X, np.abs(np.round(y)))
    assert pois.target_scale_ == 1.0 and pois.out_activation_ == "exp"


# ---------------------------------------------------------------------- the doctor
def test_the_doctor_says_why_in_the_convergence_warning():
    X, y = _blobs()
    clf = MLPClassifier(learning_rate_init=1e-7, max_iter=5, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\).*doctor: flat_loss"):
        clf.fit(X, y)
    assert [f.id for f in clf.diagnose()] == ["flat_loss"]
    quiet = MLPClassifier(learning_rate_init=1e-7, max_iter=5, n_iter_no_change=np.inf,
                          doctor=False)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.fit(X, y)
    assert "doctor" not in str(caught[0].message) and quiet.diagnose() == []
    bad = MLPClassifier(solver="sgd", learning_rate_init=1.0, max_iter=10, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning, match="doctor: .*exploding_gradient"):
        bad.fit(100 * X, y)
    kw = dict(max_iter=15, n_iter_no_change=np.inf, random_state=0)
    dead = MLPClassifier(hidden_layer_sizes=(20, 20, 20), learning_rate_init=0.2, **kw)
    with pytest.warns(ConvergenceWarning, match="doctor: dead_relu: .* never activate"):
        dead.fit(5 * X, y)
    flat = MLPClassifier(activation="logistic", hidden_layer_sizes=(30,), init="normal", **kw)
    with pytest.warns(ConvergenceWarning, match=r"doctor: saturation: .*\| flat_loss"):
        flat.set_params(learning_rate_init=1e-4).fit(5 * X, y)
    good = MLPClassifier(random_state=0, max_iter=300).fit(X, y)
    assert good.diagnose() == []


# ---------------------------------------------------------------------- interoperability
def test_clone_pickle_set_output_pipeline_and_random_state():
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"),
                         MLPClassifier(max_iter=5, random_state=3))  # fmt: skip
    _quiet(pipe, df, y)
    assert pipe[-1].feature_names_in_.tolist() == ["a", "b", "c", "d"]
    twin = _quiet(clone(pipe), df, y)
    np.testing.assert_array_equal(twin.predict_proba(df), pipe.predict_proba(df))
    copy = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(copy.predict_proba(df), pipe.predict_proba(df))
    copy[-1].partial_fit(copy[0].transform(df), y)
    np.random.seed(123)  # noqa: NPY002 - the global state must be left alone
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    _quiet(MLPClassifier(max_iter=3, early_stopping=True), X, y)  # random_state=None
    np.testing.assert_array_equal(before, np.random.get_state()[1])  # noqa: NPY002


def test_onnx_export_matches_predictions():
    pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    X, y = _blobs()
    models = [
        _quiet(MLPClassifier(max_iter=5, random_state=0), X, y),
        _quiet(MLPClassifier(max_iter=5, random_state=0), X, y == 0),
        _quiet(MLPRegressor(max_iter=5, random_state=0), X, np.column_stack([y * 50.0, X[:, 0]])),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, m in enumerate(models):
            path = f"{tmp}/m{i}.onnx"
            assert m.to_onnx(path)["outputs"] == ["logits", "output"]
            out = ort.InferenceSession(path).run(["output"], {"input": X})[0]
            want = m.predict(X) if i == 2 else m.predict_proba(X)[:, 1:] if i == 1 else None
            want = m.predict_proba(X) if want is None else want
            np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-9)


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
    _quiet(clf, X, y)
    types = [la["type"] for la in clf.network_.spec["layers"]]
    assert types == ["dense", "layernorm", "activation", "dropout"] * 2 + ["dense"]
    assert clf.network_.dtype == np.float32 and clf.predict_proba(X).dtype == np.float64
    assert clf._trainer.optimizer.name == "adamw" and clf._trainer.schedule.name == "cosine"
    sgd = _quiet(
        MLPClassifier(solver="sgd", momentum=0.5, nesterovs_momentum=False, max_iter=2), X, y
    )
    opt = sgd._trainer.optimizer
    assert (opt.name, opt.momentum, opt.nesterov) == ("sgd", 0.5, False)
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)


def test_torch_backend_matches_numpy_in_float64():
    pytest.importorskip("torch")
    X, y = _blobs()
    kw = dict(solver="sgd", learning_rate_init=0.05, max_iter=15, tol=0, batch_size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(random_state=0, **kw).fit(X, y)
        b = MLPClassifier(random_state=0, backend="torch", device="cpu", **kw).fit(X, y)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-8)
    c = pickle.loads(pickle.dumps(b))  # a torch-trained estimator pickles and continues
    c.partial_fit(X, y)
    assert c.n_iter_ == 1 and c.t_ == 16 * 120
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2]])
    kw["solver"] = "adam"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ra = MLPRegressor(random_state=1, **kw).fit(X, Y)
        rb = MLPRegressor(random_state=1, backend="torch", device="cpu", **kw).fit(X, Y)
    np.testing.assert_allclose(rb.predict(X), ra.predict(X), atol=1e-8)


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
