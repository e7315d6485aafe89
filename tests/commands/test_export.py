"""``mlplab export DIR --onnx FILE``: onnxruntime reproduces mlplab's outputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from mlplab.backends.torch import export_onnx  # noqa: E402
from mlplab.cli import main  # noqa: E402
from mlplab.core.network import Network, mlp_spec  # noqa: E402
from mlplab.io import save_network  # noqa: E402

SPECS = {
    "softmax-relu-f32": mlp_spec([5, 8, 7, 3], "relu", dtype="float32"),
    "bce-prelu-batchnorm-dropout": mlp_spec(
        [5, 8, 1], {"name": "prelu", "alpha": 0.2}, head="sigmoid_bce", norm="batch", dropout=0.3
    ),
    "multilabel-gelu-layernorm": mlp_spec([5, 6, 4], "gelu", head="multilabel_bce", norm="layer"),
    "mse-tanh-f64": mlp_spec([5, 6, 2], "tanh", head="identity_mse", dtype="float64"),
    "poisson-silu": mlp_spec([5, 6, 2], "silu", head="exp_poisson", init_std=0.3),
    "hardswish-elu": mlp_spec([5, 6, 6, 3], activations=["hardswish", "elu"]),
}


def _ort(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["logits", "output"]
    return sess.run(None, {"input": X})


@pytest.mark.parametrize("name", list(SPECS))
def test_onnxruntime_matches_mlplab(name, tmp_path):
    rng = np.random.default_rng(1)
    model = Network(SPECS[name], rng=rng)
    for k, buf in model.named_buffers().items():  # non-trivial batch-norm statistics
        if k.endswith("running_mean"):
            buf[...] = rng.normal(size=buf.shape)
        elif k.endswith("running_var"):
            buf[...] = rng.uniform(0.5, 2.0, size=buf.shape)
    info = export_onnx(model, tmp_path / "m.onnx")
    assert info["outputs"] == ["logits", "output"]
    X = rng.normal(size=(33, 5)).astype(model.dtype)  # a batch size other than the example's
    logits, output = _ort(tmp_path / "m.onnx", X)
    assert logits.dtype == model.dtype and logits.shape == (33, model.output_dim)
    np.testing.assert_allclose(logits, model.forward(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(output, model.output(X), rtol=1e-5, atol=1e-5)


def test_cli_export_from_run_dir(tmp_path, capsys):
    model = Network(SPECS["softmax-relu-f32"], rng=0)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_network(model, run_dir / "model.npz")
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--onnx", str(out)]) == 0
    text = capsys.readouterr().out
    assert "outputs 'logits' and 'output'" in text and "onnxruntime vs mlplab" in text
    X = np.random.default_rng(2).normal(size=(10, 5)).astype(np.float32)
    _, output = _ort(out, X)
    np.testing.assert_allclose(output, model.predict_proba(X), atol=1e-5)
    # atomic: no temporary file is left next to the output
    assert sorted(os.listdir(tmp_path)) == ["model.onnx", "run"]
    # a .npz path works as well, and overwrites the previous file
    assert main(["export", str(run_dir / "model.npz"), "--onnx", str(out), "--no-verify"]) == 0


def test_cli_export_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "no model file" in capsys.readouterr().err
    save_network(Network(SPECS["mse-tanh-f64"]), tmp_path / "model.npz")
    missing = tmp_path / "nowhere" / "x.onnx"
    assert main(["export", str(tmp_path), "--onnx", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--onnx", str(tmp_path / "x.onnx"), "--opset", "3"]) == 2
    assert "--opset" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.npz").write_bytes(b"not a zip")
    assert main(["export", str(tmp_path / "bad"), "--onnx", str(tmp_path / "y.onnx")]) == 2
    assert "not a valid mlplab model" in capsys.readouterr().err
    assert not (tmp_path / "y.onnx").exists()
