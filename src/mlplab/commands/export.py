"""``mlplab export DIR --onnx FILE``: a trained model as an ONNX graph, checked with onnxruntime."""

from __future__ import annotations

from pathlib import Path

from mlplab.errors import CheckpointError, ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX",
        description=(
            "Read DIR/model.npz (the run folder written by `mlplab train`; a .npz file path also "
            "works) and write an ONNX graph with input 'input' (batch, features) and two outputs: "
            "'logits' (the last layer's z) and 'output' (the head's prediction: probabilities "
            "for classifiers, values for regression, rates for counts). Eval mode: dropout off, "
            "batch norm with its running statistics. The file is written atomically, then "
            "loaded in onnxruntime and compared with mlplab's own outputs on random inputs."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help="run folder holding model.npz (or a .npz file)")
    p.add_argument("--onnx", required=True, metavar="FILE", help="where to write the ONNX model")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the onnxruntime comparison after writing",
    )
    p.set_defaults(func=run)


def model_path(run_dir) -> Path:
    """``DIR/model.npz``, or ``run_dir`` itself when it is a file."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / "model.npz"
    if not path.is_file():
        raise CheckpointError(f"no model file at {str(path)!r} (expected DIR/model.npz)")
    return path


def verify_onnx(model, onnx_path, *, n: int = 64, seed: int = 0) -> float:
    """Largest scale-aware difference ``max|a − b| / max(1, max|b|)`` between onnxruntime (a)
    and mlplab (b), over both outputs, on ``n`` standard-normal rows."""
    import numpy as np
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, model.input_dim)).astype(model.dtype)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits, output = sess.run(["logits", "output"], {"input": X})
    z = model.forward(X)
    errs = [
        np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))
        for a, b in ((logits, z), (output, model.head.output(z)))
    ]
    return float(max(errs))


def run(args) -> int:
    try:
        from mlplab.backends.torch import export_onnx
    except ImportError:
        raise ConfigError("export needs PyTorch and onnx: pip install 'mlplab[torch]'") from None
    from mlplab.io import load_network

    if not 9 <= args.opset <= 23:
        raise ConfigError(f"--opset must be an integer in [9, 23], got {args.opset}")
    src = model_path(args.run_dir)
    model = load_network(src)
    out = Path(args.onnx)
    if out.parent and not out.parent.is_dir():
        raise ConfigError(f"--onnx: folder {str(out.parent)!r} does not exist")
    try:
        export_onnx(model, out, opset=args.opset)
    except RuntimeError as exc:  # torch.onnx's errors (unsupported operator at this opset …)
        raise ConfigError(f"ONNX export failed at opset {args.opset}: {exc}") from None
    line = (
        f"wrote {out} (opset {args.opset}, {model.dtype.name}; input 'input' "
        f"(batch, {model.input_dim}); outputs 'logits' and 'output' = {model.head.activation} "
        f"of {model.head.name}, (batch, {model.output_dim}))"
    )
    print(line)
    if not args.no_verify:
        err = verify_onnx(model, out)
        tol = 1e-5 if model.dtype.name == "float32" else 1e-10
        print(f"onnxruntime vs mlplab: max relative difference {err:.1e} (tolerance {tol:.0e})")
        if not err <= tol:
            return 1
    return 0
