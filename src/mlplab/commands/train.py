"""``mlplab train``: train an MLP on a data set into a run folder, with checkpoints after every
epoch; ``--resume DIR`` continues an interrupted run exactly where its last epoch ended.

The command is a thin layer over :mod:`mlplab.runs`; the run's flags are in
:mod:`mlplab.commands.run_flags`.  To add flags, extend them or :func:`add_arguments` (a new
:class:`~mlplab.runs.RunConfig` field whose flag ``dest`` has the
same name is saved and resume-checked automatically) and, for behaviour, :func:`build_from_args`
(settings → :class:`~mlplab.runs.Run`) or :func:`make_callbacks` (progress, diagnostics …).
"""

from __future__ import annotations

import json
import math
import sys

from mlplab import runs
from mlplab.commands import run_flags
from mlplab.core.train import Callback
from mlplab.errors import ConfigError

DESCRIPTION = """\
Train a multi-layer perceptron on a built-in data set or a CSV file. The run folder (--out,
default runs/<dataset>-<time>) receives model.npz, spec.json (every setting), scaler.npz,
checkpoint.npz (after every epoch), history.json/.csv, curves.png and metrics.json.
A run stopped by Ctrl-C or even SIGKILL continues with --resume DIR and ends with the same
weights as an uninterrupted run. Defaults: --hidden 256,256 --activation relu --optimizer adam
--lr 2e-3 --schedule cosine --batch-size 128 --epochs 10; on MNIST
`mlplab train --dataset mnist --hidden 256,256 --epochs 5` reaches about 98.2 % test accuracy.
With --members K the folder holds K such runs in members/0 … K-1 and, at the top, the one
model that averages their logits.

Exit status: 0 trained; 2 bad input or a file that cannot be read or written (one line on
stderr); 3 training diverged (a loss or weight became NaN or infinite): the run folder keeps
the last finite state, one line on stderr names the epoch and step, and
`mlplab train --resume DIR --lr <lower>` continues from there; 130 interrupted (Ctrl-C).
"""

#: Exit status of ``mlplab train`` when training diverged (see DESCRIPTION).
EXIT_DIVERGED = 3


def register(sub) -> None:
    import argparse

    p = sub.add_parser(
        "train",
        help="train a model into a run folder (checkpoints, curves, metrics)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p) -> None:
    """All flags of ``mlplab train``: data, model, training and output groups."""
    from mlplab.recipes import recipe_names

    p.add_argument(
        "--recipe",
        default=None,
        choices=recipe_names(),
        help="MNIST recipe whose settings replace the defaults of the flags not given: fast "
        "(98 %% test accuracy in about a second), best (lowest error, minutes); see "
        "mlplab.recipes",
    )
    run_flags.add_data_args(p)
    run_flags.add_model_args(p)
    run_flags.add_train_args(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="DIR", help="run folder to create")
    g.add_argument(
        "--force",
        action="store_true",
        help="let --out be a folder that holds other files (files named like the run's are "
        "replaced); without it such a folder is refused",
    )
    g.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR from its checkpoint (its saved settings apply)",
    )
    g.add_argument(
        "--json", action="store_true", help="no progress; print one JSON object on stdout"
    )
    g.add_argument(
        "--doctor",
        action="store_true",
        help="diagnose while training (see `mlplab doctor`): findings between epochs, "
        "DIR/diagnostics.json and figures; with --json a 'findings' list",
    )


def build_from_args(args) -> runs.Run | runs.EnsembleRun:
    """Settings → a :class:`~mlplab.runs.Run` (or :class:`~mlplab.runs.EnsembleRun` for
    ``--members`` > 1) ready to train: a new one, or a resumed one."""
    if args.resume is not None:
        if args.out is not None and _same(args.out, args.resume) is False:
            raise ConfigError(
                "--out and --resume name different folders; a resumed run stays in its folder"
            )
        if getattr(args, "recipe", None) is not None:
            raise ConfigError("--recipe starts a new run; a resumed run keeps its saved settings")
        return runs.resume_run(args.resume, given=run_flags.given_settings(args))
    defaults = None
    if getattr(args, "recipe", None) is not None:
        from mlplab.recipes import recipe_settings

        defaults = recipe_settings(args.recipe)
    elif args.dataset is None:
        raise ConfigError("--dataset is required (see `mlplab datasets`), or --resume DIR")
    cfg = run_flags.config_from_args(args, defaults=defaults)
    if cfg.step == "fused" and getattr(args, "doctor", False):
        raise ConfigError(
            "--doctor reads the gradients, which --step fused never writes; use --step exact"
        )
    force = bool(getattr(args, "force", False))
    if cfg.members > 1:
        return runs.prepare_ensemble(cfg, args.out, force=force)
    return runs.prepare_run(cfg, args.out, force=force)


