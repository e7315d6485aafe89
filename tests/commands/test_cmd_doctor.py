"""`mlplab doctor DIR`: findings of a saved run, with and without the live diagnostics."""

from __future__ import annotations

import json

import pytest
from threadpoolctl import threadpool_limits

from mlplab.cli import main
from mlplab.commands.doctor import attach_doctor, finish_doctor
from mlplab.diagnostics import DIAGNOSTICS_JSON, read_diagnostics
from mlplab.diagnostics.figures import FIGURES
from mlplab.runs import RunConfig, execute_run, prepare_run


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _train(capsys, out, *flags):
    argv = ["train", "--dataset", "mnist", "--subset", "1000", "--epochs", "2"]
    assert main([*argv, *flags, "--out", str(out), "--json"]) == 0
    capsys.readouterr()


def _doctor_json(capsys, *argv) -> dict:
    assert main(["doctor", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_doctor_on_a_healthy_run_finds_nothing(tmp_path, capsys):
    _train(capsys, tmp_path / "ok", "--hidden", "32")
    rep = _doctor_json(capsys, str(tmp_path / "ok"), "--figures")
    assert rep["findings"] == [] and rep["live_diagnostics"] is False
    assert rep["weights"] == "model.npz" and rep["epoch"] == 2
    (layer,) = rep["layers"]
    assert layer["layer"] == "1.relu" and layer["units"] == 32 and layer["dead"] < 0.3
    for name in FIGURES.values():
        assert (tmp_path / "ok" / name).read_bytes()[:4] == b"\x89PNG"
    assert main(["doctor", str(tmp_path / "ok")]) == 0
    assert "no findings" in capsys.readouterr().out


def test_doctor_names_exploding_gradients_of_a_standard_normal_init(tmp_path, capsys):
    out = tmp_path / "bad"
    _train(capsys, out, "--hidden", "64,64,64,64,64,64", "--init", "normal")
    rep = _doctor_json(capsys, str(out))
    ids = {f["id"]: f for f in rep["findings"]}
    assert "exploding_gradient" in ids
    f = ids["exploding_gradient"]
    assert set(f) >= {"id", "severity", "evidence", "advice", "sections", "summary"}
    assert f["sections"][0] == "8.5" and "he init" in f["advice"]
    assert main(["doctor", str(out)]) == 0
    text = capsys.readouterr().out
    assert "exploding_gradient" in text and "8.5" in text


def test_doctor_reads_live_diagnostics_and_an_interrupted_run(tmp_path, capsys):
    cfg = RunConfig(dataset="mnist", subset=1000, hidden=[32], epochs=3, lr=0.05, optimizer="sgd")
    run = prepare_run(cfg, tmp_path / "live")
    doctor = attach_doctor(run)
    execute_run(run, [doctor])
    findings = finish_doctor(doctor, run)
    assert findings == []
    record = read_diagnostics(run.dir.file(DIAGNOSTICS_JSON))
    assert [a["epoch"] for a in record["activations"]] == [0, 1, 2, 3]
    rep = _doctor_json(capsys, str(run.dir.path))
    assert rep["live_diagnostics"] is True and rep["findings"] == []
    # an interrupted run: only the checkpoint is left
    for name in ("model.npz", "history.json"):
        run.dir.file(name).unlink()
    rep = _doctor_json(capsys, str(run.dir.path))
    assert rep["weights"].startswith("checkpoint.npz") and rep["epoch"] == 3


def test_doctor_bad_folder_exits_2(tmp_path, capsys):
    assert main(["doctor", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert main(["doctor", str(tmp_path), "--probe-size", "0"]) == 2


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_train_doctor_json_has_findings_and_writes_diagnostics(tmp_path, capsys):
    out = tmp_path / "div"
    argv = ["train", "--dataset", "mnist", "--subset", "1000", "--epochs", "2", "--doctor"]
    bad = ["--hidden", "64,64,64,64,64,64", "--init", "normal", "--optimizer", "sgd"]
    assert main([*argv, *bad, "--lr", "0.1", "--out", str(out), "--json"]) == 3  # diverged
    captured = capsys.readouterr()
    assert "diverged in epoch" in captured.err
    s = json.loads(captured.out)
    assert s["stop_reason"] == "divergence"
    ids = [f["id"] for f in s["findings"]]
    assert ids[0] == "divergence" and "exploding_gradient" in ids
    for f in s["findings"]:
        assert set(f) >= {"id", "severity", "evidence", "advice"}
    assert read_diagnostics(out / DIAGNOSTICS_JSON)["stop_reason"] == "divergence"
    for name in FIGURES.values():
        assert (out / name).is_file()


def test_train_doctor_prints_findings_between_epochs(tmp_path, capsys):
    out = tmp_path / "sat"
    argv = ["train", "--dataset", "mnist", "--subset", "1000", "--epochs", "3", "--doctor"]
    deep = ["--hidden", "64,64,64,64,64,64,64,64", "--activation", "sigmoid", "--init", "normal"]
    assert main([*argv, *deep, "--optimizer", "sgd", "--lr", "0.1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "saturation" in err and "§8.1" in err and "doctor: " in err
    # resumed with the doctor: the saved record is continued, not replaced
    before = read_diagnostics(out / DIAGNOSTICS_JSON)
    assert main(["train", "--resume", str(out), "--doctor", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert "saturation" in [f["id"] for f in s["findings"]]
    after = read_diagnostics(out / DIAGNOSTICS_JSON)
    assert after["checks"] == before["checks"]


def test_train_doctor_on_a_healthy_run_reports_no_findings(tmp_path, capsys):
    argv = ["train", "--dataset", "mnist", "--subset", "1000", "--epochs", "3", "--doctor"]
    assert main([*argv, "--hidden", "64", "--out", str(tmp_path / "ok"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
