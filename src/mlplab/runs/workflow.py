"""The workflow of one run: prepare (new folder) or resume (from its checkpoint), execute
(train with checkpoints), finish (model, history, curves, metrics)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab.core.network import Network
from mlplab.core.train import Trainer
from mlplab.errors import CheckpointError, ConfigError
from mlplab.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    ensure_dir,
    json_safe,
    save_network,
)
from mlplab.runs.building import (
    build_trainer,
    data_fingerprint,
    data_summary,
    fold_target_map,
    load_data,
    model_spec,
    run_rngs,
    scaled_targets,
    target_map,
)
from mlplab.runs.folder import RUN_FORMAT, CheckpointCallback, RunDir
from mlplab.runs.metrics import history_csv, is_scalar, plot_curves, split_metrics
from mlplab.runs.settings import RunConfig, flag, is_csv

if TYPE_CHECKING:
    from mlplab.runs.ensembles import EnsembleRun

__all__ = [
    "Run",
    "default_out",
    "prepare_run",
    "resume_run",
    "execute_run",
    "finish_run",
    "same_data",
    "history_document",
    "divergence_record",
    "environment",
    "target_scaling_record",
]


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
        return scaled_targets(getattr(self.dataset, f"y_{split}"), self.tmap)


def default_out(dataset_name: str, root="runs") -> Path:
    """Create and return ``runs/<dataset>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3`` … if taken).

    The folder is made with an exclusive ``mkdir``, so two runs started in the same second
    (even in two processes) never share one.
    """
    stem = Path(dataset_name).stem if is_csv(dataset_name) else dataset_name
    base = Path(root) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    ensure_dir(base.parent)
    out, k = base, 2
    while True:
        try:
            out.mkdir()
            return out
        except FileExistsError:
            out = base.with_name(f"{base.name}-{k}")
            k += 1
        except OSError as exc:
            raise ConfigError(f"cannot create run folder {str(out)!r}: {exc.strerror}") from None


def prepare_run(cfg: RunConfig, out=None, *, force: bool = False) -> Run:
    """Load the data, build model and trainer, create the folder and write ``spec.json`` and
    ``scaler.npz``.  ``cfg`` should be resolved (:func:`config_from_args` does that).
    ``force`` lets ``out`` be a folder that holds other files (:meth:`RunDir.create`)."""
    cfg = cfg.resolved()
    dataset = load_data(cfg)
    if cfg.members > 1:
        raise ConfigError("prepare_run trains one network; use prepare_ensemble for --members")
    init_rng, train_rng = run_rngs(cfg.seed, cfg.member)
    model = Network(model_spec(cfg, dataset), rng=init_rng)
    trainer = build_trainer(cfg, model, rng=train_rng)
    run_dir = RunDir.create(default_out(cfg.dataset) if out is None else out, force=force)
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
        "data": data_summary(cfg, dataset),
        "target_scaling": target_scaling_record(tmap),
        "environment": environment(),
    }
    run_dir.write_spec(spec)
    run_dir.write_scaler(dataset, tmap)
    return Run(cfg, run_dir, dataset, model, trainer, spec, tmap=tmap)


def target_scaling_record(tmap) -> dict:
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
    cfg = RunConfig.from_dict(spec["config"], source=str(run_dir.spec_path))
    conflicts, differ = [], []
    for name, value in (given or {}).items():
        saved = getattr(cfg, name)
        mine = value
        if name == "dataset" and is_csv(value):
            mine = str(Path(value).expanduser().resolve())
        if name == "data_dir":
            mine = str(Path(value).expanduser().resolve())
        if mine != saved and not (isinstance(saved, float) and mine == float(saved)):
            conflicts.append(f"{flag(name)} {value} (saved: {saved})")
            differ.append(name)
    new_lr = None
    if differ == ["lr"] and cfg.members == 1 and _stopped_by_divergence(run_dir):
        new_lr = float(given["lr"])  # a diverged run continues with a lower learning rate
    elif conflicts:
        hint = " (--lr may change only when resuming a run that diverged)" if "lr" in differ else ""
        raise ConfigError(
            f"--resume keeps the run's saved settings; these flags differ: {'; '.join(conflicts)}"
            f" — drop them, or start a new run with another --out{hint}"
        )
    if cfg.members > 1:
        from mlplab.runs.ensembles import reopen_ensemble  # ensembles build on this module

        return reopen_ensemble(run_dir, spec, cfg)
    cfg = resolved_saved(cfg, run_dir)
    old_lr = cfg.lr
    if new_lr is not None:
        cfg = dataclasses.replace(cfg, lr=new_lr).resolved()
    if not run_dir.checkpoint_path.exists():
        return _restart(run_dir, spec, cfg)
    ck = run_dir.load_checkpoint()  # before the (slow) data: a damaged checkpoint fails fast
    dataset = same_data(cfg, spec)
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
    finished = bool(ck.get("finished"))
    if new_lr is not None:
        trainer.stop_reason = None  # continue from the last finite state, at the new rate
        finished = False
        spec["config"] = cfg.to_dict()
        spec["optimizer"] = trainer.optimizer.spec()
        spec.setdefault("lr_changes", []).append(
            {"after_epoch": trainer.epoch, "from": old_lr, "to": new_lr, "reason": "divergence"}
        )
        run_dir.write_spec(spec)
        notes.append(
            f"continuing from epoch {trainer.epoch}, the last finite state, with --lr {new_lr:g} "
            f"(was {old_lr:g}); spec.json records the change"
        )
    saved_env, env = spec.get("environment", {}), environment()
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
        finished=finished,
        notes=notes,
        tmap=target_map(cfg, dataset),
    )


def _stopped_by_divergence(run_dir: RunDir) -> bool:
    """Whether the run's checkpoint says training stopped because it diverged."""
    if not run_dir.checkpoint_path.is_file():
        return False
    return run_dir.load_checkpoint()["trainer"].get("stop_reason") == "divergence"


