"""Training runs on disk: settings, run folders, checkpoints that lose nothing, results.

A *run* is one training of one model on one data set, kept in a folder::

    DIR/spec.json        settings (RunConfig), model spec, optimizer, schedule, data summary
    DIR/scaler.npz       the input map x ↦ (x − mean) / scale fitted on the training split, and
                         for regression the target map y ↦ (y − μ) / σ (see below)
    DIR/checkpoint.npz   Trainer.state_dict() after the last finished epoch (atomic, no pickle)
    DIR/model.npz        the final model (Network.save)
    DIR/history.json     one record per epoch; DIR/history.csv the same as a table
    DIR/curves.png       loss and metric per epoch, train vs validation
    DIR/metrics.json     test-split metrics (accuracy and confusion matrix, RMSE/MAE/R², deviance)

An *ensemble run* (``--members K``) keeps K ordinary runs in ``DIR/members/0 … K−1`` (same
settings and data, member m's seeds from ``run_rngs(seed, m)``) and, at the top, spec.json,
scaler.npz, history.json/.csv (every member's epochs, with a ``member`` column), metrics.json
and model.npz: the one MLP whose logits are the mean of the members' logits
(:func:`mlplab.core.ensemble.average_networks`).  Resuming it resumes the unfinished members.

The pieces, for commands and other front ends to reuse:

* :class:`RunConfig` — every setting of a run, validated; ``to_dict``/``from_dict``.
  :func:`add_data_args`, :func:`add_model_args`, :func:`add_train_args` add its flags to an
  argparse parser (all with default ``None``), :func:`config_from_args` turns parsed flags
  (plus optional lower-priority ``defaults``, e.g. a recipe) into a resolved config and
  :func:`given_settings` lists the flags a user actually typed.
* :func:`load_data`, :func:`model_spec`, :func:`build_model`, :func:`optimizer_spec`,
  :func:`build_trainer`, :func:`run_rngs` — the model-from-settings builder.
* :class:`RunDir` — the files of a run folder; :func:`pack_state`/:func:`unpack_state` store
  nested dicts of arrays without pickle; :class:`CheckpointCallback` writes the checkpoint.
* :func:`prepare_run`, :func:`resume_run`, :func:`execute_run`, :func:`finish_run` — the whole
  workflow; :func:`evaluate_run` and :func:`predict_csv` use a finished run.

Resuming is exact: a checkpoint holds the weights, the optimizer state, the Generator's
``bit_generator`` state, the counters, the history and the early-stopping memory, so a run
killed at any point and resumed ends with the same weights, bit for bit, as one never stopped.
A checkpoint is written only at epoch boundaries (mid-epoch state cannot be resumed exactly);
an interrupted epoch is recomputed on resume.

Regression targets are standardised for training (``--target-scaling auto``, the default):
with an identity head (``identity_mse``/``identity_mae``) on a regression data set the network
learns ``y_s = (y − μ) / σ`` per output column, μ and σ (population std) from the training
split only; :func:`finish_run` then folds the map into the last Dense layer,
``W ← diag(σ) W``, ``b ← σ ⊙ b + μ``, which is exact for an identity head, so ``model.npz``
predicts raw targets and every user of a finished run works in the original units.  The
checkpoint keeps the standardised-space weights (resume recomputes the same μ, σ from the
same data); :meth:`RunDir.load_model` folds them when it falls back to the checkpoint.  The
losses in the history (``train_loss``, ``val_loss``) are therefore in standardised units
(½·MSE in units of σ², MAE in units of σ); ``val_r2`` is unchanged for one output.
``spec.json`` (``target_scaling``) and ``history.json`` (``target_standardized``) say so.
Counts (Poisson, log link) are never scaled; ``--target-scaling none`` trains on raw targets,
as do runs saved before the setting existed.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import signal
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.ensemble import average_networks
from mlplab.core.init import init_names
from mlplab.core.losses import get_head, head_for_task
from mlplab.core.network import DTYPES, Network, mlp_spec
from mlplab.core.optim import SCHEDULES, make_optimizer, make_schedule
from mlplab.core.train import Callback, TrainConfig, Trainer, evaluate
from mlplab.errors import CheckpointError, ConfigError, DataError, check_choice, check_range
from mlplab.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    ensure_dir,
    load_npz,
    npz_errors,
    read_bytes,
)

__all__ = [
    "RUN_FORMAT",
    "CHECKPOINT_FORMAT",
    "OPTIMIZER_CHOICES",
    "DEFAULT_LR",
    "RunConfig",
    "add_data_args",
    "add_model_args",
    "add_train_args",
    "config_from_args",
    "given_settings",
    "flag",
    "load_data",
    "compatible_heads",
    "TARGET_SCALING_CHOICES",
    "target_map",
    "fold_target_map",
    "model_spec",
    "build_model",
    "optimizer_spec",
    "train_config",
    "run_rngs",
    "build_trainer",
    "data_fingerprint",
    "pack_state",
    "unpack_state",
    "RunDir",
    "CheckpointCallback",
    "Run",
    "default_out",
    "prepare_run",
    "resume_run",
    "execute_run",
    "finish_run",
    "EnsembleRun",
    "prepare_ensemble",
    "execute_ensemble",
    "split_metrics",
    "plot_curves",
    "history_csv",
    "evaluate_run",
    "read_feature_csv",
    "predict_csv",
]

RUN_FORMAT = "mlplab.run/1"
CHECKPOINT_FORMAT = "mlplab.checkpoint/1"

#: ``--optimizer`` choices; ``momentum``/``nesterov`` are SGD with momentum 0.9 (or --momentum).
OPTIMIZER_CHOICES = ["sgd", "momentum", "nesterov", "adam", "adamw"]
#: Learning rate used when ``--lr`` is not given.  Adam at 2e-3 with the cosine schedule takes
#: a 784-256-256-10 ReLU net past 98 % on MNIST in 5 epochs (see the train command's help).
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adam": 2e-3, "adamw": 2e-3}
_SGD_FAMILY = ("sgd", "momentum", "nesterov")


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


def flag(name: str) -> str:
    """The command-line flag of a :class:`RunConfig` field (``batch_size`` → ``--batch-size``)."""
    return "--" + name.replace("_", "-")


@dataclass
class RunConfig:
    """Every setting of a run; what ``spec.json`` stores and ``--resume`` reads back.

    ``None`` in ``lr``, ``momentum`` and ``weight_decay`` means "the optimizer's usual value";
    :meth:`resolved` fills them in (lr from :data:`DEFAULT_LR`; momentum 0.9 for ``momentum``
    and ``nesterov``, 0 for ``sgd``; weight decay 0.01 for ``adamw``, else 0).  Weight decay is
    the optimizer's own: coupled (``g ← g + λw``) for sgd/adam, decoupled for adamw.

    To add a setting (a new flag), add a field here with its default and a flag whose ``dest``
    is the field name in one of the ``add_*_args`` functions; saving, resuming and the
    conflict check pick it up by name.
    """

    # data
    dataset: str = ""
    target: list[str] | None = None
    data_dir: str | None = None
    subset: int | None = None
    noise: float | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    target_scaling: str = "auto"
    # model
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    activations: list[str] | None = None
    head: str = "auto"
    init: str = "auto"
    dropout: float = 0.0
    input_dropout: float = 0.0
    norm: str = "none"
    dtype: str = "float32"
    # training
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float | None = None
    schedule: str = "cosine"
    epochs: int = 10
    batch_size: int = 128
    weight_decay: float | None = None
    l1: float = 0.0
    l2: float = 0.0
    max_norm: float | None = None
    clip_grad_norm: float | None = None
    early_stopping: int | None = None
    # ensembles: ``members`` networks whose logits are averaged (see execute_ensemble);
    # ``member`` is the index of one of them (0 for a plain run), which picks its seeds
    members: int = 1
    member: int = 0
    # engine (mlplab.backends.torch for "torch")
    backend: str = "numpy"
    device: str = "auto"
    precision: str = "fp32"

    def resolved(self) -> RunConfig:
        """A validated copy with every ``None`` that stands for a default filled in.

        Raises :class:`~mlplab.errors.ConfigError` naming the flag and its valid range.
        """
        c = dataclasses.replace(self)
        if not c.dataset:
            raise ConfigError("--dataset is required (a built-in name or a .csv file)")
        if c.subset is not None:
            c.subset = check_range("--subset", c.subset, 1, None, integer=True)
        if c.noise is not None:
            check_range("--noise", c.noise, 0.0, None)
        check_range("--val-fraction", c.val_fraction, 0.0, 1.0, hi_open=True)
        check_range("--test-fraction", c.test_fraction, 0.0, 1.0, hi_open=True)
        if c.val_fraction + c.test_fraction >= 1.0:
            raise ConfigError(
                f"--val-fraction + --test-fraction must be below 1; "
                f"got {c.val_fraction} + {c.test_fraction}"
            )
        c.seed = check_range("--seed", c.seed, 0, 2**63 - 1, integer=True)
        check_choice("--target-scaling", c.target_scaling, TARGET_SCALING_CHOICES)
        c.hidden = [check_range("--hidden", h, 1, None, integer=True) for h in c.hidden]
        get_activation(c.activation)
        if c.activations is not None:
            if len(c.activations) != len(c.hidden):
                raise ConfigError(
                    f"--activations gives {len(c.activations)} activation(s) for "
                    f"{len(c.hidden)} hidden layer(s) (--hidden); give one per layer"
                )
            for a in c.activations:
                get_activation(a)
        if c.head != "auto":
            c.head = get_head(c.head).name
        check_choice("--init", c.init, init_names())
        check_range("--dropout", c.dropout, 0.0, 1.0, hi_open=True)
        check_range("--input-dropout", c.input_dropout, 0.0, 1.0, hi_open=True)
        check_choice("--norm", c.norm, ["none", "batch", "layer"])
        check_choice("--dtype", c.dtype, list(DTYPES))
        check_choice("--optimizer", c.optimizer, OPTIMIZER_CHOICES)
        if c.lr is None:
            c.lr = DEFAULT_LR[c.optimizer]
        check_range("--lr", c.lr, 0.0, None, lo_open=True)
        if c.optimizer in _SGD_FAMILY:
            if c.momentum is None:
                c.momentum = 0.0 if c.optimizer == "sgd" else 0.9
            check_range("--momentum", c.momentum, 0.0, 1.0, hi_open=True)
            if c.optimizer == "nesterov" and c.momentum == 0:
                raise ConfigError("--momentum must be in (0, 1) for --optimizer nesterov")
        elif c.momentum is not None:
            raise ConfigError(
                f"--momentum applies to --optimizer {', '.join(_SGD_FAMILY)}; "
                f"{c.optimizer} has its own beta1"
            )
        check_choice("--schedule", c.schedule, SCHEDULES)
        c.epochs = check_range("--epochs", c.epochs, 1, None, integer=True)
        c.batch_size = check_range("--batch-size", c.batch_size, 1, None, integer=True)
        if c.weight_decay is None:
            c.weight_decay = 0.01 if c.optimizer == "adamw" else 0.0
        check_range("--weight-decay", c.weight_decay, 0.0, None)
        check_range("--l1", c.l1, 0.0, None)
        check_range("--l2", c.l2, 0.0, None)
        if c.max_norm is not None:
            check_range("--max-norm", c.max_norm, 0.0, None, lo_open=True)
        if c.clip_grad_norm is not None:
            check_range("--clip-grad-norm", c.clip_grad_norm, 0.0, None, lo_open=True)
        if c.early_stopping is not None:
            c.early_stopping = check_range(
                "--early-stopping", c.early_stopping, 1, None, integer=True
            )
            if c.val_fraction == 0:
                raise ConfigError("--early-stopping needs a validation split (--val-fraction > 0)")
        c.members = check_range("--members", c.members, 1, 64, integer=True)
        c.member = check_range("member", c.member, 0, None, integer=True)
        if c.members > 1:
            acts = c.activations or [c.activation]
            if c.norm == "layer" or any(get_activation(a).name == "prelu" for a in acts):
                raise ConfigError(
                    "--members > 1 averages networks side by side, which needs layers that act "
                    "on each unit alone: not --norm layer, not the prelu activation"
                )
        if _is_csv(c.dataset):
            if not c.target:
                raise ConfigError(f"--target is required for a CSV data set ({c.dataset})")
            if c.subset is not None or c.noise is not None:
                raise ConfigError("--subset and --noise apply to built-in data sets, not CSV files")
        check_choice("--backend", c.backend, ["numpy", "torch"])
        check_choice("--device", c.device, ["auto", "cpu", "cuda"])
        check_choice("--precision", c.precision, ["fp32", "bf16"])
        if c.backend == "numpy" and (c.device != "auto" or c.precision != "fp32"):
            raise ConfigError("--device and --precision apply to --backend torch")
        if c.precision == "bf16" and c.dtype != "float32":
            raise ConfigError("--precision bf16 needs --dtype float32")
        return c

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise CheckpointError (another version)."""
        if not isinstance(d, dict):
            raise CheckpointError("the saved settings are not a JSON object")
        # runs saved before --target-scaling existed trained on raw targets
        d = {"target_scaling": "none", **d}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise CheckpointError(
                f"the saved settings hold unknown field(s) {', '.join(unknown)} "
                "(written by another mlplab version?)"
            )
        return cls(**d)


