"""`mlplab train` on both backends runs the same loop: a 7-row training split with batch norm
and batch size 2 (the last batch would have one row) trains on NumPy and on torch with the same
loss curve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.cli import main

pytest.importorskip("torch")


def _ten_rows(path):
    rng = np.random.default_rng(0)
    lines = ["a,b,label"]
    for i in range(10):
        a, b = rng.uniform(-1, 1, size=2)
        lines.append(f"{a:.3f},{b:.3f},{i % 2}")
    path.write_text("\n".join(lines) + "\n")


def _curve(tmp_path, backend, capsys):
    out = tmp_path / backend
    argv = ["train", "--dataset", str(tmp_path / "ten.csv"), "--target", "label"]
    argv += ["--val-fraction", "0", "--test-fraction", "0.3", "--hidden", "4", "--norm", "batch"]
    argv += ["--batch-size", "2", "--epochs", "2", "--backend", backend, "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    records = json.loads((out / "history.json").read_text())["records"]
    return [r["train_loss"] for r in records], [r["train_accuracy"] for r in records]


def test_batchnorm_with_a_one_row_remainder_trains_alike_on_both_backends(tmp_path, capsys):
    _ten_rows(tmp_path / "ten.csv")
    loss_np, acc_np = _curve(tmp_path, "numpy", capsys)
    loss_t, acc_t = _curve(tmp_path, "torch", capsys)
    assert len(loss_np) == len(loss_t) == 2
    np.testing.assert_allclose(loss_t, loss_np, rtol=1e-5)  # float32 on both sides
    assert acc_t == acc_np
