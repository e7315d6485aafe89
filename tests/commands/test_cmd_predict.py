"""`mlplab predict`: predictions and class probabilities of a saved run for a CSV file."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.runs import RunDir


def _write(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")


def _train(tmp_path, *argv) -> str:
    out = str(tmp_path / "run")
    assert main(["train", *argv, "--json", "--out", out]) == 0
    return out


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_classifier_predictions_and_probabilities(tmp_path, capsys):
    run = _train(tmp_path, "--dataset", "blobs", "--hidden", "8", "--epochs", "10", "--lr", "0.02")
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 4.0, size=(25, 2))  # raw inputs, in the units of the data set
    _write(tmp_path / "in.csv", ["x2", "x1"], X[:, ::-1])  # columns in another order
    capsys.readouterr()
    assert main(["predict", run, str(tmp_path / "in.csv")]) == 0
    rows = _read(capsys.readouterr().out)
    assert rows[0] == ["prediction", "p_0", "p_1", "p_2"] and len(rows) == 26
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-6)
    rd = RunDir(run)
    model, _ = rd.load_model()
    expected = model.predict_proba(rd.transform(X))  # the saved scaler is applied
    np.testing.assert_allclose(P, expected, rtol=1e-6, atol=1e-7)
    assert [r[0] for r in rows[1:]] == [str(k) for k in expected.argmax(1)]


def test_regression_predictions_to_a_file(tmp_path, capsys):
    run = _train(tmp_path, "--dataset", "sin", "--hidden", "16", "--epochs", "3")
    x = np.linspace(-3, 3, 7)
    _write(tmp_path / "in.csv", ["x"], x[:, None])
    out = tmp_path / "pred.csv"
    assert main(["predict", run, str(tmp_path / "in.csv"), "--out", str(out)]) == 0
    assert "7 predictions" in capsys.readouterr().err
    rows = _read(out.read_text())
    assert rows[0] == ["prediction"] and len(rows) == 8
    rd = RunDir(run)
    model, _ = rd.load_model()
    got = np.array([float(r[0]) for r in rows[1:]])
    np.testing.assert_allclose(got, model.output(rd.transform(x[:, None])).ravel(), rtol=1e-6)


def test_csv_target_column_is_ignored_and_named_in_the_output(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 2))
    y = 3 * X[:, 0] - X[:, 1]
    _write(tmp_path / "train.csv", ["u", "v", "price"], np.column_stack([X, y]))
    run = _train(
        tmp_path, "--dataset", str(tmp_path / "train.csv"), "--target", "price",
        "--hidden", "8", "--epochs", "2",
    )  # fmt: skip
    capsys.readouterr()
    assert main(["predict", run, str(tmp_path / "train.csv")]) == 0  # price column: ignored
    rows = _read(capsys.readouterr().out)
    assert rows[0] == ["price"] and len(rows) == 121


@pytest.mark.parametrize(
    "header, rows, needle",
    [
        (["x1"], [[1.0]], "missing feature column(s) x2"),
        (["x1", "x2", "id"], [[1, 2, 3]], "unexpected column(s) id"),
        (["x1", "x2"], [[1, "n/a"]], "line 2, column 2 ('x2'): non-numeric value 'n/a'"),
        (["x1", "x2"], [[1, 2, 3]], "line 2: 3 fields"),
    ],
)
def test_bad_csv_exits_2(header, rows, needle, tmp_path, capsys):
    run = _train(tmp_path, "--dataset", "xor", "--hidden", "4", "--epochs", "1")
    _write(tmp_path / "in.csv", header, rows)
    capsys.readouterr()
    assert main(["predict", run, str(tmp_path / "in.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlplab predict: error:") and needle in err


def test_missing_csv_and_missing_run_exit_2(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path / "in.csv")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    run = _train(tmp_path, "--dataset", "xor", "--hidden", "4", "--epochs", "1")
    capsys.readouterr()
    assert main(["predict", run, str(tmp_path / "nope.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