def _is_csv(name) -> bool:
    return str(name).lower().endswith(".csv")


def _int_list(text: str) -> list[int]:
    import argparse

    if text.strip().lower() in ("", "none", "0"):
        return []
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths like 256,256 (or 'none'); got {text!r}"
        ) from None
    return values


def _str_list(text: str) -> list[str]:
    import argparse

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
    if _is_csv(cfg.dataset):
        cfg.dataset = str(Path(cfg.dataset).expanduser().resolve())
    if cfg.data_dir is not None:
        cfg.data_dir = str(Path(cfg.data_dir).expanduser().resolve())
    return cfg.resolved()


# ---------------------------------------------------------------------------------------------
# Data, model, optimizer from the settings
# ---------------------------------------------------------------------------------------------


def load_data(cfg: RunConfig, *, standardize: bool = True):
    """The :class:`~mlplab.data.Dataset` of a run (same settings, same arrays)."""
    from mlplab.data import load_dataset

    options = {}
    if cfg.subset is not None:
        options["subset" if cfg.dataset == "mnist" else "n_samples"] = cfg.subset
    if cfg.noise is not None:
        options["noise"] = cfg.noise
    if cfg.data_dir is not None:
        options["data_dir"] = cfg.data_dir
    return load_dataset(
        cfg.dataset,
        seed=cfg.seed,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        standardize=standardize,
        target=cfg.target,
        **options,
    )


