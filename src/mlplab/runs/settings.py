"""The settings of a run: :class:`RunConfig`, one field per ``mlplab train`` flag, validated.

The flags themselves (argparse) live in :mod:`mlplab.commands.run_flags`; this module knows only
the values, their defaults and their valid ranges.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field

from mlplab.core.activations import get_activation
from mlplab.core.blas import blas_issue
from mlplab.core.init import init_names
from mlplab.core.losses import get_head
from mlplab.core.network import DTYPES
from mlplab.core.optim import SCHEDULES
from mlplab.errors import CheckpointError, ConfigError, check_choice, check_range

__all__ = [
    "OPTIMIZER_CHOICES",
    "DEFAULT_LR",
    "SGD_FAMILY",
    "TARGET_SCALING_CHOICES",
    "RunConfig",
    "STEPS",
    "flag",
    "is_csv",
]

#: ``--optimizer`` choices; ``momentum``/``nesterov`` are SGD with momentum 0.9 (or --momentum).
OPTIMIZER_CHOICES = ["sgd", "momentum", "nesterov", "adam", "adamw"]
#: Learning rate used when ``--lr`` is not given.  Adam at 2e-3 with the cosine schedule takes
#: a 784-256-256-10 ReLU net past 98 % on MNIST in 5 epochs (see the train command's help).
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adam": 2e-3, "adamw": 2e-3}
SGD_FAMILY = ("sgd", "momentum", "nesterov")
#: ``--target-scaling`` choices (see :mod:`mlplab.runs`).
TARGET_SCALING_CHOICES = ["auto", "none"]


def flag(name: str) -> str:
    """The command-line flag of a :class:`RunConfig` field (``batch_size`` → ``--batch-size``)."""
    return "--" + name.replace("_", "-")


#: ``--step`` choices and the ``Trainer(fast=...)`` each stands for.
STEPS = {"exact": True, "fused": "fused", "reference": False}


def fused_step_issue(c) -> None:
    """Refuse ``--step fused`` where the fused SGD step could not run (rather than quietly
    running the exact step): it folds SGD (plain, momentum or Nesterov) into the products,
    so nothing may need the gradients it never writes."""
    if c.optimizer not in SGD_FAMILY:
        raise ConfigError(
            f"--step fused needs --optimizer {', '.join(SGD_FAMILY)}; got {c.optimizer}"
        )
    given = [
        flag
        for flag, v in (("--weight-decay", c.weight_decay), ("--l1", c.l1), ("--l2", c.l2),
                        ("--clip-grad-norm", c.clip_grad_norm))
        if v
    ]  # fmt: skip
    if given:
        raise ConfigError(
            f"--step fused never forms the gradients that {', '.join(given)} change; "
            "drop them or use --step exact"
        )
    why = blas_issue()
    if why is not None:
        raise ConfigError(f"--step fused needs NumPy's own BLAS, which cannot be called: {why}")


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
    # engine (mlplab.backends.torch for "torch"); ``step`` picks the NumPy engine's step:
    # "exact" (the fast step, bit for bit the reference), "fused" (SGD folded into the
    # weight-gradient products, equal within rounding) or "reference"
    step: str = "exact"
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
        if c.optimizer in SGD_FAMILY:
            if c.momentum is None:
                c.momentum = 0.0 if c.optimizer == "sgd" else 0.9
            check_range("--momentum", c.momentum, 0.0, 1.0, hi_open=True)
            if c.optimizer == "nesterov" and c.momentum == 0:
                raise ConfigError("--momentum must be in (0, 1) for --optimizer nesterov")
        elif c.momentum is not None:
            raise ConfigError(
                f"--momentum applies to --optimizer {', '.join(SGD_FAMILY)}; "
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
        if is_csv(c.dataset):
            if not c.target:
                raise ConfigError(f"--target is required for a CSV data set ({c.dataset})")
            if c.subset is not None or c.noise is not None:
                raise ConfigError("--subset and --noise apply to built-in data sets, not CSV files")
        check_choice("--step", c.step, list(STEPS))
        if c.step == "fused":
            fused_step_issue(c)
        check_choice("--backend", c.backend, ["numpy", "torch"])
        check_choice("--device", c.device, ["auto", "cpu", "cuda"])
        check_choice("--precision", c.precision, ["fp32", "bf16"])
        if c.backend == "numpy" and (c.device != "auto" or c.precision != "fp32"):
            raise ConfigError("--device and --precision apply to --backend torch")
        if c.backend == "torch" and c.step != "exact":
            raise ConfigError("--step applies to --backend numpy")
        if c.precision == "bf16" and c.dtype != "float32":
            raise ConfigError("--precision bf16 needs --dtype float32")
        return c

    def to_dict(self) -> dict:
        """Every field as a JSON-serialisable dict (what ``spec.json`` stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "the saved settings") -> RunConfig:
        """Inverse of :meth:`to_dict`.  Unknown keys (another version) and values of the wrong
        JSON type raise CheckpointError naming ``source`` (e.g. the ``spec.json`` path)."""
        if not isinstance(d, dict):
            raise CheckpointError(f"{source}: the saved settings are not a JSON object")
        # runs saved before --target-scaling existed trained on raw targets
        d = {"target_scaling": "none", **d}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise CheckpointError(
                f"{source}: the saved settings hold unknown field(s) {', '.join(unknown)} "
                "(written by another mlplab version?)"
            )
        hints = typing.get_type_hints(cls)
        for name, value in d.items():
            if not _has_type(value, hints[name]):
                raise CheckpointError(
                    f"{source}: the saved setting {name!r} is {value!r}, not of type "
                    f"{_type_name(hints[name])}"
                )
        return cls(**d)


def _has_type(value, tp) -> bool:
    """Whether a JSON value fits a RunConfig annotation (int, float, str, list[...], X | None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if tp is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_has_type(v, args[0]) for v in value)
    if isinstance(value, bool):
        return tp is bool
    if tp is float:
        return isinstance(value, (int, float))
    return isinstance(value, tp)


def _type_name(tp) -> str:
    return str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "")


def is_csv(name) -> bool:
    """True for a data set name that is a CSV file path (``*.csv``, any case)."""
    return str(name).lower().endswith(".csv")
