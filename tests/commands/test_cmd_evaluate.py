"""`mlplab evaluate`: a saved run on its own test split, on another data set, and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.runs import RunDir


def _train(tmp_path, *argv) -> str:
    out = str(tmp_path / "run")
    assert main(["train", *argv, "--json", "--out", out]) == 0
    return out


def _csv(path, X, y, columns):
    """Write X (columns f1, f2, …) and the labels under ``columns``, in that order."""
    lines = [",".join(columns)]
    for row, label in zip(X, y):
        cells = {f"f{j + 1}": str(v) for j, v in enumerate(row)} | {"label": str(label)}
        lines.append(",".join(cells[c] for c in columns))
    path.write_text("\n".join(lines) + "\n")


def test_evaluate_reproduces_the_runs_test_metrics(tmp_path, capsys):
    out = _train(tmp_path, "--dataset", "blobs", "--hidden", "8", "--epochs", "5", "--lr", "0.01")
    capsys.readouterr()
    assert main(["evaluate", out, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert res["weights"] == "model.npz" and res["split"] == "test" and res["n"] == saved["n"]
    for key in ("loss", "accuracy", "confusion_matrix"):
        assert res[key] == saved[key]
    assert main(["evaluate", out, "--split", "train"]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "confusion matrix" in table


def test_evaluate_on_another_csv_maps_columns_scaler_and_classes(tmp_path, capsys):
    rng = np.random.default_rng(1)
    names = np.array(["a", "b", "c"])

    def labels(X):
        return names[np.digitize(X[:, 0], [3.0, 7.0])]

    X = rng.normal(5.0, 3.0, size=(600, 2))  # far from standardised: the scaler matters
    _csv(tmp_path / "train.csv", X, labels(X), ["f1", "f2", "label"])
    out = _train(
        tmp_path, "--dataset", str(tmp_path / "train.csv"), "--target", "label",
        "--hidden", "16", "--epochs", "30", "--lr", "0.02", "--batch-size", "32",
    )  # fmt: skip
    X2 = rng.normal(5.0, 3.0, size=(800, 2))
    X2 = X2[X2[:, 0] > 3.0][:250]  # classes b and c only: the loader numbers them 0 and 1
    _csv(tmp_path / "other.csv", X2, labels(X2), ["label", "f2", "f1"])  # other column order
    capsys.readouterr()
    assert main(["evaluate", out, "--dataset", str(tmp_path / "other.csv"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dataset"] == "other.csv" and res["n"] == 50  # default test fraction 0.2
    assert res["class_names"] == ["a", "b", "c"]
    cm = np.array(res["confusion_matrix"])
    assert cm[0].sum() == 0 and cm[1:].sum() == 50  # true labels mapped to the run's b, c
    assert res["accuracy"] >= 0.9


def test_evaluate_an_interrupted_run_uses_its_checkpoint(tmp_path, capsys):
    out = _train(tmp_path, "--dataset", "xor", "--hidden", "4", "--epochs", "2")
    (tmp_path / "run" / "model.npz").unlink()  # as if killed before the end
    capsys.readouterr()
    assert main(["evaluate", out, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["weights"] == "checkpoint.npz (epoch 2)"
    model, _ = RunDir(out).load_model()
    assert res["loss"] == json.loads((tmp_path / "run" / "metrics.json").read_text())["loss"]
    assert model.n_parameters == 4 * 2 + 4 + 4 + 1


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["evaluate", "{tmp}/missing"], "does not exist"),
        (["evaluate", "{tmp}"], "not a run folder"),
        (["evaluate", "{run}", "--dataset", "nope"], "unknown data set"),
        (["evaluate", "{run}", "--dataset", "digits"], "features"),
        (["evaluate", "{run}", "--dataset", "plane"], "regression"),
    ],
)
def test_evaluate_errors_exit_2(argv, needle, tmp_path, capsys):
    run = _train(tmp_path, "--dataset", "xor", "--hidden", "4", "--epochs", "1")
    capsys.readouterr()
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlplab evaluate: error:") and needle in err
