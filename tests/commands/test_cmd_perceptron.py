"""``mlplab perceptron`` and ``mlplab xor`` through the CLI's main()."""

import json

import pytest

from mlplab.cli import main

KEYS = {
    "converged",
    "epochs",
    "mistakes",
    "mistakes_per_epoch",
    "bound",
    "cycle_detected",
    "accuracy",
}


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_perceptron_json_on_truth_tables(capsys):
    out = _json(capsys, ["perceptron", "--dataset", "and", "--json"])
    assert KEYS <= set(out)
    assert out["converged"] and out["bound"] is not None and out["mistakes"] <= out["bound"]
    out = _json(capsys, ["perceptron", "--dataset", "xor", "--json", "--epochs", "300"])
    assert not out["converged"] and out["bound"] is None and out["cycle_detected"]
    assert out["epochs"] == 300 and min(out["mistakes_per_epoch"]) > 0


def test_perceptron_separable_pocket_and_plot(capsys, tmp_path):
    out = _json(capsys, ["perceptron", "--dataset", "separable", "--margin", "0.05", "--json"])
    assert out["converged"] and out["within_bound"] and out["generator_gamma"] > 0
    assert out["gamma"] >= out["generator_gamma"] - 1e-12
    plot = tmp_path / "m.png"
    out = _json(
        capsys,
        [
            "perceptron",
            "--dataset",
            "moons",
            "--pocket",
            "--epochs",
            "20",
            "--json",
            "--plot",
            str(plot),
        ],
    )
    assert out["accuracy"] >= out["last_accuracy"] and plot.exists()
    assert main(["perceptron", "--dataset", "blobs"]) == 0
    assert "converged" in capsys.readouterr().out


def test_perceptron_csv(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text(
        "a,b,label\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n2,2,1\n-1,0,0\n3,1,1\n0,-2,0\n2,3,1\n-2,-1,0\n"
    )
    out = _json(capsys, ["perceptron", "--dataset", str(csv), "--target", "label", "--json"])
    assert KEYS <= set(out) and out["n_features"] == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--dataset", "nope"],
        ["--lr", "-1"],
        ["--lr", "0"],
        ["--epochs", "0"],
        ["--dataset", "sin"],
        ["--dataset", "and", "--margin", "0.1"],
        ["--dataset", "separable", "--margin", "2"],
        ["--dataset", "blobs", "--plot", "x.gif"],
        ["--dataset", "missing.csv"],
        ["--epochs", "many"],
    ],
)
def test_perceptron_bad_input_exits_2(capsys, argv):
    assert_exit_2(capsys, ["perceptron", *argv])


def assert_exit_2(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse type errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