def _same(a, b) -> bool:
    from pathlib import Path

    return Path(a).resolve() == Path(b).resolve()


class ProgressCallback(Callback):
    """A rich progress bar per epoch on stderr: batches done, the running training loss, and at
    the epoch's end ``loss train/val`` and ``<metric> train/val``."""

    reads_gradients = False  # the loss only: the fused step may run

    def __init__(self, progress, prefix: str = ""):
        self.progress = progress
        self.prefix = prefix
        self.task = None
        self.steps = 0
        self.loss_sum = 0.0
        self.seen = 0

    def on_train_begin(self, trainer):
        """Note the number of batches per epoch."""
        epochs = trainer.config.epochs
        self.steps = trainer.total_steps // epochs if epochs else 0

    def on_epoch_begin(self, trainer):
        """Start a progress bar for the epoch."""
        self.loss_sum, self.seen = 0.0, 0
        self.task = self.progress.add_task(
            f"{self.prefix}epoch {trainer.epoch + 1}/{trainer.config.epochs}",
            total=self.steps,
            stats="",
        )

    def on_batch_end(self, trainer, batch_loss):
        """Advance the bar and show the running training loss."""
        self.loss_sum += batch_loss
        self.seen += 1
        self.progress.update(self.task, advance=1, stats=f"loss {self.loss_sum / self.seen:.4f}")

    def on_epoch_end(self, trainer):
        """Complete the bar with the epoch's train/validation loss and metric."""
        rec = trainer.history.last()
        m = trainer.metric
        short = {"accuracy": "acc", "deviance": "dev"}.get(m, m)
        parts = [_pair("loss", rec.get("train_loss"), rec.get("val_loss"))]
        if f"train_{m}" in rec or f"val_{m}" in rec:
            parts.append(_pair(short, rec.get(f"train_{m}"), rec.get(f"val_{m}")))
        self.progress.update(self.task, completed=self.steps, stats=" ".join(parts))


def _pair(name, train, val) -> str:
    """``loss 0.1234/0.2345`` (train/validation); a missing side is shown as ``–``."""
    fmt = lambda v: "–" if v is None else f"{v:.4f}"
    return f"{name} {fmt(train)}/{fmt(val)}"