_HEADS_FOR_TASK = {
    "binary": ["sigmoid_bce", "softmax_ce"],
    "multiclass": ["softmax_ce"],
    "multilabel": ["multilabel_bce"],
    "regression": ["identity_mse", "identity_mae"],
    "count": ["exp_poisson", "identity_mse", "identity_mae"],
}


def compatible_heads(task: str) -> list[str]:
    """Heads that fit a task's labels; the first is the canonical one (``--head auto``)."""
    return list(_HEADS_FOR_TASK[task])


#: ``--target-scaling`` choices (see the module docstring).
TARGET_SCALING_CHOICES = ["auto", "none"]
_SCALED_HEADS = ("identity_mse", "identity_mae")


def target_map(cfg: RunConfig, dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The target map ``(μ, σ)`` a run trains with, or None for raw targets.

    Only for ``cfg.target_scaling == "auto"`` on a regression data set with an identity head:
    ``μ = mean(y_train, axis 0)``, ``σ = std(y_train, axis 0)`` (population std, float64,
    shape ``(k,)`` for k outputs; a constant column gets σ = 1).  The training split alone
    decides them, and the same data give the same bits (resume recomputes them).
    """
    if cfg.target_scaling != "auto" or dataset.task != "regression":
        return None
    if _resolve_head(cfg.head, dataset.task) not in _SCALED_HEADS or len(dataset.y_train) == 0:
        return None
    y = np.asarray(dataset.y_train, dtype=np.float64).reshape(len(dataset.y_train), -1)
    mean = y.mean(axis=0)
    scale = y.std(axis=0)
    scale[~(np.isfinite(scale) & (scale > 0))] = 1.0
    return mean, scale


def _scaled_targets(y, tmap) -> np.ndarray:
    """``(y − μ) / σ`` in float64, in the shape of ``y`` ((n,) or (n, k))."""
    if tmap is None:
        return y
    y = np.asarray(y, dtype=np.float64)
    mean, scale = tmap
    flat = (y.reshape(len(y), -1) - mean) / scale
    return flat.reshape(y.shape)


def fold_target_map(model: Network, mean, scale) -> Network:
    """A copy of ``model`` that predicts ``σ ⊙ f(x) + μ`` where ``model`` predicts ``f(x)``.

    The last Dense layer (W of shape (k, d), b of shape (k,)) becomes ``W ← diag(σ) W`` and
    ``b ← σ ⊙ b + μ``, computed in float64 and cast to the model's dtype; exact (up to that
    rounding) for an identity head.  ``model`` itself is left unchanged.
    """
    if model.head.name not in _SCALED_HEADS:
        raise ConfigError(
            f"a target map folds only into an identity head ({', '.join(_SCALED_HEADS)}); "
            f"the model's head is {model.head.name}"
        )
    out = Network(model.spec)
    out.load_state_dict(model.state_dict())
    _, last = out.dense_layers()[-1]
    mean = np.asarray(mean, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    W, b = last.params["weight"], last.params["bias"]
    W[...] = (scale[:, None] * W.astype(np.float64)).astype(W.dtype)
    b[...] = (scale * b.astype(np.float64) + mean).astype(b.dtype)
    return out


def _resolve_head(head: str, task: str) -> str:
    if head == "auto":
        return head_for_task(task)
    name = get_head(head).name
    if name not in _HEADS_FOR_TASK[task]:
        raise ConfigError(
            f"--head {name} does not fit a {task} data set; use one of "
            f"{', '.join(_HEADS_FOR_TASK[task])} (or auto)"
        )
    return name


def model_spec(cfg: RunConfig, dataset) -> dict:
    """The network spec for ``dataset``: d inputs, ``cfg.hidden``, the head's output units."""
    head = _resolve_head(cfg.head, dataset.task)
    n_out = dataset.n_outputs
    if head == "softmax_ce" and dataset.task == "binary":
        n_out = 2
    sizes = [dataset.n_features, *cfg.hidden, n_out]
    return mlp_spec(
        sizes,
        cfg.activation,
        activations=cfg.activations,
        head=head,
        init=cfg.init,
        dropout=cfg.dropout,
        input_dropout=cfg.input_dropout,
        norm=cfg.norm,
        dtype=cfg.dtype,
    )


