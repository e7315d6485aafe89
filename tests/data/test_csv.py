"""CSV loading: task inference, label mapping, and one clear error per kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.data import load_csv, load_dataset
from mlplab.errors import ConfigError, DataError


def write_csv(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def table(header: str, rows, n: int | None = None) -> str:
    """A CSV text: the header and then ``rows`` (repeated to ``n`` rows if given)."""
    rows = list(rows)
    if n is not None:
        rows = [rows[i % len(rows)] for i in range(n)]
    return header + "\n" + "\n".join(rows) + "\n"


def ramp(n: int, label):
    """``n`` rows ``a,b,<label(i)>`` with distinct features."""
    return [f"{i},{(i * 7) % 11},{label(i)}" for i in range(n)]


# --- task inference and labels ----------------------------------------------------------


def test_binary_inferred_from_two_integers(tmp_path):
    path = write_csv(tmp_path, table("a,b,y", ramp(50, lambda i: i % 2)))
    ds = load_csv(path, "y")
    assert ds.task == "binary" and ds.class_names == ["0", "1"]
    assert ds.feature_names == ["a", "b"] and ds.n_outputs == 1
    assert ds.y_train.dtype == np.int64
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (35, 5, 10)
    assert ds.name == "data.csv"


def test_multiclass_labels_mapped_to_ids(tmp_path):
    path = write_csv(tmp_path, table("a,b,y", ramp(60, lambda i: [7, 3, 5][i % 3])))
    ds = load_csv(path, "y", seed=1)
    assert ds.task == "multiclass" and ds.class_names == ["3", "5", "7"]
    X = np.vstack([ds.X_train, ds.X_val, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    a = X[:, 0] * ds.scale_[0] + ds.mean_[0]  # undo the z-score to find the row
    expected = np.array([7, 3, 5])[np.round(a).astype(int) % 3]
    np.testing.assert_array_equal(np.array([3, 5, 7])[y], expected)


def test_string_labels(tmp_path):
    path = write_csv(tmp_path, table("a,b,kind", ramp(30, lambda i: ["cat", "dog"][i % 2])))
    ds = load_csv(path, "kind")
    assert ds.task == "binary" and ds.class_names == ["cat", "dog"]


def test_float_or_many_integers_give_regression(tmp_path):
    floats = write_csv(tmp_path, table("a,b,y", ramp(30, lambda i: i / 3)), "f.csv")
    many = write_csv(tmp_path, table("a,b,y", ramp(30, lambda i: i)), "m.csv")
    for path in (floats, many):
        ds = load_csv(path, "y")
        assert ds.task == "regression" and ds.class_names is None
        assert ds.y_train.dtype == np.float64 and ds.y_train.ndim == 1


def test_multilabel_and_multi_output_regression(tmp_path):
    rows = [f"{i},{i % 5},{i % 2},{(i // 2) % 2}" for i in range(40)]
    ds = load_csv(write_csv(tmp_path, table("a,b,l1,l2", rows)), ["l1", "l2"])
    assert ds.task == "multilabel" and ds.class_names == ["l1", "l2"]
    assert ds.y_train.shape == (28, 2) and ds.n_outputs == 2
    assert ds.feature_names == ["a", "b"]

    rows = [f"{i},{i / 2},{i * 3}" for i in range(40)]
    ds = load_csv(write_csv(tmp_path, table("a,y1,y2", rows), "r.csv"), ["y1", "y2"])
    assert ds.task == "regression" and ds.y_train.shape == (28, 2)


def test_explicit_tasks(tmp_path):
    path = write_csv(tmp_path, table("a,b,y", ramp(40, lambda i: i % 4)))
    assert load_csv(path, "y", task="count").task == "count"
    assert load_csv(path, "y", task="regression").y_train.dtype == np.float64
    assert load_csv(path, "y", task="multiclass").n_outputs == 4
    with pytest.raises(DataError, match="binary needs 2 classes in 'y'; got 4"):
        load_csv(path, "y", task="binary")
    with pytest.raises(ConfigError, match="task must be one of"):
        load_csv(path, "y", task="ranking")


def test_standardisation_from_training_rows_only(tmp_path):
    path = write_csv(tmp_path, table("a,b,y", ramp(100, lambda i: i % 2)))
    ds = load_csv(path, "y", seed=3)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.all(ds.X_test.mean(axis=0) != 0.0)
    raw = load_csv(path, "y", seed=3, standardize=False)
    np.testing.assert_allclose(ds.transform(raw.X_test), ds.X_test)


def test_quoted_fields_blank_lines_and_bom(tmp_path):
    text = '\ufeff"a","b","y"\n1,2,0\n\n"3",4,1\n5,6,0\n7,8,1\n'
    ds = load_csv(write_csv(tmp_path, text), "y", val_fraction=0.0, test_fraction=0.0)
    assert ds.feature_names == ["a", "b"] and len(ds.X_train) == 4


def test_load_dataset_dispatches_on_csv(tmp_path):
    path = write_csv(tmp_path, table("a,b,y", ramp(30, lambda i: i % 2)))
    ds = load_dataset(str(path), target="y", seed=0)
    assert ds.task == "binary"
    with pytest.raises(ConfigError, match="takes no option"):
        load_dataset(str(path), target="y", noise=0.1)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,0\n3,x,1\n", r"line 3, column 2 \('b'\): non-numeric value 'x'"),
        ("a,b,y\n1,2,0\n3,,1\n", r"line 3, column 2 \('b'\): empty value"),
        ("a,b,y\n1,2,0\n3,nan,1\n", r"line 3, column 2 \('b'\): 'nan' is not a finite number"),
        ("a,b,y\n1,2,0\n3,4,1\n5,6,-inf\n", r"line 4, column 3 \('y'\): '-inf' is not a finite"),
        ("a,b,y\n1,2,0\n3,4\n", r"line 3: 2 fields but the header has 3; column 3 \('y'\)"),
        ("a,b,y\n1,2,0\n3,4,1,9\n", r"line 3: 4 fields but the header has 3; column 4 and after"),
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("a,b,y\n", "only a header row, no data rows"),
        ("a,b,x\n1,2,0\n", r"no target column 'y'; the columns are a, b, x"),
        ("a,b,y\n1,2,1\n3,4,1\n", r"target column 'y' has a single class '1'"),
        ("a,a,y\n1,2,0\n", r"line 1, column 2: duplicate column name 'a'"),
        ("a,,y\n1,2,0\n", r"line 1, column 2: empty column name"),
        ("y\n1\n0\n", "no feature columns"),
    ],
)
def test_bad_file_gives_located_data_error(tmp_path, text, message):
    path = write_csv(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        load_csv(path, "y")
    assert str(info.value).startswith(str(path))


def test_target_errors_with_line_and_column(tmp_path):
    path = write_csv(tmp_path, "a,y1,y2\n1,0,1\n2,1,0\n3,1,2\n")
    with pytest.raises(DataError, match=r"line 4, column 3 \('y2'\): 2 is not a 0/1 label"):
        load_csv(path, ["y1", "y2"], task="multilabel")
    path = write_csv(tmp_path, "a,y\n1,2\n2,-1\n", "neg.csv")
    with pytest.raises(DataError, match=r"line 3, column 2 \('y'\): -1 is not a non-negative"):
        load_csv(path, "y", task="count")
    path = write_csv(tmp_path, "a,y\n1,cat\n2,\n", "gap.csv")
    with pytest.raises(DataError, match=r"line 3, column 2 \('y'\): empty target value"):
        load_csv(path, "y")
    with pytest.raises(DataError, match=r"line 2, column 2 \('y'\): non-numeric value 'cat'"):
        load_csv(path, "y", task="regression")


def test_missing_file_and_bad_target_argument(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "nope.csv", "y")
    path = write_csv(tmp_path, "a,y\n1,2\n")
    with pytest.raises(ConfigError, match="at least one column"):
        load_csv(path, [])
    with pytest.raises(DataError, match="one target column"):
        load_csv(write_csv(tmp_path, "a,y,z\n1,0,1\n", "two.csv"), ["y", "z"], task="binary")


def test_too_few_rows_for_a_training_split(tmp_path):
    path = write_csv(tmp_path, "a,y\n1,0.5\n2,1.5\n")
    with pytest.raises(DataError, match="none for the training split"):
        load_csv(path, "y", val_fraction=0.5, test_fraction=0.49)
