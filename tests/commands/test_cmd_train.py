"""`mlplab train`: scores on every kind of data set, the run folder, bad input, and runs that
are interrupted (SIGKILL at random points, SIGINT) and resumed bit for bit."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.runs import RunDir


def _train_json(capsys, *argv) -> dict:
    assert main(["train", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object, nothing else on stdout
    return json.loads(out)


TOY = ["--lr", "0.01", "--batch-size", "32"]


@pytest.mark.parametrize(
    "name, flags, key, at_least",
    [
        ("xor", ["--hidden", "16,16", "--epochs", "30", *TOY], "test_accuracy", 0.97),
        ("circle", ["--hidden", "16,16", "--epochs", "30", *TOY], "test_accuracy", 0.97),
        ("gauss", ["--hidden", "8", "--epochs", "10", *TOY], "test_accuracy", 0.97),
        ("moons", ["--hidden", "16,16", "--epochs", "30", *TOY], "test_accuracy", 0.97),
        ("spiral", ["--hidden", "32,32", "--epochs", "60", *TOY], "test_accuracy", 0.95),
        ("spiral3", ["--hidden", "32,32", "--epochs", "60", *TOY], "test_accuracy", 0.95),
        ("digits", ["--hidden", "64", "--epochs", "15", "--lr", "0.005", "--batch-size", "32"],
         "test_accuracy", 0.94),
        ("sin", ["--hidden", "32,32", "--epochs", "60", "--lr", "0.01", "--batch-size", "32"],
         "test_r2", 0.98),
        ("multilabel", ["--hidden", "32", "--epochs", "30", "--lr", "0.01", "--batch-size", "32"],
         "test_accuracy", 0.87),
        ("poisson", ["--hidden", "16", "--epochs", "30", "--lr", "0.01", "--batch-size", "32"],
         "test_d2", 0.6),
    ],
)  # fmt: skip
def test_each_kind_of_data_set_trains_to_a_sensible_score(
    name, flags, key, at_least, tmp_path, capsys
):
    out = tmp_path / "run"
    s = _train_json(capsys, "--dataset", name, *flags, "--out", str(out))
    assert s[key] >= at_least, s
    assert s["out"] == str(out) and s["dataset"] == name
    assert s["epochs"] == int(flags[flags.index("--epochs") + 1])
    assert s["train_seconds"] > 0 and np.isfinite(s["test_loss"])
    if key == "test_r2":
        assert s["test_rmse"] < 0.2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["loss"] == s["test_loss"]
    if name in ("xor", "digits"):
        cm = np.array(metrics["confusion_matrix"])
        assert cm.trace() / cm.sum() == pytest.approx(s["test_accuracy"])
    if name == "poisson":
        assert metrics["deviance"] == s["test_deviance"] and metrics["deviance"] > 0


def test_run_folder_holds_everything(tmp_path, capsys):
    out = tmp_path / "r"
    s = _train_json(
        capsys, "--dataset", "blobs", "--hidden", "8", "--epochs", "3", "--seed", "4",
        "--optimizer", "sgd", "--momentum", "0.5", "--weight-decay", "1e-4", "--out", str(out),
    )  # fmt: skip
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["model.npz", "spec.json", "scaler.npz", "checkpoint.npz", "history.json",
         "history.csv", "curves.png", "metrics.json"]
    )  # fmt: skip
    spec = json.loads((out / "spec.json").read_text())
    assert spec["config"]["dataset"] == "blobs" and spec["config"]["seed"] == 4
    assert spec["optimizer"] == {
        "name": "sgd", "lr": 0.05, "momentum": 0.5, "nesterov": False, "weight_decay": 1e-4,
    }  # fmt: skip
    assert spec["model"]["head"] == "softmax_ce" and spec["data"]["task"] == "multiclass"
    assert spec["train"]["epochs"] == 3 and spec["data"]["n_features"] == 2
    hist = json.loads((out / "history.json").read_text())["records"]
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    csv_lines = (out / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss") and len(csv_lines) == 4
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert s["test_accuracy"] == json.loads((out / "metrics.json").read_text())["accuracy"]


def test_human_output_progress_on_stderr(tmp_path, capsys):
    out = tmp_path / "r"
    assert (
        main(["train", "--dataset", "xor", "--hidden", "4", "--epochs", "2", "--out", str(out)])
        == 0
    )
    cap = capsys.readouterr()
    assert "epoch 2/2" in cap.err and "loss" in cap.err
    assert "accuracy" in cap.out and str(out) in cap.out


def test_mnist_subset_trains_quickly(tmp_path, capsys):
    s = _train_json(
        capsys, "--dataset", "mnist", "--subset", "2000", "--hidden", "64", "--epochs", "3", *TOY,
        "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert s["test_accuracy"] >= 0.85  # on the full 10 000-image test set


def test_csv_data_set_with_target(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    label = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / "t.csv"
    rows = ["a,label,b,c"] + [f"{x[0]},{lab},{x[1]},{x[2]}" for x, lab in zip(X, label)]
    path.write_text("\n".join(rows) + "\n")
    s = _train_json(
        capsys, "--dataset", str(path), "--target", "label", "--hidden", "8", "--epochs", "20",
        *TOY, "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert s["task"] == "binary" and s["test_accuracy"] >= 0.9
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert spec["data"]["feature_names"] == ["a", "b", "c"]
    assert spec["data"]["class_names"] == ["no", "yes"]


# ------------------------------------------------------------------ user mistakes: exit 2
def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlplab train: error:"), err
    assert "Traceback" not in err
    return err


def test_unknown_dataset_lists_the_valid_ones(capsys, tmp_path):
    err = _one_line_error(capsys, ["train", "--dataset", "nope", "--out", str(tmp_path / "r")])
    assert "'nope'" in err and "mnist" in err and "xor" in err and "spiral" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--lr", "-1"], "--lr"),
        (["--dropout", "1.5"], "--dropout"),
        (["--epochs", "0"], "--epochs"),
        (["--momentum", "0.9"], "--momentum"),  # adam
        (["--activation", "swishy"], "activation"),
        (["--head", "mse"], "--head"),  # regression head for a binary set
        (["--hidden", "4", "--activations", "relu,tanh"], "--activations"),
        (["--target", "y"], "target"),  # only for CSV
        (["--early-stopping", "2", "--val-fraction", "0"], "--early-stopping"),
        (["--members", "0"], "--members"),
        (["--members", "2", "--norm", "layer"], "--members"),
        (["--members", "2", "--activation", "prelu"], "--members"),
        (["--members", "2", "--doctor"], "--doctor"),
    ],
)
def test_bad_flag_values_exit_2(flags, needle, capsys, tmp_path):
    err = _one_line_error(
        capsys, ["train", "--dataset", "xor", *flags, "--out", str(tmp_path / "r")]
    )
    assert needle in err


@pytest.mark.parametrize(
    "flags", [["--hidden", "4,x"], ["--optimizer", "rmsprop"], ["--epochs", "2.5"]]
)
def test_malformed_flags_exit_2(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "xor", *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err and "Traceback" not in err


def test_missing_dataset_exits_2(capsys):
    assert "--dataset is required" in _one_line_error(capsys, ["train", "--epochs", "1"])


def test_unwritable_out_exits_2(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = _one_line_error(capsys, ["train", "--dataset", "xor", "--out", str(blocker / "run")])
    assert str(blocker) in err


def test_out_that_already_holds_a_run_exits_2(capsys, tmp_path):
    out = str(tmp_path / "r")
    _train_json(capsys, "--dataset", "xor", "--hidden", "4", "--epochs", "1", "--out", out)
    assert "--resume" in _one_line_error(capsys, ["train", "--dataset", "xor", "--out", out])


def test_resume_errors_exit_2(capsys, tmp_path):
    assert "not a run folder" in _one_line_error(capsys, ["train", "--resume", str(tmp_path)])
    assert "does not exist" in _one_line_error(capsys, ["train", "--resume", str(tmp_path / "x")])
    out = tmp_path / "r"
    _train_json(capsys, "--dataset", "xor", "--hidden", "4", "--epochs", "2", "--out", str(out))
    err = _one_line_error(capsys, ["train", "--resume", str(out), "--epochs", "5"])
    assert "--epochs 5" in err and "saved: 2" in err
    ck = out / "checkpoint.npz"
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 3])  # a torn file, as a crash without atomic writes leaves
    assert "checkpoint.npz" in _one_line_error(capsys, ["train", "--resume", str(out)])
    ck.unlink()  # a run stopped before its first checkpoint starts again from its settings
    assert main(["train", "--resume", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 2


# ------------------------------------------------------------------ real interruptions
_ARGS = [
    "--dataset", "digits", "--hidden", "64,64", "--epochs", "16", "--batch-size", "32",
    "--dropout", "0.1", "--seed", "3", "--json",
]  # fmt: skip


def _cli(*argv):
    return [sys.executable, "-m", "mlplab", *argv]


def _checkpoint_epoch(out: Path) -> int:
    try:
        return RunDir(out).load_checkpoint()["trainer"]["epoch"]
    except Exception:  # not written yet
        return -1


def _weights(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    subprocess.run(_cli("train", *_ARGS, "--out", str(out)), check=True, capture_output=True)
    return out


def _assert_bitwise_equal(a: Path, b: Path) -> None:
    wa, wb = _weights(a / "model.npz"), _weights(b / "model.npz")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert wa[k].tobytes() == wb[k].tobytes(), k


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_is_bit_exact(uninterrupted, tmp_path):
    """Three SIGKILLs at random moments of one run (each landing a random time after a random
    epoch's checkpoint, so mid-epoch, mid-write or between epochs), each followed by
    ``--resume``; the final weights equal the uninterrupted run's bit for bit.

    BLAS threads are left as they are.  With a fixed thread count OpenBLAS's products are
    reproducible from process to process (checked by hand: two MNIST 784-256-256-10 runs with
    2 threads gave identical weights; 1 thread against 2 did not), and every process here
    runs with the same count.  A resume under another count is reported as a note."""
    rng = random.Random(os.getpid())
    out = tmp_path / "run"
    cmd = _cli("train", *_ARGS, "--out", str(out))
    kills = []
    for target in sorted(rng.sample(range(0, 14), 3)):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while _checkpoint_epoch(out) < target and p.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        kills.append((target, _checkpoint_epoch(out), p.returncode))
        cmd = _cli("train", "--resume", str(out), "--json")
    assert any(rc == -signal.SIGKILL for _, _, rc in kills), kills
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["epochs"] == 16
    _assert_bitwise_equal(uninterrupted, out)
    full_hist = json.loads((uninterrupted / "history.json").read_text())["records"]
    hist = json.loads((out / "history.json").read_text())["records"]
    assert [r["train_loss"] for r in hist] == [r["train_loss"] for r in full_hist]


def _default_sigint() -> None:
    """In the child: Ctrl-C as a fresh shell gives it (a test run earlier in this pytest worker
    may have left SIGINT ignored or blocked, and a child inherits both)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.slow
def test_sigint_saves_exits_130_and_resumes_exactly(uninterrupted, tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen(
        _cli("train", *_ARGS, "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    while _checkpoint_epoch(out) < 1 and p.poll() is None:
        time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate()
    assert p.returncode == 130, stderr
    assert stdout == ""
    assert stderr.count("\n") == 1 and "interrupted" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    epoch = _checkpoint_epoch(out)
    assert 1 <= epoch < 16 and f"epoch {epoch}" in stderr
    done = subprocess.run(
        _cli("train", "--resume", str(out), "--json"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resumed_from_epoch"] == epoch
    _assert_bitwise_equal(uninterrupted, out)


# ------------------------------------------------------------------ regression target scaling
_DIABETES = ["--dataset", "diabetes", "--hidden", "32,32", "--epochs", "30"]


def test_diabetes_reaches_a_sensible_r2_and_predict_answers_in_raw_units(tmp_path, capsys):
    from mlplab.runs import load_data

    out = tmp_path / "run"
    s = _train_json(capsys, *_DIABETES, "--out", str(out))
    assert s["target_standardized"] is True and s["test_r2"] >= 0.45  # measured 0.529
    raw = _train_json(capsys, *_DIABETES, "--target-scaling", "none", "--out", str(tmp_path / "r"))
    assert raw["target_standardized"] is False and raw["test_r2"] < 0.2  # measured -3.06
    # predict on the raw test inputs: values in the target's own units (hundreds)
    rd = RunDir(out)
    ds = load_data(rd.config(), standardize=False)
    names = rd.read_spec()["data"]["feature_names"]
    lines = [",".join(names)] + [",".join(map(repr, row)) for row in ds.X_test.tolist()]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    assert main(["predict", str(out), str(tmp_path / "in.csv")]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    pred = np.array([float(r) for r in rows])
    y = ds.y_test
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 == pytest.approx(s["test_r2"], abs=1e-5)
    assert 50 < pred.mean() < 250  # diabetes progression scores, not standardised values


ENSEMBLE = ["--dataset", "moons", "--hidden", "8,8", "--epochs", "4", *TOY, "--dropout", "0.1"]


def test_members_are_ordinary_runs_and_the_top_model_averages_their_logits(tmp_path, capsys):
    from mlplab.core.ensemble import average_networks
    from mlplab.io import load_network

    out = tmp_path / "ens"
    res = _train_json(capsys, *ENSEMBLE, "--members", "3", "--out", str(out))
    assert res["members"] == 3 and len(res["member_results"]) == 3
    members = [load_network(out / "members" / str(m) / "model.npz") for m in range(3)]
    w = [m.named_parameters()["0.weight"] for m in members]
    assert not np.array_equal(w[0], w[1]) and not np.array_equal(w[1], w[2])  # own seeds
    top = load_network(out / "model.npz")
    assert [la["units"] for la in top.spec["layers"] if la["type"] == "dense"] == [24, 24, 1]
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_allclose(
        top.forward(X), average_networks(members).forward(X), rtol=1e-6, atol=1e-6
    )
    # member 0 is exactly the plain run with the same settings
    plain = tmp_path / "plain"
    _train_json(capsys, *ENSEMBLE, "--out", str(plain))
    _assert_bitwise_equal(plain, out / "members" / "0")
    hist = json.loads((out / "history.json").read_text())["records"]
    assert [r["member"] for r in hist] == [0] * 4 + [1] * 4 + [2] * 4
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == res["test_accuracy"]
    # evaluate uses the averaged model like any run's
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(metrics["accuracy"])


def test_an_interrupted_ensemble_resumes_the_unfinished_members_exactly(tmp_path, capsys):
    full = tmp_path / "full"
    _train_json(capsys, *ENSEMBLE, "--members", "3", "--out", str(full))
    cut = tmp_path / "cut"
    _train_json(capsys, *ENSEMBLE, "--members", "3", "--out", str(cut))
    # as if killed while member 2 trained: it has only its start checkpoint; no top model yet
    import shutil

    from mlplab import runs

    shutil.rmtree(cut / "members" / "2")
    for name in ("model.npz", "metrics.json", "history.json"):
        (cut / name).unlink()
    ens = runs.resume_run(cut)
    member = runs.prepare_run(ens.member_config(2), ens.member_dir(2).path)
    member.dir.save_checkpoint(member.trainer)
    assert _checkpoint_epoch(cut / "members" / "2") == 0
    res = _train_json(capsys, "--resume", str(cut))
    assert res["resumed_from_member"] == 2
    for m in range(3):
        _assert_bitwise_equal(full / "members" / str(m), cut / "members" / str(m))
    _assert_bitwise_equal(full, cut)
