"""From settings to things: the data set, the target map, the model and the trainer of a run."""

from __future__ import annotations

import hashlib

import numpy as np

from mlplab.core.losses import get_head, head_for_task, heads_for_task
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import make_optimizer, make_schedule
from mlplab.core.train import TrainConfig, Trainer
from mlplab.errors import ConfigError
from mlplab.runs.settings import SGD_FAMILY, STEPS, RunConfig

__all__ = [
    "load_data",
    "compatible_heads",
    "target_map",
    "scaled_targets",
    "fold_target_map",
    "resolve_head",
    "model_spec",
    "run_rngs",
    "build_model",
    "optimizer_spec",
    "train_config",
    "build_trainer",
    "data_fingerprint",
    "data_summary",
]


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


def compatible_heads(task: str) -> list[str]:
    """Heads that fit a task's labels; the first is the canonical one (``--head auto``)."""
    return heads_for_task(task)


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
    if resolve_head(cfg.head, dataset.task) not in _SCALED_HEADS or len(dataset.y_train) == 0:
        return None
    y = np.asarray(dataset.y_train, dtype=np.float64).reshape(len(dataset.y_train), -1)
    mean = y.mean(axis=0)
    scale = y.std(axis=0)
    scale[~(np.isfinite(scale) & (scale > 0))] = 1.0
    return mean, scale


def scaled_targets(y, tmap) -> np.ndarray:
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


def resolve_head(head: str, task: str) -> str:
    """The head a run uses: the task's canonical one for ``auto``; ConfigError if it does not
    fit the task."""
    if head == "auto":
        return head_for_task(task)
    name = get_head(head).name
    if name not in heads_for_task(task):
        raise ConfigError(
            f"--head {name} does not fit a {task} data set; use one of "
            f"{', '.join(heads_for_task(task))} (or auto)"
        )
    return name


def model_spec(cfg: RunConfig, dataset) -> dict:
    """The network spec for ``dataset``: d inputs, ``cfg.hidden``, the head's output units."""
    head = resolve_head(cfg.head, dataset.task)
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
    if cfg.optimizer in SGD_FAMILY:
        spec["momentum"] = cfg.momentum
    return spec


def train_config(cfg: RunConfig) -> TrainConfig:
    """The loop settings (:class:`~mlplab.core.train.TrainConfig`) of a run."""
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
    cls, engine = Trainer, {"fast": STEPS[cfg.step]}
    if cfg.backend == "torch":
        from mlplab.backends.torch import TorchTrainer

        cls, engine = TorchTrainer, {"device": cfg.device, "precision": cfg.precision}
    return cls(
        model,
        make_optimizer(optimizer_spec(cfg)),
        schedule=make_schedule(cfg.schedule),
        config=train_config(cfg),
        rng=run_rngs(cfg.seed, cfg.member)[1] if rng is None else rng,
        callbacks=callbacks,
        **engine,
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


def data_summary(cfg: RunConfig, dataset) -> dict:
    """What ``spec.json`` records about the data: sizes, names, task and the fingerprint."""
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
