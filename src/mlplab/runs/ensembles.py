"""Ensemble runs (``--members K``): K ordinary runs in ``members/m`` and, at the top, the one
MLP that averages their logits (:func:`mlplab.core.ensemble.average_networks`)."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

from mlplab.core.ensemble import average_networks
from mlplab.core.network import Network
from mlplab.io import atomic_write_json, atomic_write_text, load_network, read_bytes, save_network
from mlplab.runs.building import data_summary, load_data, model_spec, target_map
from mlplab.runs.folder import RUN_FORMAT, RunDir
from mlplab.runs.metrics import history_csv, is_scalar, split_metrics
from mlplab.runs.settings import RunConfig
from mlplab.runs.workflow import (
    default_out,
    environment,
    execute_run,
    history_document,
    prepare_run,
    resolved_saved,
    resume_run,
    same_data,
    target_scaling_record,
)

__all__ = [
    "EnsembleRun",
    "prepare_ensemble",
    "reopen_ensemble",
    "execute_ensemble",
    "finish_ensemble",
]


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
        """The run folder of member ``m`` (``members/m``)."""
        return RunDir(self.dir.path / "members" / str(m))

    def member_config(self, m: int) -> RunConfig:
        """Member ``m``'s settings: the ensemble's, with ``members=1`` and ``member=m``."""
        return dataclasses.replace(self.config, members=1, member=m)

    def member_done(self, m: int) -> bool:
        """Whether member ``m`` finished (its model and metrics are written)."""
        d = self.member_dir(m)
        return d.model_path.is_file() and d.file(RunDir.METRICS).is_file()


def prepare_ensemble(cfg: RunConfig, out=None, *, force: bool = False) -> EnsembleRun:
    """The top folder of a new ensemble run: ``spec.json`` (with the merged model's spec) and
    ``scaler.npz``; the members are created by :func:`execute_ensemble`."""
    cfg = cfg.resolved()
    dataset = load_data(cfg)
    run_dir = RunDir.create(default_out(cfg.dataset) if out is None else out, force=force)
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
        "data": data_summary(cfg, dataset),
        "target_scaling": target_scaling_record(target_map(cfg, dataset)),
        "environment": environment(),
    }
    run_dir.write_spec(spec)
    run_dir.write_scaler(dataset, target_map(cfg, dataset))
    return EnsembleRun(cfg, run_dir, dataset, spec)


def reopen_ensemble(run_dir: RunDir, spec: dict, cfg: RunConfig) -> EnsembleRun:
    """An existing ensemble folder, its data checked unchanged; counts the finished members."""
    cfg = resolved_saved(cfg, run_dir)
    dataset = same_data(cfg, spec)
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

    A member that diverges stops the ensemble there: its folder keeps its last finite state,
    later members are not trained and no averaged model is written; the summary (stop reason
    ``"divergence"``) is that member's, with ``member`` and the ensemble's folder added.
    """
    summaries = []
    for m in range(ens.config.members):
        d = ens.member_dir(m)
        if d.spec_path.is_file():
            run = resume_run(d.path)
        else:
            run = prepare_run(ens.member_config(m), d.path)
        summary = execute_run(run, make_callbacks(m, run))
        if summary.get("stop_reason") == "divergence":
            return {**summary, "member": m, "members": ens.config.members,
                    "ensemble": str(ens.dir.path)}  # fmt: skip
        summaries.append(summary)
    return finish_ensemble(ens, summaries)


def finish_ensemble(ens: EnsembleRun, summaries: list[dict]) -> dict:
    """Average the members' saved models into the top ``model.npz``; write history and test
    metrics; return the summary (the members' own test metrics under ``members``)."""
    ds = ens.dataset
    members = [ens.member_dir(m).path for m in range(ens.config.members)]
    models = [load_network(p / RunDir.MODEL) for p in members]
    model = average_networks(models)
    metrics = split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    metrics = {"split": "test", "n": len(ds.X_test), **metrics}
    records = []
    for m, p in enumerate(members):
        hist = json.loads(read_bytes(p / RunDir.HISTORY_JSON).decode("utf-8"))
        records += [{"member": m, **r} for r in hist["records"]]
    save_network(model, ens.dir.model_path)
    atomic_write_json(
        ens.dir.file(RunDir.HISTORY_JSON),
        history_document(records, summaries[0]["target_standardized"]),
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
    summary.update({f"test_{k}": v for k, v in metrics.items() if is_scalar(v) and k != "n"})
    keys = [k for k in summaries[0] if k.startswith("test_")]
    summary["member_results"] = [
        {"member": m, "train_seconds": s["train_seconds"], **{k: s.get(k) for k in keys}}
        for m, s in enumerate(summaries)
    ]
    return summary
