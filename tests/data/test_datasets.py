"""Built-in data sets: tasks and shapes, determinism, train-only standardisation, known facts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.data import DATASETS, Dataset, list_datasets, load_dataset
from mlplab.errors import ConfigError, DataError

SMALL = sorted(set(DATASETS) - {"mnist"})
TRUTH_TABLES = ("and", "or", "xor4")
SPLITS = ("train", "val", "test")


def splits(ds: Dataset):
    return [(getattr(ds, f"X_{s}"), getattr(ds, f"y_{s}")) for s in SPLITS]


def check_shapes(ds: Dataset, task: str):
    assert ds.task == task
    d = ds.n_features
    assert len(ds.feature_names) == d
    for X, y in splits(ds):
        assert X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == d
        assert np.all(np.isfinite(X))
        assert len(y) == len(X)
        if task in ("binary", "multiclass"):
            assert y.dtype == np.int64 and y.ndim == 1
            assert 0 <= y.min() and y.max() < len(ds.class_names)
        elif task == "multilabel":
            assert y.shape == (len(X), ds.n_outputs)
            assert set(np.unique(y)) <= {0.0, 1.0}
        else:
            assert y.dtype == np.float64 and y.ndim in (1, 2)
    if task == "binary":
        assert ds.n_outputs == 1 and len(ds.class_names) == 2
    if task == "multiclass":
        assert ds.n_outputs == len(ds.class_names) >= 3
    if task in ("regression", "count"):
        assert ds.class_names is None
    if task == "count":
        assert np.all(ds.y_train >= 0) and np.all(ds.y_train == np.round(ds.y_train))


@pytest.mark.parametrize("name", SMALL)
def test_each_set_loads_with_its_task_and_shapes(name):
    ds = load_dataset(name, seed=1)
    check_shapes(ds, DATASETS[name].task)
    if name not in TRUTH_TABLES:
        n = len(ds.X_train) + len(ds.X_val) + len(ds.X_test)
        assert len(ds.X_test) == round(0.2 * n)
        assert len(ds.X_val) == round(0.1 * n)
    json.dumps(ds.info())


@pytest.mark.parametrize("name", SMALL)
def test_same_seed_same_arrays_different_seed_different(name):
    a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
    for (Xa, ya), (Xb, yb) in zip(splits(a), splits(b)):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    if name not in TRUTH_TABLES:
        c = load_dataset(name, seed=4)
        assert not np.array_equal(a.X_train, c.X_train)


def test_generator_as_seed():
    a = load_dataset("moons", seed=np.random.default_rng(7))
    b = load_dataset("moons", seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.X_train, b.X_train)


def test_list_datasets_matches_loaded_sets():
    rows = list_datasets()
    assert [row.name for row in rows] == list(DATASETS)
    for row in rows:
        if row.name == "mnist":
            assert (row.n_samples, row.n_features, row.n_outputs) == (70000, 784, 10)
            continue
        ds = load_dataset(row.name)
        assert row.task == ds.task
        assert row.n_features == ds.n_features
        assert row.n_outputs == ds.n_outputs
        if row.name not in TRUTH_TABLES:
            assert row.n_samples == len(ds.X_train) + len(ds.X_val) + len(ds.X_test)


# --- standardisation --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "diabetes", "xor", "tabular_irregular"])
def test_standardisation_uses_training_statistics_only(name):
    raw = load_dataset(name, seed=2, standardize=False)
    std = load_dataset(name, seed=2)
    assert raw.mean_ is None and raw.scale_ is None
    np.testing.assert_allclose(std.mean_, raw.X_train.mean(axis=0))
    np.testing.assert_allclose(std.scale_, raw.X_train.std(axis=0))
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.X_train.std(axis=0), 1.0)
    assert np.all(std.X_test.mean(axis=0) != 0.0)
    for s in SPLITS:
        np.testing.assert_allclose(std.transform(getattr(raw, f"X_{s}")), getattr(std, f"X_{s}"))
    np.testing.assert_array_equal(raw.y_train, std.y_train)  # targets untouched


def test_standardize_method_composes_with_existing_map():
    raw = load_dataset("digits", seed=0, standardize=False)
    pixels = load_dataset("digits", seed=0)
    np.testing.assert_array_equal(pixels.scale_, 16.0)
    assert pixels.X_train.max() == 1.0
    z = pixels.standardize()
    np.testing.assert_allclose(z.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.transform(raw.X_test), z.X_test)
    assert pixels.X_train.max() == 1.0  # the original is not modified


def test_constant_features_are_centred_not_divided():
    ds = load_dataset("digits", seed=0).standardize()
    assert np.all(np.isfinite(ds.X_train))
    assert np.all(ds.scale_ > 0)


def test_transform_checks_width():
    ds = load_dataset("wine")
    with pytest.raises(DataError, match="13 features"):
        ds.transform(np.zeros((2, 3)))


def test_classification_splits_are_stratified():
    ds = load_dataset("breast_cancer", seed=0)
    shares = [np.mean(y) for _, y in splits(ds)]
    assert max(shares) - min(shares) < 0.02


# --- MNIST ------------------------------------------------------------------------------------


def test_mnist_full_split_and_pixel_scale():
    ds = load_dataset("mnist", seed=0)
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (54000, 6000, 10000)
    check_shapes(ds, "multiclass")
    assert ds.image_shape == (28, 28) and ds.n_outputs == 10
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0
    np.testing.assert_array_equal(ds.scale_, 255.0)


def test_mnist_subset_and_raw_pixels():
    ds = load_dataset("mnist", subset=1000, seed=0, standardize=False)
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (900, 100, 10000)
    assert ds.X_train.max() == 255.0
    scaled = load_dataset("mnist", subset=1000, seed=0)
    np.testing.assert_allclose(scaled.transform(ds.X_val), scaled.X_val)
    other = load_dataset("mnist", subset=1000, seed=1)
    assert not np.array_equal(other.y_val, scaled.y_val)


# --- sets with known facts ----------------------------------------------------------------


@pytest.mark.parametrize(("margin", "n_features"), [(0.1, 2), (0.3, 2), (0.05, 10)])
def test_separable_set_has_its_margin(margin, n_features):
    ds = load_dataset("separable", seed=5, margin=margin, n_features=n_features)
    w, b = ds.meta["w_star"], ds.meta["b_star"]
    assert ds.meta["margin"] == margin
    assert np.isclose(np.linalg.norm(w), 1.0)
    for X, y in splits(ds):
        distance = X @ w + b
        assert np.all(np.abs(distance) >= margin)
        np.testing.assert_array_equal(y, (distance > 0).astype(int))
    assert ds.meta["min_margin"] >= margin
    assert ds.meta["radius"] >= np.linalg.norm(ds.X_train, axis=1).max()
    assert 0 < ds.y_train.mean() < 1


@pytest.mark.parametrize(
    ("name", "truth"), [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("xor4", [0, 1, 1, 0])]
)
def test_truth_tables_are_exact_and_unsplit(name, truth):
    ds = load_dataset(name)
    for X, y in splits(ds):
        np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
        np.testing.assert_array_equal(y, truth)


def test_generating_parameters_hold_for_returned_X():
    plane = load_dataset("plane", seed=0)
    np.testing.assert_allclose(plane.X_train @ plane.meta["coef"], plane.y_train)
    sin = load_dataset("sin", seed=0, standardize=False)
    np.testing.assert_allclose(np.sin(sin.X_train[:, 0]), sin.y_train)
    assert sin.X_train.min() >= -2 * np.pi and sin.X_train.max() <= 2 * np.pi
    poisson = load_dataset("poisson", seed=0, n_samples=20000)
    rate = np.exp(poisson.X_train @ poisson.meta["beta_star"] + poisson.meta["intercept"])
    assert abs(np.mean(poisson.y_train - rate)) < 0.1


def test_multilabel_labels_vary():
    ds = load_dataset("multilabel", seed=0)
    assert ds.n_outputs == 5 and ds.y_train.shape[1] == 5
    assert np.all((ds.y_train.mean(axis=0) > 0.05) & (ds.y_train.mean(axis=0) < 0.95))


def test_options_reach_the_builder():
    blobs = load_dataset("blobs", n_classes=5, n_samples=500)
    assert blobs.n_outputs == 5 and len(np.unique(blobs.y_train)) == 5
    noisy = load_dataset("xor", noise=0.5, seed=0)
    clean = load_dataset("xor", noise=0.0, seed=0)
    assert not np.array_equal(noisy.y_train, clean.y_train)
    small = load_dataset("tabular_irregular", n_samples=100, n_uninformative=3)
    assert small.n_features == 13


# --- bad requests ----------------------------------------------------------------------------


def test_unknown_name_lists_valid_names():
    with pytest.raises(DataError, match="unknown data set 'mnits'.*mnist.*xor4"):
        load_dataset("mnits")


def test_bad_options():
    with pytest.raises(ConfigError, match="'xor' does not take subset"):
        load_dataset("xor", subset=10)
    with pytest.raises(ConfigError, match="does not take n_samples"):
        load_dataset("and", n_samples=10)
    with pytest.raises(ConfigError, match="target applies to CSV"):
        load_dataset("wine", target="y")
    with pytest.raises(ConfigError, match="val_fraction"):
        load_dataset("wine", val_fraction=1.5)
    with pytest.raises(ConfigError, match="below 1"):
        load_dataset("wine", val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match="noise"):
        load_dataset("moons", noise=-1)
    with pytest.raises(ConfigError, match="subset"):
        load_dataset("mnist", subset=0)


def test_csv_name_needs_target(tmp_path):
    with pytest.raises(DataError, match="needs target"):
        load_dataset(str(tmp_path / "data.csv"))


def test_no_validation_split():
    ds = load_dataset("moons", val_fraction=0.0)
    assert ds.X_val.shape == (0, 2) and ds.y_val.shape == (0,)