def run_rngs(seed: int, member: int = 0) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent Generators for the initial weights and for training (order, dropout).

    Both are children of ``SeedSequence(seed)``, so they never share a stream with each other
    or with the data, which uses ``default_rng(seed)`` itself.  Member ``m`` ≥ 1 of an
    ensemble draws from ``SeedSequence([seed, m])`` instead: other weights and batch orders,
    the same data split.
    """
    root = np.random.SeedSequence(seed if member == 0 else [seed, member])
    init_seq, train_seq = root.spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(train_seq)


def build_model(cfg: RunConfig, dataset, rng=None) -> Network:
    """A freshly initialised :class:`Network` (weights from ``run_rngs(seed)[0]`` by default)."""
    if rng is None:
        rng = run_rngs(cfg.seed, cfg.member)[0]
    return Network(model_spec(cfg, dataset), rng=rng)


def optimizer_spec(cfg: RunConfig) -> dict:
    """The dict :func:`~mlplab.core.optim.make_optimizer` takes, weight decay included."""
    spec = {"name": cfg.optimizer, "lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer in _SGD_FAMILY:
        spec["momentum"] = cfg.momentum
    return spec


def train_config(cfg: RunConfig) -> TrainConfig:
    return TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        l1=cfg.l1,
        l2=cfg.l2,
        max_norm=cfg.max_norm,
        clip_grad_norm=cfg.clip_grad_norm,
        early_stopping=cfg.early_stopping,
    )


def build_trainer(cfg: RunConfig, model: Network, *, rng=None, callbacks=()) -> Trainer:
    """A :class:`Trainer` with the run's optimizer, schedule and loop settings (a
    :class:`~mlplab.backends.torch.TorchTrainer`, the same loop on torch, for backend torch)."""
    if cfg.backend == "torch":
        from mlplab.backends.torch import TorchTrainer

        return TorchTrainer(
            model,
            make_optimizer(optimizer_spec(cfg)),
            schedule=make_schedule(cfg.schedule),
            config=train_config(cfg),
            rng=run_rngs(cfg.seed, cfg.member)[1] if rng is None else rng,
            callbacks=callbacks,
            device=cfg.device,
            precision=cfg.precision,
        )
    return Trainer(
        model,
        make_optimizer(optimizer_spec(cfg)),
        schedule=make_schedule(cfg.schedule),
        config=train_config(cfg),
        rng=run_rngs(cfg.seed, cfg.member)[1] if rng is None else rng,
        callbacks=callbacks,
    )


def data_fingerprint(dataset) -> str:
    """SHA-256 of all split arrays (dtype, shape and bytes): resume refuses changed data."""
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        for a in (getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            if a.size:  # an empty split (--val-fraction 0) has no bytes to hash
                h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _data_summary(cfg: RunConfig, dataset) -> dict:
    return {
        "name": dataset.name,
        "task": dataset.task,
        "seed": cfg.seed,
        "n_train": len(dataset.X_train),
        "n_val": len(dataset.X_val),
        "n_test": len(dataset.X_test),
        "n_features": dataset.n_features,
        "n_outputs": dataset.n_outputs,
        "feature_names": list(dataset.feature_names),
        "class_names": None if dataset.class_names is None else list(dataset.class_names),
        "target_names": dataset.meta.get("target_names"),
        "image_shape": None if dataset.image_shape is None else list(dataset.image_shape),
        "standardized": dataset.mean_ is not None,
        "fingerprint": data_fingerprint(dataset),
    }


# ---------------------------------------------------------------------------------------------
# Nested state <-> bytes, without pickle
# ---------------------------------------------------------------------------------------------

_TREE_KEY = "__tree__"


def pack_state(obj) -> bytes:
    """Serialise nested dicts/lists/tuples of arrays and JSON values into ``.npz`` bytes.

    Every NumPy array or scalar becomes its own member of the archive (dtype and bytes kept
    exactly); the rest of the structure is JSON (floats round-trip exactly, NaN/±inf included,
    integers of any size) in the member ``__tree__``, where an array is ``{"__array__": key}``
    and a tuple ``{"__tuple__": [...]}``.  Nothing is pickled: object arrays, other types and
    non-string dict keys raise ``TypeError`` (a programming error, not a user's).
    """
    arrays: dict[str, np.ndarray] = {}

    def enc(x, where: str):
        if isinstance(x, (np.ndarray, np.generic)):
            a = np.asarray(x)
            if a.dtype.hasobject:
                raise TypeError(f"cannot store an object array at {where}")
            key = f"a{len(arrays)}"
            arrays[key] = a
            return {"__array__": key, "scalar": isinstance(x, np.generic)}
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if not isinstance(k, str):
                    raise TypeError(f"dict key {k!r} at {where} is not a string")
                out[k] = enc(v, f"{where}.{k}")
            if "__array__" in out or "__tuple__" in out:
                return {"__dict__": out}
            return out
        if isinstance(x, list):
            return [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, tuple):
            return {"__tuple__": [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"cannot store {type(x).__name__} at {where}")

    tree = json.dumps(enc(obj, "state"), allow_nan=True).encode("utf-8")
    arrays[_TREE_KEY] = np.frombuffer(tree, dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack_state(data: bytes, *, source: str = "state"):
    """Inverse of :func:`pack_state`; a damaged archive raises CheckpointError naming ``source``."""
    what = "is damaged or not an mlplab checkpoint"
    members = load_npz(data, source, what)
    with npz_errors(source, what):  # a missing or undecodable structure
        tree = json.loads(bytes(members.pop(_TREE_KEY)).decode("utf-8"))

    def dec(x):
        if isinstance(x, dict):
            if "__array__" in x:
                a = members[x["__array__"]]
                return a[()] if x.get("scalar") else a
            if "__tuple__" in x:
                return tuple(dec(v) for v in x["__tuple__"])
            if "__dict__" in x:
                x = x["__dict__"]
            return {k: dec(v) for k, v in x.items()}
        if isinstance(x, list):
            return [dec(v) for v in x]
        return x

    try:
        return dec(tree)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{source} has an inconsistent structure ({exc})") from None


@contextlib.contextmanager
def _sigint_deferred():
    """Hold back Ctrl-C while a checkpoint is written, then deliver it to the old handler.

    Only in the main thread (elsewhere signal handlers cannot be set); a SIGKILL still stops
    the write at any point, which the atomic rename makes harmless.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])


# ---------------------------------------------------------------------------------------------
# The run folder
# ---------------------------------------------------------------------------------------------


