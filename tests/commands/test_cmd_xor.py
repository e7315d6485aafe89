"""``mlplab xor`` through the CLI's main()."""

import json

import pytest

from mlplab.cli import main


def test_xor_json(capsys, tmp_path):
    plot = tmp_path / "xor.png"
    argv = [
        "xor",
        "--json",
        "--seeds",
        "4",
        "--epochs",
        "200",
        "--widths",
        "2,8",
        "--plot",
        str(plot),
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hand_built"]["exact"]
    assert [r["y"] for r in out["hand_built"]["truth_table"]] == [0, 1, 1, 0]
    assert out["perceptron"]["cycle_detected"] and not out["perceptron"]["mistake_free_epoch"]
    assert out["linear_collapse"]["max_abs_diff"] <= 1e-10
    assert out["best_linear_accuracy"] == 0.75
    cells = out["trained"]["cells"]
    assert {(c["activation"], c["width"]) for c in cells} == {
        (a, w) for a in ("sigmoid", "tanh", "relu") for w in (2, 8)
    }
    assert all(0.0 <= c["rate"] <= 1.0 for c in cells)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_xor_human_summary(capsys):
    assert (
        main(["xor", "--seeds", "2", "--epochs", "50", "--widths", "2", "--activations", "tanh"])
        == 0
    )
    text = capsys.readouterr().out
    assert "truth table exact: yes" in text and "0.75" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--seeds", "0"],
        ["--widths", "2,x"],
        ["--widths", "0"],
        ["--activations", "step"],
        ["--activations", "nope"],
        ["--lr", "0"],
        ["--plot", "a.txt"],
    ],
)
def test_xor_bad_input_exits_2(capsys, argv):
    assert main(["xor", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err
