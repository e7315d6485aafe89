"""Issue 15: runs lose nothing and the command line answers bad input and faults with one line
on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.runs import RunDir

SMALL = ["--dataset", "xor", "--subset", "120", "--hidden", "4", "--epochs", "2"]


def _err(capsys, argv, command: str) -> str:
    """Run the CLI, expect exit 2 and exactly one error line naming the command."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"mlplab {command}: error:"), err
    return lines[0]


def _snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hard") / "run"
    assert main(["train", *SMALL, "--out", str(out), "--json"]) == 0
    return out


@pytest.fixture
def fresh_run(run_dir, tmp_path) -> Path:
    """A private copy of the module's run (for tests that damage or change it)."""
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


def _xcsv(tmp_path) -> Path:
    p = tmp_path / "x.csv"
    p.write_text("x1,x2\n0.1,0.2\n0.9,0.1\n")
    return p


# ---------------------------------------------------------------- outputs that are folders
def test_predict_out_is_a_folder(run_dir, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    line = _err(capsys, ["predict", str(run_dir), str(_xcsv(tmp_path)), "--out", str(d)], "predict")
    assert str(d) in line and "folder" in line
    assert list(d.iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["d", "x.csv"]


def test_explain_out_is_a_folder(run_dir, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    line = _err(capsys, ["explain", str(run_dir), "--index", "0", "--out", str(d)], "explain")
    assert str(d) in line and "folder" in line
    assert list(d.iterdir()) == [] and os.listdir(tmp_path) == ["d"]


def test_export_onnx_is_a_folder(run_dir, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    d = tmp_path / "d"
    d.mkdir()
    line = _err(capsys, ["export", str(run_dir), "--onnx", str(d), "--no-verify"], "export")
    assert str(d) in line and "folder" in line
    assert list(d.iterdir()) == [] and os.listdir(tmp_path) == ["d"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ulimit -f as on Linux")
def test_full_disk_at_the_end_of_training_is_one_line(tmp_path):
    """``ulimit -f 20`` (20 KiB per file): the checkpoints fit, the curves at the end do not."""
    out = tmp_path / "run"
    cmd = " ".join([sys.executable, "-m", "mlplab", "train", *SMALL, "--out", str(out)])
    p = subprocess.run(["bash", "-c", f"ulimit -f 20; {cmd}"], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("mlplab train")]
    assert "Traceback" not in p.stderr and len(lines) == 1, p.stderr
    assert str(out) in lines[0] and "too large" in lines[0].lower(), lines[0]
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]  # nothing half-written
    for name in os.listdir(out):  # every file there is whole
        if name.endswith(".json"):
            json.loads((out / name).read_text())


# ---------------------------------------------------------------- damaged or foreign files
def test_predict_with_a_damaged_scaler(fresh_run, tmp_path, capsys):
    scaler = fresh_run / "scaler.npz"
    data = bytearray(scaler.read_bytes())
    for i in range(30, 60):  # garble the first member's local header
        data[i] ^= 0xFF
    scaler.write_bytes(bytes(data))
    line = _err(capsys, ["predict", str(fresh_run), str(_xcsv(tmp_path))], "predict")
    assert "scaler.npz" in line


def test_an_npz_that_is_not_an_mlplab_file(tmp_path, capsys):
    pytest.importorskip("torch")
    p = tmp_path / "other.npz"
    np.savez(p, a=np.array([{"x": 1}], dtype=object))
    line = _err(capsys, ["export", str(p), "--onnx", str(tmp_path / "m.onnx")], "export")
    assert "other.npz" in line and "mlplab" in line
    assert "allow_pickle" not in line and "pickle=" not in line


@pytest.mark.parametrize(
    "field, value", [("epochs", "ten"), ("hidden", 5), ("activations", 3), ("lr", [1])]
)
def test_spec_field_of_the_wrong_type_on_resume(field, value, fresh_run, capsys):
    spec = json.loads((fresh_run / "spec.json").read_text())
    spec["config"][field] = value
    (fresh_run / "spec.json").write_text(json.dumps(spec))
    before = _snapshot(fresh_run)
    line = _err(capsys, ["train", "--resume", str(fresh_run)], "train")
    assert field in line and "spec.json" in line
    assert _snapshot(fresh_run) == before


def test_run_format_version_is_checked(fresh_run, capsys):
    spec = json.loads((fresh_run / "spec.json").read_text())
    spec["format"] = "mlplab.run/7"
    (fresh_run / "spec.json").write_text(json.dumps(spec))
    line = _err(capsys, ["evaluate", str(fresh_run)], "evaluate")
    assert "mlplab.run/7" in line and "mlplab.run/1" in line


# ---------------------------------------------------------------- flag values
def test_epochs_with_400_digits(tmp_path, capsys):
    line = _err(
        capsys, ["train", *SMALL, "--epochs", "1" * 400, "--out", str(tmp_path / "r")], "train"
    )
    assert "--epochs" in line and len(line) < 400
    assert not (tmp_path / "r").exists()


def test_gradcheck_negative_seed(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gradcheck", "--seed", "-1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--seed" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_hidden_zero_names_none(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *SMALL, "--hidden", "0", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "none" in err and "--hidden" in err
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- rich markup in names
def test_out_with_markup_characters_is_printed_verbatim(tmp_path, capsys):
    out = tmp_path / "q[/]r"
    assert main(["train", *SMALL, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert str(out) in captured.out and "Traceback" not in captured.err
    assert (out / "model.npz").is_file()


def test_csv_named_with_brackets_is_printed_verbatim(tmp_path, capsys):
    data = tmp_path / "data[v2].csv"
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(40)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    args = ["train", "--dataset", str(data), "--target", "label", "--hidden", "4", "--epochs", "1"]
    assert main([*args, "--out", str(out)]) == 0
    assert "data[v2]" in capsys.readouterr().out


# ---------------------------------------------------------------- data
def test_csv_with_values_near_the_float_limit(tmp_path, capsys):
    data = tmp_path / "big.csv"
    rows = ["a,b,label"] + [f"{(-1) ** i * 1.6e308},{i},{i % 2}" for i in range(30)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    line = _err(
        capsys,
        ["train", "--dataset", str(data), "--target", "label", "--hidden", "4", "--epochs", "1",
         "--out", str(out)],
        "train",
    )  # fmt: skip
    assert "'a'" in line and "too large" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_changed_data_file_is_reported(command, tmp_path, capsys):
    data = tmp_path / "d.csv"
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    args = ["--dataset", str(data), "--target", "label", "--hidden", "4", "--epochs", "1"]
    assert main(["train", *args, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    data.write_text("\n".join(rows[:1] + [r.replace("3", "4") for r in rows[1:]]) + "\n")
    argv = [command, str(out)] + (["--index", "0", "--json"] if command == "explain" else [])
    line = _err(capsys, argv, command)
    assert "d.csv" in line and "changed" in line


# ---------------------------------------------------------------- the run folder
def test_out_into_a_foreign_folder_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.json").write_text("my own file")
    (out / "notes.txt").write_text("keep me")
    before = _snapshot(out)
    line = _err(capsys, ["train", *SMALL, "--out", str(out)], "train")
    assert "--force" in line and str(out) in line
    assert _snapshot(out) == before
    assert main(["train", *SMALL, "--out", str(out), "--force", "--json"]) == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / "model.npz").is_file()


def test_default_run_folders_are_created_exclusively(tmp_path, monkeypatch):
    from mlplab.runs import default_out

    monkeypatch.chdir(tmp_path)
    first = default_out("xor")
    second = default_out("xor")  # the same second: another folder, both already made
    assert first != second and first.is_dir() and second.is_dir()


def test_files_keep_the_users_umask(tmp_path):
    out = tmp_path / "run"
    cmd = " ".join([sys.executable, "-m", "mlplab", "train", *SMALL, "--out", str(out), "--json"])
    p = subprocess.run(["bash", "-c", f"umask 022; {cmd}"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for f in out.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f


def test_resume_of_a_run_killed_before_its_first_checkpoint(fresh_run, run_dir, capsys):
    for name in os.listdir(fresh_run):
        if name not in ("spec.json", "scaler.npz"):
            os.unlink(fresh_run / name)
    assert main(["train", "--resume", str(fresh_run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 2
    a, b = np.load(run_dir / "model.npz"), np.load(fresh_run / "model.npz")
    assert all(a[k].tobytes() == b[k].tobytes() for k in a.files)


def test_history_json_is_strict_json_with_a_note(tmp_path):
    from mlplab.runs.workflow import history_document

    doc = history_document([{"epoch": 1, "train_loss": float("nan"), "val_loss": 0.5}], False)
    text = json.dumps(doc, allow_nan=False)  # raises on a bare NaN
    back = json.loads(text)
    assert back["records"][0]["train_loss"] is None and "null" in back["note"]


def test_atomic_json_never_writes_a_bare_nan(tmp_path):
    from mlplab.io import atomic_write_json

    atomic_write_json(tmp_path / "m.json", {"r2": float("nan"), "x": [1.0, float("inf")]})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"r2": None, "x": [1.0, None]}


def test_history_files_of_a_run_are_strict_json(run_dir):
    for name in ("history.json", "metrics.json", "spec.json"):
        json.loads((run_dir / name).read_text(), parse_constant=lambda c: pytest.fail(c))
    assert RunDir.open(run_dir).read_spec()["format"] == "mlplab.run/1"


# ---------------------------------------------------------------- divergence
DIVERGE = ["--dataset", "xor", "--optimizer", "sgd", "--lr", "1e5", "--epochs", "3",
           "--subset", "200", "--hidden", "8"]  # fmt: skip


def test_divergence_is_one_line_with_its_own_exit_status_and_resumes_with_a_lower_lr(
    tmp_path, capsys
):
    from mlplab.commands.train import EXIT_DIVERGED

    out = tmp_path / "o"
    assert main(["train", *DIVERGE, "--out", str(out)]) == EXIT_DIVERGED == 3
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("mlplab train")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "diverged in epoch" in lines[0] and "step" in lines[0] and "--lr" in lines[0]
    for name in ("model.npz", "history.json", "metrics.json"):
        json.loads((out / name).read_text()) if name.endswith(".json") else None
        assert (out / name).is_file()
    # the saved model is the last finite state
    with np.load(out / "model.npz") as z:
        assert all(np.all(np.isfinite(z[k])) for k in z.files if k.startswith("param/"))
    # a resume with other settings is still refused; --lr continues from the last finite state
    assert main(["train", "--resume", str(out), "--epochs", "5"]) == 2
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--lr", "0.01", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["epochs"] == 3 and s["stop_reason"] is None and np.isfinite(s["test_loss"])
    spec = json.loads((out / "spec.json").read_text())
    assert spec["config"]["lr"] == 0.01 and spec["lr_changes"][0]["to"] == 0.01


def test_lr_on_resume_of_a_run_that_did_not_diverge_is_refused(run_dir, fresh_run, capsys):
    before = _snapshot(fresh_run)
    line = _err(capsys, ["train", "--resume", str(fresh_run), "--lr", "0.5"], "train")
    assert "--lr" in line and "diverged" in line
    assert _snapshot(fresh_run) == before


def test_the_model_is_saved_before_the_metrics(tmp_path, monkeypatch):
    from mlplab import runs
    from mlplab.runs import workflow

    def broken(*a, **k):
        raise RuntimeError("metrics failed")

    monkeypatch.setattr(workflow, "split_metrics", broken)
    cfg = runs.RunConfig(dataset="xor", subset=100, hidden=[4], epochs=1).resolved()
    run = runs.prepare_run(cfg, tmp_path / "r")
    with pytest.raises(RuntimeError, match="metrics failed"):
        runs.execute_run(run)
    assert (tmp_path / "r" / "model.npz").is_file()
    assert (tmp_path / "r" / "history.json").is_file()


@pytest.mark.parametrize(
    "dataset, head", [("xor", "sigmoid_bce"), ("xor", "softmax_ce"), ("blobs", "softmax_ce"),
                      ("sin", "identity_mse"), ("multilabel", "multilabel_bce"),
                      ("poisson", "exp_poisson")],
)  # fmt: skip
def test_metrics_of_a_model_with_nonfinite_outputs(dataset, head):
    from mlplab import runs
    from mlplab.runs import split_metrics

    cfg = runs.RunConfig(dataset=dataset, hidden=[4], head=head, epochs=1).resolved()
    ds = runs.load_data(cfg)
    model = runs.build_model(cfg, ds)
    W = model.dense_layers()[0][1].params["weight"]
    W[0, :] = np.nan  # one hidden unit computes NaN for every row
    m = split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    assert m["nonfinite_outputs"] == len(ds.X_test)
    json.dumps(__import__("mlplab.io", fromlist=["json_safe"]).json_safe(m), allow_nan=False)


def test_a_diverging_ensemble_member_stops_the_ensemble_with_one_line_and_exit_3(tmp_path, capsys):
    """The member that diverges keeps its last finite state, nothing is averaged, later
    members are not trained; each member resumes with a lower rate, then the ensemble."""
    ens = tmp_path / "ens"
    assert main(["train", *DIVERGE, "--members", "2", "--out", str(ens)]) == 3
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("mlplab train")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "member 1 diverged" in lines[0] and str(ens / "members" / "0") in lines[0]
    assert f"--resume {ens}" in lines[0]
    assert not (ens / "model.npz").exists() and not (ens / "members" / "1").exists()
    for m in (0, 1):
        member = ens / "members" / str(m)
        assert main(["train", "--resume", str(member), "--lr", "0.01", "--json"]) == 0
        capsys.readouterr()
        code = main(["train", "--resume", str(ens), "--json"])
        if m == 0:  # the second member starts with the diverging rate: it stops there too
            assert code == 3 and "member 2 diverged" in capsys.readouterr().err
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["members"] == 2 and np.isfinite(s["test_loss"]) and (ens / "model.npz").is_file()


def test_divergence_prints_exactly_one_line_on_stderr_and_no_warnings(tmp_path):
    """Run as a user would (a subprocess, Python's default warning filters): the overflow
    in the validation pass of the diverging epoch must not print NumPy warnings."""
    import subprocess
    import sys

    argv = [
        sys.executable,
        "-m",
        "mlplab",
        "train",
        *DIVERGE,
        "--json",
        "--out",
        str(tmp_path / "o"),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlplab train: diverged"), done.stderr