class RunDir:
    """The files of one run folder (see the module docstring for the layout)."""

    MODEL = "model.npz"
    SPEC = "spec.json"
    CHECKPOINT = "checkpoint.npz"
    SCALER = "scaler.npz"
    HISTORY_JSON = "history.json"
    HISTORY_CSV = "history.csv"
    CURVES = "curves.png"
    METRICS = "metrics.json"

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def spec_path(self) -> Path:
        return self.file(self.SPEC)

    @property
    def checkpoint_path(self) -> Path:
        return self.file(self.CHECKPOINT)

    @property
    def model_path(self) -> Path:
        return self.file(self.MODEL)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path) -> RunDir:
        """Make (or reuse an empty) folder for a new run; ConfigError if it cannot be written
        or already holds a run."""
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise ConfigError(f"--out {str(p)!r} is a file, not a folder")
        if (p / cls.SPEC).exists() or (p / cls.CHECKPOINT).exists():
            raise ConfigError(
                f"--out {str(p)!r} already holds a run; continue it with --resume {p} "
                "or choose another --out"
            )
        ensure_dir(p)
        return cls(p)

    @classmethod
    def open(cls, path) -> RunDir:
        """An existing run folder (one with ``spec.json``); CheckpointError otherwise."""
        p = Path(path)
        if not p.is_dir():
            raise CheckpointError(f"run folder {str(p)!r} does not exist")
        if not (p / cls.SPEC).is_file():
            raise CheckpointError(f"{str(p)!r} is not a run folder (no {cls.SPEC})")
        return cls(p)

    # -- spec and scaler ----------------------------------------------------------------------
    def write_spec(self, spec: dict) -> None:
        atomic_write_json(self.spec_path, spec)

    def read_spec(self) -> dict:
        text = read_bytes(self.spec_path)
        try:
            spec = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.spec_path} is not valid JSON ({exc})") from None
        if not isinstance(spec, dict) or spec.get("format") != RUN_FORMAT:
            raise CheckpointError(f"{self.spec_path} is not an mlplab run spec ({RUN_FORMAT})")
        for key in ("config", "model", "data"):
            if key not in spec:
                raise CheckpointError(f"{self.spec_path} lacks the field {key!r}")
        return spec

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.read_spec()["config"])

    def write_scaler(self, dataset, tmap=None) -> None:
        """Write the input map (``mean``, ``scale``) and, given ``tmap = (μ, σ)``, the target
        map (``target_mean``, ``target_scale``, ``target_folded`` = True: folded into
        ``model.npz``, kept here for the record and for the checkpoint's weights)."""
        arrays = {}
        if dataset.mean_ is not None:
            arrays = {"mean": np.asarray(dataset.mean_), "scale": np.asarray(dataset.scale_)}
        if tmap is not None:
            arrays["target_mean"] = np.asarray(tmap[0], dtype=np.float64)
            arrays["target_scale"] = np.asarray(tmap[1], dtype=np.float64)
            arrays["target_folded"] = np.array(True)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(self.file(self.SCALER), buf.getvalue())

    def read_scaler(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(mean, scale)`` of the input map, or ``(None, None)`` when inputs are raw."""
        data = read_bytes(self.file(self.SCALER))
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if "mean" not in z.files:
                    return None, None
                return z["mean"], z["scale"]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
            raise CheckpointError(f"{self.file(self.SCALER)} is damaged ({exc})") from None

    def read_target_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(μ, σ)`` of the target map the checkpoint's weights were trained with, or None."""
        path = self.file(self.SCALER)
        if not path.is_file():
            return None
        try:
            with np.load(io.BytesIO(read_bytes(path)), allow_pickle=False) as z:
                if "target_mean" not in z.files:
                    return None
                return z["target_mean"], z["target_scale"]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
            raise CheckpointError(f"{path} is damaged ({exc})") from None

    def transform(self, X) -> np.ndarray:
        """Apply the saved input map to raw inputs: ``(X − mean) / scale``, float64."""
        mean, scale = self.read_scaler()
        X = np.array(X, dtype=np.float64)
        if mean is not None:
            if X.shape[-1] != len(mean):
                raise DataError(f"inputs have {X.shape[-1]} features; the run has {len(mean)}")
            X -= mean
            X /= scale
        return X

    # -- checkpoint -----------------------------------------------------------------------------
    def save_checkpoint(self, trainer: Trainer, *, finished: bool = False) -> None:
        """Write ``trainer.state_dict()`` atomically; the previous checkpoint survives any
        failure (disk full, crash, kill) during the write."""
        data = pack_state(
            {"format": CHECKPOINT_FORMAT, "finished": finished, "trainer": trainer.state_dict()}
        )
        try:
            with _sigint_deferred():
                atomic_write_bytes(self.checkpoint_path, data)
        except OSError as exc:
            raise CheckpointError(
                f"cannot write {self.checkpoint_path} ({exc}); the previous checkpoint is intact"
            ) from None

    def load_checkpoint(self) -> dict:
        """``{"format", "finished", "trainer": state}``; CheckpointError if missing or damaged."""
        if not self.checkpoint_path.is_file():
            raise CheckpointError(
                f"{str(self.path)!r} has no {self.CHECKPOINT}: nothing to resume from"
            )
        ck = unpack_state(read_bytes(self.checkpoint_path), source=str(self.checkpoint_path))
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{self.checkpoint_path} is not an mlplab checkpoint")
        state = ck.get("trainer")
        need = ("model", "optimizer", "rng", "epoch", "step", "history")
        if not isinstance(state, dict) or any(k not in state for k in need):
            raise CheckpointError(f"{self.checkpoint_path} lacks parts of the trainer state")
        return ck

    def load_model(self) -> tuple[Network, str]:
        """The run's model and where it came from: ``model.npz``, else the checkpoint (with
        the target map folded in, so that it too predicts raw targets)."""
        if self.model_path.is_file():
            return Network.load(self.model_path), self.MODEL
        spec = self.read_spec()
        ck = self.load_checkpoint()
        try:
            model = Network(spec["model"])
        except ConfigError as exc:
            raise CheckpointError(f"{self.spec_path} holds an invalid model spec: {exc}") from None
        model.load_state_dict(ck["trainer"]["model"])
        tmap = self.read_target_map()
        if tmap is not None:
            model = fold_target_map(model, *tmap)
        return model, f"{self.CHECKPOINT} (epoch {ck['trainer']['epoch']})"


class CheckpointCallback(Callback):
    """Writes ``RunDir.checkpoint.npz`` at the start (if none), after every ``every`` epochs
    and at the end (marked finished).  A resumed trainer whose run had already stopped early
    is kept from training further."""

    def __init__(self, run_dir: RunDir, every: int = 1):
        self.run_dir = run_dir
        self.every = check_range("checkpoint every", every, 1, None, integer=True)
        self.saved_epoch: int | None = None

    def _save(self, trainer, finished=False):
        with _sigint_deferred():  # a Ctrl-C lands after both lines, never between them
            self.run_dir.save_checkpoint(trainer, finished=finished)
            self.saved_epoch = trainer.epoch

    def on_train_begin(self, trainer):
        if trainer.stop_reason is not None:
            trainer.stop = True  # the run already ended (early stopping, divergence)
        if not self.run_dir.checkpoint_path.exists():
            self._save(trainer)

    def on_epoch_end(self, trainer):
        if trainer.epoch % self.every == 0 or trainer.stop:
            self._save(trainer)

    def on_train_end(self, trainer):
        self._save(trainer, finished=True)


# ---------------------------------------------------------------------------------------------
# The workflow
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """A run ready to train: its settings, folder, data, model and trainer."""

    config: RunConfig
    dir: RunDir
    dataset: object
    model: Network
    trainer: Trainer
    spec: dict
    resumed_from: int | None = None  # epoch of the checkpoint a resumed run started from
    finished: bool = False  # the checkpoint says training had already ended
    notes: list[str] = field(default_factory=list)  # for the user (e.g. BLAS threads changed)
    #: ``(μ, σ)`` the model trains with (:func:`target_map`): ``model`` and ``trainer`` work on
    #: ``(y − μ) / σ`` while ``dataset`` keeps raw targets; None for raw-target training
    tmap: tuple | None = None

    def fit_targets(self, split: str) -> np.ndarray:
        """The targets of ``split`` ("train", "val", "test") as the trainer sees them."""
        return _scaled_targets(getattr(self.dataset, f"y_{split}"), self.tmap)


def default_out(dataset_name: str, root="runs") -> Path:
    """``runs/<dataset>-<YYYYmmdd-HHMMSS>`` (with ``-2``, ``-3`` … if taken)."""
    stem = Path(dataset_name).stem if _is_csv(dataset_name) else dataset_name
    base = Path(root) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, k = base, 2
    while out.exists():
        out = base.with_name(f"{base.name}-{k}")
        k += 1
    return out


def prepare_run(cfg: RunConfig, out=None) -> Run:
    """Load the data, build model and trainer, create the folder and write ``spec.json`` and
    ``scaler.npz``.  ``cfg`` should be resolved (:func:`config_from_args` does that)."""
    cfg = cfg.resolved()
    dataset = load_data(cfg)
    if cfg.members > 1:
        raise ConfigError("prepare_run trains one network; use prepare_ensemble for --members")
    init_rng, train_rng = run_rngs(cfg.seed, cfg.member)
    model = Network(model_spec(cfg, dataset), rng=init_rng)
    trainer = build_trainer(cfg, model, rng=train_rng)
    run_dir = RunDir.create(default_out(cfg.dataset) if out is None else out)
    tmap = target_map(cfg, dataset)
    from mlplab import __version__

    spec = {
        "format": RUN_FORMAT,
        "mlplab": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": cfg.to_dict(),
        "model": model.spec,
        "optimizer": trainer.optimizer.spec(),
        "schedule": trainer.schedule.spec(),
        "train": asdict(trainer.config),
        "data": _data_summary(cfg, dataset),
        "target_scaling": _target_scaling_record(tmap),
        "environment": _environment(),
    }
    run_dir.write_spec(spec)
    run_dir.write_scaler(dataset, tmap)
    return Run(cfg, run_dir, dataset, model, trainer, spec, tmap=tmap)


def _target_scaling_record(tmap) -> dict:
    """What ``spec.json`` says about the target map (see the module docstring)."""
    if tmap is None:
        return {"target_standardized": False}
    return {
        "target_standardized": True,
        "mean": [float(v) for v in tmap[0]],
        "scale": [float(v) for v in tmap[1]],
        "folded_into_model": True,
        "history_units": "train_loss/val_loss in standardised targets (y - mean) / scale; "
        "model.npz, metrics.json and evaluate/predict in raw target units",
    }


def resume_run(path, given: dict | None = None) -> Run | EnsembleRun:
    """Reopen an interrupted (or finished) run from its folder and checkpoint.

    ``given`` holds settings typed again on the command line (:func:`given_settings`); any
    that differ from the saved ones raise ConfigError — a resumed run keeps its settings.
    """
    run_dir = RunDir.open(path)
    spec = run_dir.read_spec()
    cfg = RunConfig.from_dict(spec["config"])
    conflicts = []
    for name, value in (given or {}).items():
        saved = getattr(cfg, name)
        mine = value
        if name == "dataset" and _is_csv(value):
            mine = str(Path(value).expanduser().resolve())
        if name == "data_dir":
            mine = str(Path(value).expanduser().resolve())
        if mine != saved and not (isinstance(saved, float) and mine == float(saved)):
            conflicts.append(f"{flag(name)} {value} (saved: {saved})")
    if conflicts:
        raise ConfigError(
            f"--resume keeps the run's saved settings; these flags differ: {'; '.join(conflicts)}"
            " — drop them, or start a new run with another --out"
        )
    if cfg.members > 1:
        return _reopen_ensemble(run_dir, spec, cfg)
    ck = run_dir.load_checkpoint()  # before the (slow) data: a missing checkpoint fails fast
    cfg = cfg.resolved()
    dataset = _same_data(cfg, spec)
    try:
        model = Network(spec["model"])
    except ConfigError as exc:
        raise CheckpointError(f"{run_dir.spec_path} holds an invalid model spec: {exc}") from None
    trainer = build_trainer(cfg, model)
    try:
        trainer.load_state_dict(ck["trainer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{run_dir.checkpoint_path} does not fit this run ({exc})") from None
    notes = []
    saved_env, env = spec.get("environment", {}), _environment()
    if saved_env.get("blas_threads") != env["blas_threads"]:
        notes.append(
            f"BLAS threads changed ({saved_env.get('blas_threads')} when the run started, "
            f"{env['blas_threads']} now): matrix products may round differently, so the weights "
            "can differ in the last bits from an uninterrupted run"
        )
    return Run(
        cfg,
        run_dir,
        dataset,
        model,
        trainer,
        spec,
        resumed_from=trainer.epoch,
        finished=bool(ck.get("finished")),
        notes=notes,
        tmap=target_map(cfg, dataset),
    )


def _environment() -> dict:
    """What, besides the settings, decides the bits of the result: versions and the BLAS
    thread count (OpenBLAS splits a matrix product by thread, and a different split rounds
    differently; with the same count the products are reproducible run to run)."""
    from threadpoolctl import threadpool_info

    from mlplab import __version__

    blas = [
        {"api": i.get("internal_api"), "threads": i.get("num_threads")}
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return {"mlplab": __version__, "numpy": np.__version__, "blas_threads": blas}


def execute_run(run: Run, callbacks=()) -> dict:
    """Train (or continue training) with checkpoints after every epoch, then
    :func:`finish_run`.  Ctrl-C propagates as KeyboardInterrupt with the last epoch's
    checkpoint on disk."""
    if not run.finished:
        ds = run.dataset
        run.trainer.callbacks = [CheckpointCallback(run.dir), *callbacks]
        run.trainer.fit(ds.X_train, run.fit_targets("train"), ds.X_val, run.fit_targets("val"))
    return finish_run(run)


def finish_run(run: Run) -> dict:
    """Write ``model.npz``, history, curves and ``metrics.json``; return the summary.

    With a target map (``run.tmap``) the saved model and the test metrics are those of
    :func:`fold_target_map` applied to ``run.model`` (raw units); ``run.model`` itself stays
    in standardised space, like the checkpoint.  The summary's ``train_loss``/``val_loss``
    come from the history (standardised units then; ``target_standardized`` is True).
    """
    trainer, ds, model = run.trainer, run.dataset, run.model
    if run.tmap is not None:
        model = fold_target_map(model, *run.tmap)
    records = trainer.history.records
    metrics = split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    metrics = {"split": "test", "n": len(ds.X_test), **metrics}
    model.save(run.dir.model_path)
    atomic_write_json(
        run.dir.file(RunDir.HISTORY_JSON),
        {"records": records, "target_standardized": run.tmap is not None},
    )
    atomic_write_text(run.dir.file(RunDir.HISTORY_CSV), history_csv(records))
    atomic_write_bytes(run.dir.file(RunDir.CURVES), plot_curves(records, trainer.metric, ds.name))
    atomic_write_json(run.dir.file(RunDir.METRICS), metrics)
    summary = {
        "out": str(run.dir.path),
        "dataset": ds.name,
        "task": ds.task,
        "epochs": trainer.epoch,
        "stop_reason": trainer.stop_reason,
        "best_epoch": trainer.best["epoch"] if trainer.best else None,
        "train_seconds": float(sum(r.get("seconds", 0.0) for r in records)),
        "n_parameters": model.n_parameters,
        "resumed_from_epoch": run.resumed_from,
        "target_standardized": run.tmap is not None,
    }
    last = trainer.history.last()
    for key in ("train_loss", "val_loss", f"val_{trainer.metric}"):
        if key in last:
            summary[key] = last[key]
    summary.update({f"test_{k}": v for k, v in metrics.items() if _is_scalar(v) and k != "n"})
    return summary


@dataclass
class EnsembleRun:
    """An ensemble run (``--members K``): the top folder and its members' settings."""

    config: RunConfig
    dir: RunDir
    dataset: object
    spec: dict
    resumed_from: int | None = None  # members already finished when it was resumed
    finished: bool = False
    notes: list[str] = field(default_factory=list)

    def member_dir(self, m: int) -> RunDir:
        return RunDir(self.dir.path / "members" / str(m))

    def member_config(self, m: int) -> RunConfig:
        return dataclasses.replace(self.config, members=1, member=m)

    def member_done(self, m: int) -> bool:
        d = self.member_dir(m)
        return d.model_path.is_file() and d.file(RunDir.METRICS).is_file()


def prepare_ensemble(cfg: RunConfig, out=None) -> EnsembleRun:
    """The top folder of a new ensemble run: ``spec.json`` (with the merged model's spec) and
    ``scaler.npz``; the members are created by :func:`execute_ensemble`."""
    cfg = cfg.resolved()
    dataset = load_data(cfg)
    run_dir = RunDir.create(default_out(cfg.dataset) if out is None else out)
    member = model_spec(cfg, dataset)
    merged = average_networks([Network(member)] * cfg.members).spec
    from mlplab import __version__

    spec = {
        "format": RUN_FORMAT,
        "mlplab": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": cfg.to_dict(),
        "model": merged,
        "member_model": member,
        "members": [f"members/{m}" for m in range(cfg.members)],
        "data": _data_summary(cfg, dataset),
        "target_scaling": _target_scaling_record(target_map(cfg, dataset)),
        "environment": _environment(),
    }
    run_dir.write_spec(spec)
    run_dir.write_scaler(dataset, target_map(cfg, dataset))
    return EnsembleRun(cfg, run_dir, dataset, spec)


def _same_data(cfg: RunConfig, spec: dict):
    """The run's data set, loaded again; CheckpointError if its arrays changed since."""
    dataset = load_data(cfg)
    if data_fingerprint(dataset) != spec["data"].get("fingerprint"):
        raise CheckpointError(
            f"the data set {cfg.dataset!r} no longer matches the one this run was trained on "
            "(its arrays changed); an exact resume is impossible"
        )
    return dataset


def _reopen_ensemble(run_dir: RunDir, spec: dict, cfg: RunConfig) -> EnsembleRun:
    cfg = cfg.resolved()
    dataset = _same_data(cfg, spec)
    ens = EnsembleRun(cfg, run_dir, dataset, spec)
    done = sum(ens.member_done(m) for m in range(cfg.members))
    ens.resumed_from = done
    ens.finished = done == cfg.members and run_dir.model_path.is_file()
    return ens


def execute_ensemble(ens: EnsembleRun, make_callbacks=lambda m, run: ()) -> dict:
    """Train the members one after the other — each an ordinary run in ``members/m`` with its
    own checkpoints (a finished member is skipped, an interrupted one resumed) — then write
    the averaged model and the top folder's files; return the summary.

    ``make_callbacks(m, run)`` gives each member's callbacks (progress, …).
    """
    summaries = []
    for m in range(ens.config.members):
        d = ens.member_dir(m)
        if d.spec_path.is_file():
            run = resume_run(d.path)
        else:
            run = prepare_run(ens.member_config(m), d.path)
        summaries.append(execute_run(run, make_callbacks(m, run)))
    return finish_ensemble(ens, summaries)


def finish_ensemble(ens: EnsembleRun, summaries: list[dict]) -> dict:
    """Average the members' saved models into the top ``model.npz``; write history and test
    metrics; return the summary (the members' own test metrics under ``members``)."""
    ds = ens.dataset
    members = [ens.member_dir(m).path for m in range(ens.config.members)]
    models = [Network.load(p / RunDir.MODEL) for p in members]
    model = average_networks(models)
    metrics = split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    metrics = {"split": "test", "n": len(ds.X_test), **metrics}
    records = []
    for m, p in enumerate(members):
        hist = json.loads(read_bytes(p / RunDir.HISTORY_JSON).decode("utf-8"))
        records += [{"member": m, **r} for r in hist["records"]]
    model.save(ens.dir.model_path)
    atomic_write_json(
        ens.dir.file(RunDir.HISTORY_JSON),
        {"records": records, "target_standardized": summaries[0]["target_standardized"]},
    )
    atomic_write_text(ens.dir.file(RunDir.HISTORY_CSV), history_csv(records))
    atomic_write_json(ens.dir.file(RunDir.METRICS), metrics)
    summary = {
        "out": str(ens.dir.path),
        "dataset": ds.name,
        "task": ds.task,
        "members": len(members),
        "epochs": summaries[0]["epochs"],
        "stop_reason": None,
        "train_seconds": float(sum(s["train_seconds"] for s in summaries)),
        "n_parameters": model.n_parameters,
        "resumed_from_member": ens.resumed_from,
        "target_standardized": summaries[0]["target_standardized"],
    }
    summary.update({f"test_{k}": v for k, v in metrics.items() if _is_scalar(v) and k != "n"})
    keys = [k for k in summaries[0] if k.startswith("test_")]
    summary["member_results"] = [
        {"member": m, "train_seconds": s["train_seconds"], **{k: s.get(k) for k in keys}}
        for m, s in enumerate(summaries)
    ]
    return summary


def _is_scalar(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---------------------------------------------------------------------------------------------
# Metrics, history, curves
# ---------------------------------------------------------------------------------------------


def split_metrics(model: Network, X, y, task: str, class_names=None) -> dict:
    """Loss and task metrics of ``model`` on ``(X, y)``, via :mod:`sklearn.metrics`.

    binary/multiclass: ``accuracy``, ``balanced_accuracy``, ``f1_macro``, ``confusion_matrix``
    (rows = true class, columns = predicted, ``class_names`` order) and ``roc_auc`` (binary);
    multilabel: ``accuracy`` (per label), ``subset_accuracy``, ``hamming_loss``, ``f1_micro``,
    ``f1_macro`` and one 2×2 confusion matrix per label; regression: ``rmse``, ``mae``, ``r2``;
    count: ``deviance`` (mean Poisson deviance 2·[y log(y/ŷ) − (y − ŷ)]), ``d2`` (fraction of
    the null model's deviance explained), ``rmse``, ``mae``.
    """
    from sklearn import metrics as skm

    out = {"loss": float(evaluate(model, X, y)["loss"])}
    if len(X) == 0:
        return out
    if task in ("binary", "multiclass"):
        y = np.asarray(y).astype(np.int64)
        pred = np.asarray(model.predict(X)).astype(np.int64)
        k = model.output_dim if model.output_dim > 1 else 2
        labels = list(range(k))
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["balanced_accuracy"] = float(
            np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])
        )
        out["f1_macro"] = float(
            skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)
        )
        out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
        if task == "binary" and len(np.unique(y)) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y, model.predict_proba(X)[:, 1]))
        out["class_names"] = (
            list(class_names) if class_names is not None else [str(c) for c in labels]
        )
    elif task == "multilabel":
        Y = np.asarray(y).astype(np.int64)
        P = np.asarray(model.predict(X)).astype(np.int64).reshape(Y.shape)
        out["accuracy"] = float(np.mean(P == Y))
        out["subset_accuracy"] = float(skm.accuracy_score(Y, P))
        out["hamming_loss"] = float(skm.hamming_loss(Y, P))
        out["f1_micro"] = float(skm.f1_score(Y, P, average="micro", zero_division=0))
        out["f1_macro"] = float(skm.f1_score(Y, P, average="macro", zero_division=0))
        out["confusion_matrices"] = skm.multilabel_confusion_matrix(Y, P).tolist()
        if class_names is not None:
            out["label_names"] = list(class_names)
    else:
        yt = np.asarray(y, dtype=np.float64)
        yhat = np.asarray(model.output(X), dtype=np.float64).reshape(yt.shape)
        out["rmse"] = float(np.sqrt(skm.mean_squared_error(yt, yhat)))
        out["mae"] = float(skm.mean_absolute_error(yt, yhat))
        if task == "regression":
            out["r2"] = float(skm.r2_score(yt, yhat)) if len(yt) > 1 else float("nan")
        else:
            rate = np.maximum(yhat, np.finfo(np.float64).tiny).ravel()
            out["deviance"] = float(skm.mean_poisson_deviance(yt.ravel(), rate))
            if len(yt) > 1:
                out["d2"] = float(skm.d2_tweedie_score(yt.ravel(), rate, power=1))
    return out


