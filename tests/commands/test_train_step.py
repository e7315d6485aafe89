"""`mlplab train --step`: the exact, fused and reference steps of the NumPy engine from the
command line — the fused one equal within rounding, the others bit for bit — and the
combinations the fused step cannot honour refused with one line and exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.io import load_network


def _train(tmp_path, step, capsys, *extra):
    out = tmp_path / step
    argv = ["train", "--dataset", "moons", "--hidden", "16,16", "--epochs", "3"]
    argv += ["--optimizer", "nesterov", "--lr", "0.05", "--batch-size", "32", "--json"]
    argv += ["--step", step, "--out", str(out), *extra]
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    spec = json.loads((out / "spec.json").read_text())
    history = json.loads((out / "history.json").read_text())["records"]
    return spec, history, load_network(out / "model.npz").state_dict()


def test_the_three_steps_train_alike(tmp_path, capsys):
    spec, h_exact, w_exact = _train(tmp_path, "exact", capsys)
    assert spec["config"]["step"] == "exact"
    _, h_ref, w_ref = _train(tmp_path, "reference", capsys)
    _, h_fused, w_fused = _train(tmp_path, "fused", capsys)
    for k in w_exact:
        np.testing.assert_array_equal(w_ref[k], w_exact[k])  # bit for bit
        scale = max(1.0, float(np.max(np.abs(w_exact[k]))))
        assert np.max(np.abs(w_fused[k] - w_exact[k])) <= 1e-4 * scale, k
    assert [r["train_loss"] for r in h_ref] == [r["train_loss"] for r in h_exact]
    np.testing.assert_allclose(
        [r["train_loss"] for r in h_fused], [r["train_loss"] for r in h_exact], rtol=1e-4
    )


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--optimizer", "adam"], "--step fused needs --optimizer"),
        (["--optimizer", "sgd", "--l2", "0.001"], "--l2"),
        (["--optimizer", "momentum", "--weight-decay", "0.01"], "--weight-decay"),
        (["--optimizer", "sgd", "--clip-grad-norm", "1"], "--clip-grad-norm"),
        (["--optimizer", "sgd", "--doctor"], "--doctor"),
        (["--optimizer", "sgd", "--backend", "torch"], "--step applies to --backend numpy"),
    ],
)
def test_what_the_fused_step_cannot_honour_is_refused(tmp_path, capsys, extra, words):
    argv = ["train", "--dataset", "moons", "--epochs", "1", "--step", "fused"]
    argv += ["--out", str(tmp_path / "r"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "r").exists()