def make_progress(console):
    """A rich :class:`~rich.progress.Progress` on ``console`` with the columns of the epoch bars."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
    )


def make_callbacks(args, run_, progress) -> list[Callback]:
    """Callbacks besides the checkpoint writer (which :func:`~mlplab.runs.execute_run` adds)."""
    callbacks = [] if progress is None else [ProgressCallback(progress)]
    if args.doctor:
        from mlplab.commands.doctor import attach_doctor

        callbacks.append(
            attach_doctor(run_, console=None if progress is None else progress.console)
        )
    return callbacks


def run(args) -> int:
    from rich.console import Console

    err = Console(stderr=True)
    run_ = build_from_args(args)
    if isinstance(run_, runs.EnsembleRun):
        return _run_ensemble(args, run_, err)
    if run_.resumed_from is not None:
        total = run_.config.epochs
        state = (
            "already complete" if run_.finished else f"from epoch {run_.resumed_from} of {total}"
        )
        err.print(f"resuming {run_.dir.path} {state}", highlight=False, markup=False)
    for note in run_.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    progress = None if args.json else make_progress(err)
    callbacks = make_callbacks(args, run_, progress)
    try:
        summary = _with_progress(progress, lambda: runs.execute_run(run_, callbacks))
    except KeyboardInterrupt:
        saved = next(
            (
                c.saved_epoch
                for c in run_.trainer.callbacks
                if isinstance(c, runs.CheckpointCallback)
            ),
            None,
        )
        where = "no checkpoint yet" if saved is None else f"checkpoint of epoch {saved} saved"
        print(
            f"mlplab train: interrupted; {where} in {run_.dir.path} — continue with "
            f"`mlplab train --resume {run_.dir.path}`",
            file=sys.stderr,
        )
        return 130
    if args.doctor:
        from mlplab.commands.doctor import finish_doctor
        from mlplab.diagnostics import Doctor

        doctor = next(c for c in callbacks if isinstance(c, Doctor))
        summary["findings"] = finish_doctor(doctor, run_)
        if not args.json:
            err.print(
                f"doctor: {len(summary['findings'])} finding(s); {run_.dir.path}/diagnostics.json",
                highlight=False,
                markup=False,
            )
    if args.json:
        print(json.dumps(_jsonable(summary)))
    if summary.get("stop_reason") == "divergence":
        print(divergence_line(summary), file=sys.stderr)
        return EXIT_DIVERGED
    if not args.json:
        _print_summary(summary)
    return 0


def divergence_line(summary: dict) -> str:
    """One line for a run that diverged: where, what was kept, what to try."""
    d = summary.get("divergence") or {}
    cause = {"loss": "the training loss", "parameters": "the weights"}.get(
        d.get("cause"), "the validation loss"
    )
    lr = summary.get("lr")
    lower = f"{lr / 10:g}" if isinstance(lr, (int, float)) else "<lower>"
    kept = d.get("restored_epoch")
    who = "" if summary.get("member") is None else f"member {summary['member'] + 1} "
    return (
        f"mlplab train: {who}diverged in epoch {d.get('epoch')} at step {d.get('step')} ({cause} "
        f"became NaN or infinite); {summary['out']} keeps the last finite state (epoch {kept}) — "
        f"try a lower learning rate: mlplab train --resume {summary['out']} --lr {lower} "
        "(or, in a new run, --clip-grad-norm 1 or --schedule warmup_cosine)"
    )


def _run_ensemble(args, ens: runs.EnsembleRun, err) -> int:
    """``--members K``: the members one after the other, then the averaged model."""
    if args.doctor:
        raise ConfigError("--doctor watches one network; use it without --members")
    k = ens.config.members
    if ens.resumed_from is not None:
        state = (
            "already complete" if ens.finished else f"with {ens.resumed_from} of {k} members done"
        )
        err.print(f"resuming {ens.dir.path} {state}", highlight=False, markup=False)
    progress = None if args.json else make_progress(err)
    callbacks = lambda m, r: (
        [] if progress is None else [ProgressCallback(progress, f"member {m + 1}/{k} ")]
    )
    try:
        summary = _with_progress(progress, lambda: runs.execute_ensemble(ens, callbacks))
    except KeyboardInterrupt:
        print(
            f"mlplab train: interrupted; finished members and the last epoch's checkpoint are "
            f"saved in {ens.dir.path} — continue with `mlplab train --resume {ens.dir.path}`",
            file=sys.stderr,
        )
        return 130
    if summary.get("stop_reason") == "divergence":  # a member diverged: nothing averaged
        if args.json:
            print(json.dumps(_jsonable(summary)))
        print(
            divergence_line(summary)
            + f"; then `mlplab train --resume {summary['ensemble']}` trains the remaining "
            f"members of {summary['members']}",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    if args.json:
        print(json.dumps(_jsonable(summary)))
    else:
        for r in summary["member_results"]:
            acc = r.get("test_accuracy")
            shown = (
                f"accuracy {100 * acc:.2f} %" if acc is not None else f"loss {r['test_loss']:.4g}"
            )
            err.print(f"member {r['member'] + 1}/{k}: test {shown}", highlight=False)
        _print_summary(summary)
    return 0


def _with_progress(progress, work):
    """``work()``, inside the live progress display when there is one."""
    if progress is None:
        return work()
    with progress:
        return work()


def _jsonable(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _print_summary(s: dict) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False)
    shown = []
    for key, label, pct in (
        ("test_accuracy", "accuracy", True),
        ("test_r2", "R²", False),
        ("test_rmse", "RMSE", False),
        ("test_deviance", "deviance", False),
    ):
        if key in s and s[key] is not None:
            shown.append(f"{label} {100 * s[key]:.2f} %" if pct else f"{label} {s[key]:.4g}")
    shown.append(f"loss {s['test_loss']:.4g}")
    stop = f", stopped by {s['stop_reason'].replace('_', ' ')}" if s.get("stop_reason") else ""
    what = f"{s['epochs']} epochs"
    if s.get("members"):
        what = f"{s['members']} members × {s['epochs']} epochs, averaged"
    out.print(
        f"[bold]{escape(s['dataset'])}[/] test: {' · '.join(shown)}  "
        f"({what}, {s['train_seconds']:.1f} s of training{stop})"
    )
    files = (
        "model.npz, metrics.json, history.csv; each member's run in members/"
        if s.get("members")
        else "model.npz, metrics.json, curves.png, history.csv"
    )
    out.print(f"run saved in {s['out']}  ({files})", markup=False)