def history_csv(records: list[dict]) -> str:
    """The history as CSV text: one row per epoch, one column per key (in first-seen order)."""
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    return buf.getvalue()


def plot_curves(records: list[dict], metric: str, title: str = "") -> bytes:
    """PNG bytes: loss (left) and ``metric`` (right) per epoch, train vs validation.

    Uses matplotlib's object API with the Agg canvas, so it never touches pyplot's global
    state or needs a display.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_metric = fig.subplots(1, 2)

    def series(key):
        pts = [(r["epoch"], r[key]) for r in records if _finite(r.get(key))]
        return [p[0] for p in pts], [p[1] for p in pts]

    for ax, keys, label in (
        (ax_loss, ("train_loss", "val_loss"), "loss"),
        (ax_metric, (f"train_{metric}", f"val_{metric}"), metric),
    ):
        drawn = False
        for key, style in zip(keys, ("-o", "-s")):
            xs, ys = series(key)
            if xs:
                ax.plot(xs, ys, style, ms=3, label=key.split("_")[0])
                drawn = True
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            ax.text(
                0.5, 0.5, f"no {label} recorded", ha="center", va="center", transform=ax.transAxes
            )
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------------------------------------
# Using a finished run
# ---------------------------------------------------------------------------------------------


def evaluate_run(
    path, *, dataset: str | None = None, target=None, data_dir=None, split: str = "test"
) -> dict:
    """Metrics of a saved run on a split of its own data set or of another one.

    For its own data set the splits are rebuilt from the saved settings (same arrays).  For
    another data set (or CSV file) the raw inputs are read and mapped with the run's saved
    scaler; features are matched by name where the names agree, class labels by class name.
    """
    check_choice("--split", split, ["train", "val", "test"])
    run_dir = RunDir.open(path)
    spec = run_dir.read_spec()
    cfg = RunConfig.from_dict(spec["config"])
    model, source = run_dir.load_model()
    own = dataset is None or (
        dataset == cfg.dataset and target in (None, cfg.target) and data_dir in (None, cfg.data_dir)
    )
    if own:
        ds = load_data(cfg)
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
    else:
        other = dataclasses.replace(
            cfg,
            dataset=str(Path(dataset).resolve()) if _is_csv(dataset) else dataset,
            target=target if target is not None else (cfg.target if _is_csv(dataset) else None),
            data_dir=data_dir,
            subset=None,
            noise=None,
        )
        ds = load_data(other, standardize=False)
        X, y = _align(ds, split, spec["data"], run_dir)
    task = spec["data"]["task"]
    fits = ds.task == task or (task, ds.task) in (("multiclass", "binary"), ("count", "regression"))
    if not fits:
        raise DataError(f"{ds.name} is a {ds.task} data set; the run was trained for {task}")
    metrics = split_metrics(model, X, y, task, spec["data"].get("class_names"))
    return {
        "run": str(run_dir.path),
        "weights": source,
        "dataset": ds.name,
        "split": split,
        "n": len(X),
        **metrics,
    }


def _align(ds, split: str, data: dict, run_dir: RunDir):
    """Inputs of another data set in the run's feature order and space; labels as run ids."""
    X = getattr(ds, f"X_{split}")
    y = getattr(ds, f"y_{split}")
    names = data["feature_names"]
    if list(ds.feature_names) != names:
        if set(ds.feature_names) == set(names):
            X = X[:, [list(ds.feature_names).index(n) for n in names]]
        elif len(ds.feature_names) != len(names):
            raise DataError(
                f"{ds.name} has {len(ds.feature_names)} features; the run was trained on "
                f"{len(names)} ({', '.join(names[:8])}{' …' if len(names) > 8 else ''})"
            )
    X = run_dir.transform(X)
    classes = data.get("class_names")
    if ds.task in ("binary", "multiclass") and classes and ds.class_names:
        unknown = [c for c in ds.class_names if c not in classes]
        if unknown:
            raise DataError(
                f"{ds.name} has class(es) {', '.join(unknown)} the run does not know "
                f"(its classes: {', '.join(classes)})"
            )
        remap = np.array([classes.index(c) for c in ds.class_names], dtype=np.int64)
        y = remap[y]
    return X, y


