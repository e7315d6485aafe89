"""Running a sweep's trials with Ray Tune; each trial is an ordinary ``mlplab train`` run folder.

A sweep folder holds::

    DIR/sweep.json        the space: fixed settings, axes, every trial's settings, metric, ASHA
    DIR/trials/<id>/      one run folder per trial (spec.json, checkpoint.npz, model.npz,
                          metrics.json, history, curves — exactly what `mlplab train` writes)
    DIR/status.json       trials ASHA stopped early, and trials that raised
    DIR/tune/             Ray Tune's own experiment records
    DIR/results.csv/.json, DIR/best.json, DIR/figures/   (mlplab.sweep.results)

Ray Tune schedules the trials (``cpus_per_trial`` CPUs each) on a local Ray instance or a
cluster and, with ``asha``, stops bad trials early (ASHA on the per-epoch ``metric``).  A trial
runs :func:`train_trial`: it prepares the run folder (or resumes it from its checkpoint),
reports every epoch to Tune and trains through :func:`mlplab.runs.execute_run`, the same
workflow as ``mlplab train``.  Resuming a sweep (:func:`run_sweep` on an existing folder)
skips every trial whose folder holds ``metrics.json``; an interrupted trial continues from its
last epoch's checkpoint, and the epochs it had already run are reported again first, so ASHA
judges it on its whole history.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from pathlib import Path

from mlplab import runs
from mlplab.cluster import connect
from mlplab.errors import ConfigError
from mlplab.io import atomic_write_json, ensure_dir

__all__ = ["SWEEP_FORMAT", "metric_mode", "train_trial", "trial_folder", "trial_done",
           "read_status", "run_sweep"]  # fmt: skip

SWEEP_FORMAT = "mlplab-sweep-1"


def metric_mode(metric: str) -> str:
    """``min`` for losses and errors, ``max`` for accuracy-like metrics."""
    low = ("loss", "rmse", "mae", "deviance", "error")
    return "min" if any(k in metric for k in low) else "max"


def trial_folder(sweep_dir, trial_id: str) -> Path:
    """``DIR/trials/<id>``: the trial's run folder."""
    return Path(sweep_dir) / "trials" / trial_id


def trial_done(sweep_dir, trial_id: str) -> bool:
    """Whether the trial's run folder is finished (its ``metrics.json`` is written)."""
    return (trial_folder(sweep_dir, trial_id) / runs.RunDir.METRICS).is_file()


