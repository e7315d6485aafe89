"""The doctor: a recorder that diagnoses as it trains (:class:`Doctor`), the ``diagnostics.json``
file of a run folder, and :func:`diagnose_run`, which diagnoses a saved run after the fact."""

from __future__ import annotations

from mlplab.diagnostics.measurements import (
    FORMAT,
    HIST_BINS,
    PROBE_SIZE,
    DiagnosticsRecorder,
    constant_loss,
    json_safe,
    probe_record,
)
from mlplab.diagnostics.rules import SEVERITIES, Finding, diagnose, good_records
from mlplab.errors import ConfigError, DataError, check_range

__all__ = ["Doctor", "diagnostics_report", "DIAGNOSTICS_JSON", "read_diagnostics", "diagnose_run"]


class Doctor(DiagnosticsRecorder):
    """A recorder that diagnoses the run after every epoch and at its end.

    Parameters
    ----------
    probe, labels, every, bins, record
        As :class:`DiagnosticsRecorder`.
    on_finding : callable, optional
        ``on_finding(finding)`` for each finding that appears (or becomes more severe) —
        between epochs, from ``on_epoch_end``, and once more from ``on_train_end``.
    path : str or os.PathLike, optional
        Where to write :meth:`report` (``diagnostics.json``), atomically, after every epoch and
        at the end, so an interrupted run keeps its diagnostics.

    Attributes
    ----------
    findings : list of Finding
        The current diagnosis (recomputed from the whole record each time).
    """

    def __init__(
        self,
        probe=None,
        *,
        labels=None,
        on_finding=None,
        every="auto",
        bins: int = HIST_BINS,
        record=None,
        path=None,
    ):
        super().__init__(probe, labels=labels, every=every, bins=bins, record=record)
        if on_finding is not None and not callable(on_finding):
            raise ConfigError("on_finding must be callable")
        self.on_finding = on_finding
        self.path = path
        self.findings: list[Finding] = []
        self._shown: dict[str, str] = {}

    def on_epoch_end(self, trainer) -> None:
        """Record the epoch, then diagnose."""
        super().on_epoch_end(trainer)
        self._update(trainer)

    def on_train_end(self, trainer) -> None:
        """Record the end of training, then diagnose once more."""
        super().on_train_end(trainer)
        self._update(trainer)

    def _update(self, trainer) -> None:
        self.findings = diagnose(
            self.record, trainer.history.records, stop_reason=trainer.stop_reason
        )
        for f in self.findings:
            before = self._shown.get(f.id)
            if before is None or SEVERITIES.index(f.severity) > SEVERITIES.index(before):
                self._shown[f.id] = f.severity
                if self.on_finding is not None:
                    self.on_finding(f)
        if self.path is not None:
            from mlplab.io import atomic_write_json

            atomic_write_json(self.path, self.report())

    def report(self) -> dict:
        """What ``diagnostics.json`` holds: the record plus ``findings``."""
        return diagnostics_report(self.record, self.findings)


def diagnostics_report(record: dict, findings) -> dict:
    """The JSON-serialisable content of ``diagnostics.json``: record fields + ``findings``.

    Non-finite numbers become ``null`` (JSON has no NaN); a check's ``finite`` flag keeps the
    fact.
    """
    out = json_safe(dict(record))
    out["findings"] = [f.to_dict() for f in findings]
    return out


# ==================================================================================== run folders
#: File name of the diagnostics in a run folder.
DIAGNOSTICS_JSON = "diagnostics.json"


def read_diagnostics(path) -> dict:
    """The record stored in a ``diagnostics.json`` (its ``findings`` dropped)."""
    import json

    from mlplab.io import read_bytes

    try:
        data = json.loads(read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{path} is not an mlplab diagnostics file ({FORMAT})")
    data.pop("findings", None)
    return data


def diagnose_run(path, *, probe_size: int = PROBE_SIZE) -> dict:
    """Diagnose a finished or interrupted run folder (``mlplab doctor``).

    Reads ``diagnostics.json`` when the run was trained with the doctor, the history
    (``history.json``, else the checkpoint's) and the saved weights (``model.npz``, else the
    checkpoint), rebuilds the run's data set from ``spec.json`` and recomputes the activation
    statistics and dead units of those weights on the first ``probe_size`` training rows (the
    probe the live doctor uses).  Without ``diagnostics.json`` one gradient check is computed
    too (eval mode, on the probe batch), so vanishing and exploding gradients are still seen.

    Returns
    -------
    dict
        ``run``, ``weights`` (where they came from), ``epoch``, ``live_diagnostics`` (bool),
        ``record`` and ``findings`` (list of :class:`Finding`).
    """
    import json

    from mlplab import runs
    from mlplab.io import read_bytes

    check_range("probe_size", probe_size, 1, None, integer=True)
    run_dir = runs.RunDir.open(path)
    spec = run_dir.read_spec()
    cfg = runs.RunConfig.from_dict(spec["config"], source=str(run_dir.spec_path))
    model, source = run_dir.load_model()
    history, stop_reason, epoch = [], None, None
    if run_dir.checkpoint_path.is_file():
        state = run_dir.load_checkpoint()["trainer"]
        history = list(state["history"]["records"])
        stop_reason, epoch = state.get("stop_reason"), int(state["epoch"])
    hist_path = run_dir.file(runs.RunDir.HISTORY_JSON)
    if hist_path.is_file():
        try:
            history = list(json.loads(read_bytes(hist_path).decode("utf-8"))["records"])
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{hist_path} is not a valid history ({exc})") from None
    if epoch is None:
        epoch = len(good_records(history))
    ds = runs.load_data(cfg.resolved())
    X, y = ds.X_train[:probe_size], ds.y_train[:probe_size]
    final = probe_record(model, X, y, epoch=epoch)
    diag_path = run_dir.file(DIAGNOSTICS_JSON)
    live = diag_path.is_file()
    if live:
        record = read_diagnostics(diag_path)
        stop_reason = stop_reason or record.get("stop_reason")
        acts = [a for a in record.get("activations", []) if a.get("epoch") != epoch]
        record["activations"] = sorted(
            [*acts, *final["activations"]], key=lambda a: a.get("epoch") or 0
        )
    else:
        record = final
    record["chance_loss"] = constant_loss(model, ds.y_train)
    return {
        "run": str(run_dir.path),
        "weights": source,
        "epoch": epoch,
        "live_diagnostics": live,
        "record": record,
        "findings": diagnose(record, history, stop_reason=stop_reason),
    }