def read_feature_csv(path, feature_names: list[str], *, ignore=()) -> np.ndarray:
    """Read the feature columns of a CSV file (header row) as float64, in the given order.

    Columns in ``ignore`` (e.g. the targets) are skipped; any other unknown column, a missing
    feature, a ragged row or a non-numeric cell raises DataError naming line and column.
    """
    name = str(path)
    try:
        with open(name, newline="", encoding="utf-8-sig") as fh:
            rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1) if r]
    except FileNotFoundError:
        raise DataError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a folder, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{name}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{name}: the file is empty (expected a header row)")
    header = [h.strip() for h in rows[0][1]]
    missing = [f for f in feature_names if f not in header]
    if missing:
        raise DataError(
            f"{name}: missing feature column(s) {', '.join(missing[:8])}"
            f"{' …' if len(missing) > 8 else ''}; the model needs {len(feature_names)} features"
        )
    extra = [h for h in header if h not in feature_names and h not in ignore]
    if extra:
        raise DataError(
            f"{name}: unexpected column(s) {', '.join(extra[:8])}; the model was trained on "
            f"the features {', '.join(feature_names[:8])}{' …' if len(feature_names) > 8 else ''}"
        )
    cols = [header.index(f) for f in feature_names]
    X = np.empty((len(rows) - 1, len(cols)), dtype=np.float64)
    for r, (line, fields) in enumerate(rows[1:]):
        if len(fields) != len(header):
            raise DataError(
                f"{name}, line {line}: {len(fields)} fields but the header has {len(header)}"
            )
        for j, c in enumerate(cols):
            try:
                v = float(fields[c])
            except ValueError:
                raise DataError(
                    f"{name}, line {line}, column {c + 1} ({header[c]!r}): "
                    f"non-numeric value {fields[c]!r}"
                ) from None
            if not math.isfinite(v):
                raise DataError(f"{name}, line {line}, column {c + 1} ({header[c]!r}): value {v}")
            X[r, j] = v
    return X