def read_status(sweep_dir) -> dict:
    """``DIR/status.json``: ``{trial_id: {"status": ..., "error": ...}}`` (empty if none)."""
    try:
        return json.loads((Path(sweep_dir) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _epoch_metrics(record: dict) -> dict:
    """The finite numbers of one history record, for Tune."""
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def train_trial(config: dict, *, sweep_dir: str, base: dict, metric: str) -> None:
    """The Tune trainable: train (or resume, or merely report) one trial's run folder."""
    from mlplab.core.train import Callback
    from mlplab.sweep.space import trial_config
    from ray import tune

    trial = config["trial"]
    folder = trial_folder(sweep_dir, trial["id"])
    ck = folder / runs.RunDir.CHECKPOINT
    if ck.is_file():
        run = runs.resume_run(folder)
    else:
        if folder.exists():  # stopped between spec.json and the first checkpoint: start afresh
            shutil.rmtree(folder)
        run = runs.prepare_run(trial_config(base, trial["settings"]), folder)

    def report(record):
        values = _epoch_metrics(record)
        if metric not in values:
            raise ConfigError(
                f"--metric {metric} is not in the run's history (it has "
                f"{', '.join(sorted(values))})"
            )
        tune.report(values)

    for record in run.trainer.history.records:  # epochs done before an interruption
        report(record)

    class Report(Callback):
        def on_epoch_end(self, trainer):
            report(trainer.history.last())

    runs.execute_run(run, [Report()])


def _progress_callback(total: int):
    """A Tune callback that prints one line per finished trial on stderr (Tune pickles its
    callbacks, so this one holds nothing but counters)."""
    from ray import tune

    class Progress(tune.Callback):
        def __init__(self):
            self.done = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            last = trial.last_result or {}
            shown = ", ".join(f"{k} {last[k]:.4g}" for k in ("epoch", "val_loss") if k in last)
            tid = trial.config["trial"]["id"]
            print(f"[{self.done}/{total}] {tid} done ({shown})", file=sys.stderr)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.done += 1
            tid = trial.config["trial"]["id"]
            print(f"[{self.done}/{total}] {tid} raised an error", file=sys.stderr)

    return Progress()


def run_sweep(
    sweep_dir,
    spec: dict,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_trial: float = 1,
    progress: bool = False,
) -> dict:
    """Run every unfinished trial of ``spec`` (a sweep.json dict) with Ray Tune.

    Returns ``{"ran", "skipped", "stopped": [ids], "errors": {id: message}, "seconds"}``
    and updates ``DIR/status.json``; ``progress`` prints a line per finished trial.
    ``address`` and ``num_cpus`` as in :func:`mlplab.cluster.connect`.
    """
    sweep_dir = Path(sweep_dir).resolve()
    ensure_dir(sweep_dir / "trials")
    todo = [t for t in spec["trials"] if not trial_done(sweep_dir, t["id"])]
    skipped = len(spec["trials"]) - len(todo)
    status = read_status(sweep_dir)
    out = {"ran": len(todo), "skipped": skipped, "stopped": [], "errors": {}, "seconds": 0.0}
    if not todo:
        return out
    owner = connect(address, num_cpus=num_cpus)
    t0 = time.perf_counter()
    try:
        from ray.tune.schedulers import ASHAScheduler

        from ray import tune

        metric, mode = spec["metric"], spec["mode"]
        scheduler = None
        if spec.get("asha"):
            a = spec["asha"]
            scheduler = ASHAScheduler(
                time_attr="epoch",
                max_t=a["max_epochs"],
                grace_period=a["grace_period"],
                reduction_factor=a["reduction_factor"],
            )
        trainable = tune.with_resources(
            tune.with_parameters(
                train_trial, sweep_dir=str(sweep_dir), base=spec["base"], metric=metric
            ),
            {"cpu": cpus_per_trial},
        )
        callbacks = [_progress_callback(len(todo))] if progress else []
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(todo)},
            tune_config=tune.TuneConfig(metric=metric, mode=mode, scheduler=scheduler),
            run_config=tune.RunConfig(
                name="tune",
                storage_path=str(sweep_dir),
                verbose=0,
                callbacks=callbacks,
                failure_config=tune.FailureConfig(max_failures=2),
            ),
        )
        with contextlib.redirect_stdout(sys.stderr):  # Tune's own report: not on stdout
            grid = tuner.fit()
        for result in grid:
            tid = result.config["trial"]["id"]
            if result.error is not None:
                msg = str(result.error).strip().splitlines()
                out["errors"][tid] = msg[-1] if msg else type(result.error).__name__
                status[tid] = {"status": "error", "error": out["errors"][tid]}
            elif not trial_done(sweep_dir, tid) and not _finish_stopped(sweep_dir, tid):
                out["stopped"].append(tid)
                status[tid] = {"status": "stopped", "by": "asha"}
            else:
                status.pop(tid, None)
    finally:
        out["seconds"] = time.perf_counter() - t0
        atomic_write_json(sweep_dir / "status.json", status)
        if owner:
            import ray

            ray.shutdown()
    return out


def _finish_stopped(sweep_dir, trial_id: str) -> bool:
    """Write model, history and metrics of a trial Tune stopped, from its last checkpoint;
    return True when it had trained all its epochs (ASHA stops a trial at its last epoch too,
    before the trial wrote its results), False when ASHA cut it short.

    A cut-short trial's checkpoint stays unfinished: ``mlplab train --resume`` can train it on.
    """
    run = runs.resume_run(trial_folder(sweep_dir, trial_id))
    runs.finish_run(run)
    return run.finished or run.trainer.epoch >= run.config.epochs
