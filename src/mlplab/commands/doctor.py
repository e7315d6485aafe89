"""``mlplab doctor DIR``: name the failure modes of a finished or interrupted run.

Also the pieces ``mlplab train --doctor`` uses: :func:`attach_doctor` (the live callback, with
findings printed between epochs) and :func:`finish_doctor` (``diagnostics.json`` and figures).
"""

from __future__ import annotations

import json

from mlplab.diagnostics import PROBE_SIZE, json_safe

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def register(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="diagnose a run: vanishing/exploding gradients, saturation, dead ReLUs, "
        "overfitting, divergence, flat loss",
        description=(
            "Diagnose a finished or interrupted run folder. Reads DIR/diagnostics.json (written "
            "by `mlplab train --doctor`) when present, the history and the saved weights; "
            "recomputes activation statistics and dead units of those weights on a probe batch "
            "of the run's own training data (spec.json names the data set and seed). Each "
            "finding names its failure mode in section 8 of the reference text, the evidence "
            "and what to change. Exit status 0 whatever is found."
        ),
    )
    p.add_argument("dir", metavar="DIR", help="run folder (from `mlplab train`)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument(
        "--probe-size",
        type=int,
        default=PROBE_SIZE,
        metavar="N",
        help=f"training rows in the probe batch (default {PROBE_SIZE})",
    )
    p.add_argument(
        "--figures",
        action="store_true",
        help="also (re)write the diagnostics figures into DIR",
    )
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------ shared output
def finding_text(f) -> str:
    """Rich markup for one finding: severity, id, section, summary, then the advice."""
    style = SEVERITY_STYLE.get(f.severity, "")
    where = f"§{f.sections[0]} {f.failure_mode}"
    when = "" if f.epoch is None else f", epoch {f.epoch}"
    return (
        f"[{style}]{f.severity}[/] [bold]{f.id}[/] ({where}{when}): {_escape(f.summary)}\n"
        f"    → {_escape(f.advice)}"
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def attach_doctor(run_, *, console=None):
    """A live :class:`~mlplab.diagnostics.Doctor` for a :class:`~mlplab.runs.Run`.

    The probe batch is the first ``PROBE_SIZE`` training rows; the record continues the one in
    ``DIR/diagnostics.json`` when the run is resumed; the report is rewritten there after every
    epoch.  With a ``console`` each new finding is printed on it between epochs.
    """
    from mlplab.diagnostics import DIAGNOSTICS_JSON, Doctor, read_diagnostics

    path = run_.dir.file(DIAGNOSTICS_JSON)
    record = read_diagnostics(path) if run_.resumed_from is not None and path.is_file() else None
    on_finding = None
    if console is not None:

        def on_finding(f):
            console.print(finding_text(f), highlight=False)

    ds = run_.dataset
    return Doctor(
        ds.X_train[:PROBE_SIZE],
        labels=run_.fit_targets("train"),  # in the units the trainer sees
        on_finding=on_finding,
        record=record,
        path=path,
    )


def finish_doctor(doctor, run_) -> list[dict]:
    """Write ``diagnostics.json`` and the figures into the run folder; return the findings as
    JSON-ready dicts (``id``, ``severity``, ``evidence``, ``advice`` …).

    A resumed run that had already finished trains no further: its saved record is diagnosed
    again with the run's history instead of being overwritten by an empty one.
    """
    from mlplab.diagnostics import DIAGNOSTICS_JSON, diagnose, read_diagnostics
    from mlplab.diagnostics.figures import write_figures
    from mlplab.io import atomic_write_json

    path = run_.dir.file(DIAGNOSTICS_JSON)
    if not doctor.started:  # nothing was trained: diagnose what was recorded before
        if "checks" not in doctor.record and path.is_file():
            doctor.record = read_diagnostics(path)
        trainer = run_.trainer
        doctor.findings = diagnose(
            doctor.record, trainer.history.records, stop_reason=trainer.stop_reason
        )
    atomic_write_json(path, doctor.report())
    write_figures(doctor.record, run_.dir.path)
    return [f.to_dict() for f in doctor.findings]


# ------------------------------------------------------------------------------ the command
def run(args) -> int:
    from mlplab.diagnostics import diagnose_run, diagnostics_report

    result = diagnose_run(args.dir, probe_size=args.probe_size)
    record, findings = result["record"], result["findings"]
    layers = _layer_table(record)
    figures = []
    if args.figures:
        from mlplab.diagnostics.figures import write_figures

        figures = write_figures(record, result["run"])
    if args.json:
        out = {k: v for k, v in result.items() if k not in ("record", "findings")}
        out["layers"] = layers
        out["findings"] = diagnostics_report({}, findings)["findings"]
        out["figures"] = figures
        print(json.dumps(out, allow_nan=False))
        return 0
    _print(result, layers, findings, figures)
    return 0


def _layer_table(record) -> list[dict]:
    """Per hidden block, the statistics of the last probe pass (the saved weights)."""
    acts = record.get("activations") or []
    if not acts:
        return []
    out = []
    for b, st in zip(record.get("blocks", []), acts[-1]["blocks"], strict=False):
        out.append(
            {
                "layer": f"{b['layer']}.{b['activation']}",
                "units": b.get("units"),
                "h_mean": st["mean"],
                "h_std": st["std"],
                "z_std": st["z_std"],
                "saturated": st["saturated"],
                "dead": st["dead"],
                "dead_units": st["dead_units"],
            }
        )
    return json_safe(out)


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def _print(result, layers, findings, figures) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    live = "yes" if result["live_diagnostics"] else "no (run trained without --doctor)"
    out.print(
        f"[bold]mlplab doctor[/] {_escape(result['run'])}: weights from {result['weights']}, "
        f"epoch {result['epoch']}; live diagnostics: {live}"
    )
    if layers:
        table = Table(title="hidden layers on the probe batch (saved weights)")
        for col in ("layer", "units", "h mean", "h std", "z std", "saturated", "dead units"):
            table.add_column(col, justify="left" if col == "layer" else "right")
        for r in layers:
            dead = "—" if r["dead"] is None else f"{r['dead_units']} ({_pct(r['dead'])})"
            table.add_row(
                r["layer"],
                str(r["units"]),
                f"{r['h_mean']:.3g}" if r["h_mean"] is not None else "nan",
                f"{r['h_std']:.3g}" if r["h_std"] is not None else "nan",
                f"{r['z_std']:.3g}" if r["z_std"] is not None else "nan",
                _pct(r["saturated"]),
                dead,
            )
        out.print(table)
    if not findings:
        out.print("[green]no findings[/]: none of the failure modes of section 8 was detected")
    for f in findings:
        out.print(finding_text(f))
    for path in figures:
        out.print(f"figure: {path}", markup=False)