def predict_csv(path, csv_path) -> str:
    """Predictions of a saved run for the rows of a CSV file, as CSV text.

    Columns: classification ``prediction`` (class name) and ``p_<class>`` per class;
    multilabel one 0/1 column per label and ``p_<label>``; regression and counts one column
    per target (``prediction`` when the target has no name).  Inputs are raw: the run's saved
    scaler is applied.
    """
    run_dir = RunDir.open(path)
    spec = run_dir.read_spec()
    data = spec["data"]
    model, _ = run_dir.load_model()
    targets = data.get("target_names") or []
    X = run_dir.transform(read_feature_csv(csv_path, data["feature_names"], ignore=targets))
    task = model.head.task
    fmt = "{:.9g}" if model.dtype == np.float32 else "{!r}"

    def num(v):
        return fmt.format(float(v))

    classes = data.get("class_names")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if task in ("binary", "multiclass"):
        proba = model.predict_proba(X)
        names = classes or [str(k) for k in range(proba.shape[1])]
        pred = np.asarray(model.predict(X)).astype(np.int64)
        w.writerow(["prediction", *[f"p_{c}" for c in names]])
        for k, p in zip(pred, proba):
            w.writerow([names[k], *map(num, p)])
    elif task == "multilabel":
        proba = model.predict_proba(X)
        pred = np.asarray(model.predict(X)).astype(np.int64).reshape(proba.shape)
        names = classes or [f"label{j}" for j in range(proba.shape[1])]
        w.writerow([*names, *[f"p_{c}" for c in names]])
        for labels, p in zip(pred, proba):
            w.writerow([*labels.tolist(), *map(num, p)])
    else:
        out = np.asarray(model.output(X)).reshape(len(X), -1)
        names = (
            targets
            if len(targets) == out.shape[1]
            else (
                ["prediction"]
                if out.shape[1] == 1
                else [f"prediction_{j}" for j in range(out.shape[1])]
            )
        )
        w.writerow(names)
        for row in out:
            w.writerow(list(map(num, row)))
    return buf.getvalue()
