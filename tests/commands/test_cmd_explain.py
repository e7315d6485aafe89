"""`mlplab explain DIR --index I`: attribution maps of a saved run, completeness reported."""

from __future__ import annotations

import json

import pytest
from threadpoolctl import threadpool_limits

from mlplab.cli import main


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / "mnist"
    with threadpool_limits(1):
        argv = ["train", "--dataset", "mnist", "--subset", "2000", "--hidden", "64"]
        assert main([*argv, "--epochs", "3", "--out", str(out), "--json"]) == 0
    return out


def _explain_json(capsys, *argv) -> dict:
    assert main(["explain", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_ig_on_mnist_is_complete_and_drawn(mnist_run, capsys):
    capsys.readouterr()
    rep = _explain_json(capsys, str(mnist_run), "--index", "0")
    assert rep["method"] == "ig" and rep["label"] == "7" and rep["split"] == "test"
    assert rep["target"] == int(rep["prediction"]) and rep["steps"] <= 300
    assert rep["completeness_relative"] <= 0.01
    assert abs(rep["sum"] - (rep["value"] - rep["baseline_value"])) == pytest.approx(
        rep["completeness_error"]
    )
    assert len(rep["attributions"]) == 784
    fig = mnist_run / "explain_test0_ig.png"
    assert rep["figure"] == str(fig) and fig.read_bytes()[:4] == b"\x89PNG"


def test_other_methods_targets_and_text_output(mnist_run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "sal.png"
    rep = _explain_json(
        capsys, str(mnist_run), "--index", "3", "--method", "saliency", "--target", "5",
        "--out", str(out),
    )  # fmt: skip
    assert rep["target"] == 5 and rep["completeness_error"] is None
    assert min(rep["attributions"]) >= 0 and out.is_file()
    argv = ["explain", str(mnist_run), "--index", "1", "--baseline", "mean", "--wrt", "output"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "completeness error" in text and "within" in text


def test_tabular_run_gets_a_bar_chart(tmp_path, capsys):
    out = tmp_path / "wine"
    argv = ["train", "--dataset", "wine", "--hidden", "16", "--epochs", "20"]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    rep = _explain_json(capsys, str(out), "--index", "2", "--target", "class_0")
    assert rep["target"] == 0 and rep["target_name"] == "class_0"
    assert len(rep["attributions"]) == 13 and rep["completeness_relative"] <= 0.01
    assert main(["explain", str(out), "--index", "2", "--method", "gradxinput"]) == 0
    assert "largest attributions" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--index", "99999"], "--index"),
        (["--index", "0", "--target", "cat"], "--target"),
        (["--index", "0", "--method", "saliency", "--steps", "50"], "--steps"),
    ],
)
def test_bad_input_exits_2(mnist_run, capsys, extra, words):
    capsys.readouterr()
    assert main(["explain", str(mnist_run), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
