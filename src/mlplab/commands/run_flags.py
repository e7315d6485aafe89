"""The argparse flags of a run's settings (one per :class:`~mlplab.runs.RunConfig` field), shared
by the commands that build or reopen runs.

All flags default to ``None``, so :func:`given_settings` can tell the flags a user typed from the
ones left out (a recipe or ``--resume`` then decides those).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mlplab.core.network import DTYPES
from mlplab.core.optim import SCHEDULES
from mlplab.errors import ConfigError
from mlplab.runs.settings import OPTIMIZER_CHOICES, TARGET_SCALING_CHOICES, RunConfig, is_csv

__all__ = [
    "add_data_args",
    "add_model_args",
    "add_train_args",
    "given_settings",
    "config_from_args",
]


def _int_list(text: str) -> list[int]:
    """``--hidden``: comma-separated widths ≥ 1, or ``none`` (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths like 256,256 (or 'none'); got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"layer widths must be at least 1; got {text!r} (for no hidden layer write "
            "--hidden none)"
        )
    return values


def _str_list(text: str) -> list[str]:
    values = [t.strip() for t in text.split(",")]
    if not all(values):
        raise argparse.ArgumentTypeError(f"expected comma-separated names; got {text!r}")
    return values


def add_data_args(parser) -> None:
    """``--dataset --target --data-dir --subset --noise --val-fraction --test-fraction --seed``."""
    g = parser.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default=None,
        metavar="NAME|FILE.csv",
        help="a built-in data set (see `mlplab datasets`) or a CSV file with a header row",
    )
    g.add_argument(
        "--target",
        type=_str_list,
        default=None,
        metavar="COL[,COL]",
        help="target column(s) of a CSV file",
    )
    g.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="mnist: read MNIST-format files from DIR instead of the embedded copy",
    )
    g.add_argument(
        "--subset",
        type=int,
        default=None,
        metavar="N",
        help="use N samples (mnist: the first N training images; others: N generated/sampled)",
    )
    g.add_argument("--noise", type=float, default=None, help="noise level of a synthetic set")
    g.add_argument(
        "--val-fraction", type=float, default=None, help="validation share (default 0.1)"
    )
    g.add_argument("--test-fraction", type=float, default=None, help="test share (default 0.2)")
    g.add_argument("--seed", type=int, default=None, help="seed of data, init and order (0)")
    g.add_argument(
        "--target-scaling",
        default=None,
        choices=TARGET_SCALING_CHOICES,
        help="auto: train regression on targets standardised with the training split's mean "
        "and std, folded back into the saved model (which predicts raw units); none: raw "
        "targets (auto)",
    )


def add_model_args(parser) -> None:
    """``--hidden --activation/--activations --head --init --dropout --input-dropout --norm
    --dtype``."""
    g = parser.add_argument_group("model")
    g.add_argument(
        "--hidden",
        type=_int_list,
        default=None,
        metavar="W[,W...]",
        help="hidden layer widths (default 256,256; 'none' for no hidden layer)",
    )
    acts = g.add_mutually_exclusive_group()
    acts.add_argument("--activation", default=None, help="activation of every hidden layer (relu)")
    acts.add_argument(
        "--activations",
        type=_str_list,
        default=None,
        metavar="A[,A...]",
        help="one activation per hidden layer, e.g. relu,tanh",
    )
    g.add_argument(
        "--members",
        type=int,
        default=None,
        metavar="K",
        help="train K networks (other initial weights and batch orders, the same data) and "
        "average their logits; model.npz is the one MLP that computes the average, with "
        "block-diagonal hidden weights (1)",
    )
    g.add_argument(
        "--head",
        default=None,
        help="output head: auto (the task's canonical head) or sigmoid_bce, softmax_ce, "
        "identity_mse, identity_mae, multilabel_bce, exp_poisson",
    )
    g.add_argument("--init", default=None, help="weight init: auto (He for ReLU, else Xavier) …")
    g.add_argument("--dropout", type=float, default=None, help="dropout after each hidden layer")
    g.add_argument("--input-dropout", type=float, default=None, help="dropout on the inputs (0)")
    g.add_argument("--norm", default=None, choices=["none", "batch", "layer"], help="(none)")
    g.add_argument("--dtype", default=None, choices=list(DTYPES), help="(float32)")


def add_train_args(parser) -> None:
    """Optimizer, schedule, epochs, batch size and the regularizers."""
    g = parser.add_argument_group("training")
    g.add_argument("--optimizer", default=None, choices=OPTIMIZER_CHOICES, help="(adam)")
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (adam/adamw 2e-3, sgd 0.05, momentum/nesterov 0.01)",
    )
    g.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    g.add_argument("--schedule", default=None, choices=SCHEDULES, help="lr schedule (cosine)")
    g.add_argument("--epochs", type=int, default=None, help="(10)")
    g.add_argument("--batch-size", type=int, default=None, help="(128)")
    g.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="optimizer weight decay: coupled for sgd/adam, decoupled for adamw (0.01)",
    )
    g.add_argument("--l1", type=float, default=None, help="L1 penalty on weights (0)")
    g.add_argument("--l2", type=float, default=None, help="L2 penalty ½λ‖W‖² on weights (0)")
    g.add_argument("--max-norm", type=float, default=None, help="max norm of each unit's weights")
    g.add_argument("--clip-grad-norm", type=float, default=None, help="clip the gradient norm")
    g.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="N",
        help="stop after N epochs without a better validation loss; keep the best weights",
    )
    g.add_argument(
        "--step",
        default=None,
        choices=["exact", "fused", "reference"],
        help="NumPy engine's step: exact (the fast step, bit for bit the reference), fused "
        "(SGD, momentum or Nesterov folded into the weight-gradient products on NumPy's "
        "BLAS; equal within float rounding, no gradients for --doctor/--l1/--l2/--clip) or "
        "reference (the readable definition, slowest) (exact)",
    )
    g.add_argument(
        "--backend",
        default=None,
        choices=["numpy", "torch"],
        help="engine: numpy, or the same loop on PyTorch (numpy)",
    )
    g.add_argument(
        "--device", default=None, choices=["auto", "cpu", "cuda"], help="torch device (auto)"
    )
    g.add_argument(
        "--precision",
        default=None,
        choices=["fp32", "bf16"],
        help="torch precision; bf16 = autocast with float32 weights (fp32)",
    )


def given_settings(args) -> dict:
    """The :class:`RunConfig` fields set on the command line (flags whose value is not None)."""
    out = {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            out[f.name] = value
    return out


def config_from_args(args, *, defaults: dict | None = None) -> RunConfig:
    """A resolved :class:`RunConfig`: the flags given, else ``defaults``, else the field defaults.

    ``defaults`` lets a caller (a recipe) change what an absent flag means without overriding
    what the user typed.  CSV paths and ``--data-dir`` are made absolute so that ``--resume``
    works from another folder.
    """
    values = {**(defaults or {}), **given_settings(args)}
    try:
        cfg = RunConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"unknown setting: {exc}") from None
    if is_csv(cfg.dataset):
        cfg.dataset = str(Path(cfg.dataset).expanduser().resolve())
    if cfg.data_dir is not None:
        cfg.data_dir = str(Path(cfg.data_dir).expanduser().resolve())
    return cfg.resolved()