def resolved_saved(cfg: RunConfig, run_dir: RunDir) -> RunConfig:
    """``cfg.resolved()`` for settings read from ``run_dir``: a refusal names ``spec.json``."""
    try:
        return cfg.resolved()
    except ConfigError as exc:
        raise CheckpointError(
            f"{run_dir.spec_path} holds settings that are refused: {exc}"
        ) from None


def _restart(run_dir: RunDir, spec: dict, cfg: RunConfig) -> Run:
    """A run that stopped before its first checkpoint: start it again from its saved settings
    (the same seeds give the same initial weights and batch order as the first start)."""
    dataset = same_data(cfg, spec)
    init_rng, train_rng = run_rngs(cfg.seed, cfg.member)
    model = Network(model_spec(cfg, dataset), rng=init_rng)
    trainer = build_trainer(cfg, model, rng=train_rng)
    tmap = target_map(cfg, dataset)
    run_dir.write_scaler(dataset, tmap)  # the stop may have come before it was written
    note = "no checkpoint had been saved: training starts again from the run's saved settings"
    return Run(cfg, run_dir, dataset, model, trainer, spec, resumed_from=0, notes=[note], tmap=tmap)


def environment() -> dict:
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
    # the model and the history first: whatever happens in the metrics, they are on disk
    save_network(model, run.dir.model_path)
    atomic_write_json(
        run.dir.file(RunDir.HISTORY_JSON), history_document(records, run.tmap is not None)
    )
    atomic_write_text(run.dir.file(RunDir.HISTORY_CSV), history_csv(records))
    metrics = split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    metrics = {"split": "test", "n": len(ds.X_test), **metrics}
    atomic_write_bytes(run.dir.file(RunDir.CURVES), plot_curves(records, trainer.metric, ds.name))
    atomic_write_json(run.dir.file(RunDir.METRICS), metrics)
    summary = {
        "out": str(run.dir.path),
        "dataset": ds.name,
        "task": ds.task,
        "epochs": trainer.epoch,
        "stop_reason": trainer.stop_reason,
        "divergence": divergence_record(records) if trainer.stop_reason == "divergence" else None,
        "lr": run.config.lr,
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
    summary.update({f"test_{k}": v for k, v in metrics.items() if is_scalar(v) and k != "n"})
    return summary


def divergence_record(records: list[dict]) -> dict | None:
    """The history's last divergence record (``epoch``, ``step``, ``cause``,
    ``restored_epoch``), or None."""
    for r in reversed(records):
        if r.get("diverged"):
            return {k: r.get(k) for k in ("epoch", "step", "cause", "restored_epoch")}
    return None


def history_document(records: list[dict], target_standardized: bool) -> dict:
    """What ``history.json`` holds: the records as strict JSON — a NaN or ±inf (a diverged
    epoch) becomes ``null``, and a ``note`` says so — and whether targets were standardised."""
    safe = json_safe(records)
    doc = {"records": safe, "target_standardized": bool(target_standardized)}
    if safe != records:
        doc["note"] = (
            "null stands for a value that was not finite (NaN or ±inf): the loss or a "
            "metric of that epoch overflowed (the run diverged)"
        )
    return doc


def same_data(cfg: RunConfig, spec: dict, *, consequence: str = "an exact resume is impossible"):
    """The run's data set, loaded again; CheckpointError if its arrays changed since training
    (the message ends with ``consequence``)."""
    dataset = load_data(cfg)
    if data_fingerprint(dataset) != spec["data"].get("fingerprint"):
        raise CheckpointError(
            f"the data set {cfg.dataset!r} has changed since this run was trained on it "
            f"(its arrays differ); {consequence}"
        )
    return dataset
