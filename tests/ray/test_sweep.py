"""mlplab sweep: a small grid on a local Ray instance, its table and figures, resume, bad input."""

from __future__ import annotations

import csv
import json

import pytest

from mlplab.cli import main
from mlplab.sweep.space import expand, parse_axis

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

GRID = [
    "sweep", "--dataset", "xor", "--epochs", "2", "--hidden", "4", "--batch-size", "64",
    "--grid", "lr=1e-3,1e-2", "--seeds", "2", "--cpus", "2",
]  # fmt: skip


def test_grid_sweep_table_figures_and_resume(ray_token, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main([*GRID, "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ran"] == 4 and info["skipped"] == 0 and not info["errors"]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["trial"] for r in rows] == [f"t{k:03d}" for k in range(4)]
    assert [(r["lr"], r["seed"]) for r in rows] == [
        (lr, s) for lr in ("0.001", "0.01") for s in ("0", "1")
    ]
    table = json.loads((out / "results.json").read_text())["trials"]
    for row in table:
        assert row["status"] == "finished" and row["epochs"] == 2
        assert 0 <= row["test_accuracy"] <= 1 and row["seconds"] > 0
        spec = json.loads((out / "trials" / row["trial"] / "spec.json").read_text())
        assert spec["config"]["lr"] == row["lr"] and spec["config"]["seed"] == row["seed"]
        assert spec["config"]["hidden"] == [4]
        metrics = json.loads((out / "trials" / row["trial"] / "metrics.json").read_text())
        assert metrics["accuracy"] == row["test_accuracy"]  # the run folder's own numbers
    best = json.loads((out / "best.json").read_text())
    assert best["best_trial"]["val_loss"] == min(r["val_loss"] for r in table)
    assert best["best_setting"]["seeds"] == 2
    assert (out / "figures" / "lr.png").stat().st_size > 5000

    # an interrupted sweep: two trials lost their results; resume redoes only those
    before = {r["trial"]: (out / "trials" / r["trial"] / "metrics.json").stat().st_mtime_ns
              for r in table}  # fmt: skip
    for tid in ("t001", "t002"):
        (out / "trials" / tid / "metrics.json").unlink()
    assert main(["sweep", "--resume", str(out), "--cpus", "2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ran"] == 2 and info["skipped"] == 2
    again = json.loads((out / "results.json").read_text())["trials"]
    assert all(r["status"] == "finished" for r in again)
    for r in again:
        mtime = (out / "trials" / r["trial"] / "metrics.json").stat().st_mtime_ns
        assert (mtime == before[r["trial"]]) == (r["trial"] not in ("t001", "t002"))
        assert (
            r["test_accuracy"]
            == next(t for t in table if t["trial"] == r["trial"])["test_accuracy"]
        )
    # nothing left to do: no Ray at all
    assert main(["sweep", "--resume", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == 0


def test_space_expansion_is_deterministic():
    axes = [parse_axis("lr=1e-4:1e-1:log", sample=True), parse_axis("hidden=8,16x16")]
    a = expand(axes, trials=3, seeds=2, sample_seed=5)
    assert a == expand(axes, trials=3, seeds=2, sample_seed=5)
    assert len(a) == 2 * 3 * 2
    assert all(1e-4 <= t["settings"]["lr"] <= 1e-1 for t in a)
    assert {tuple(t["settings"]["hidden"]) for t in a} == {(8,), (16, 16)}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--grid", "bogus=1,2"], "unknown setting 'bogus'"),
        (["--grid", "lr="], "no values"),
        (["--grid", "lr=fast"], "lr"),
        (["--grid", "activation=nope"], "activation"),
        (["--sample", "lr=1:0:log"], "LO must be below HI"),
        (["--trials", "3", "--grid", "lr=0.1"], "--trials counts random draws"),
        (["--grid", "lr=0.1", "--address", "127.0.0.1:1"], "unreachable"),
        (["--grid", "lr=0.1", "--address", "nohost"], "HOST:PORT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(extra, needle, tmp_path, capsys):
    args = ["sweep", "--dataset", "xor", "--out", str(tmp_path / "s"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_without_ray_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    import mlplab.cluster

    monkeypatch.setattr(mlplab.cluster, "ray_available", lambda: False)
    assert main(["sweep", "--dataset", "xor", "--grid", "lr=0.1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mlplab[ray]'" in err and len(err.strip().splitlines()) == 1


def test_space_file(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("settings: {dataset: xor, epochs: 1}\ngrid: {lr: [0.01, 0.1]}\nseeds: 1\n")
    from mlplab.cli import build_parser
    from mlplab.commands.sweep import build_spec

    args = build_parser().parse_args(["sweep", "--space", str(space)])
    spec = build_spec(args)
    assert [t["settings"] for t in spec["trials"]] == [{"lr": 0.01, "seed": 0},
                                                       {"lr": 0.1, "seed": 0}]  # fmt: skip
    assert spec["base"]["epochs"] == 1 and spec["metric"] == "val_loss"


def test_an_interrupted_trial_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """train_trial (the Tune trainable) killed after epoch 2 continues from that checkpoint,
    reports the earlier epochs again for ASHA, and ends as an uninterrupted trial does."""
    import ray.tune

    from mlplab.sweep.tuning import train_trial

    base = {"dataset": "xor", "epochs": 4, "hidden": [4], "batch_size": 64}
    config = {"trial": {"id": "t000", "settings": {"lr": 0.01, "seed": 1}}}
    seen = []

    def interrupt_at_epoch_2(values):
        seen.append(values["epoch"])
        if values["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ray.tune, "report", interrupt_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_trial(config, sweep_dir=str(tmp_path / "a"), base=base, metric="val_loss")
    monkeypatch.setattr(ray.tune, "report", lambda values: seen.append(values["epoch"]))
    train_trial(config, sweep_dir=str(tmp_path / "a"), base=base, metric="val_loss")
    assert seen == [1, 2, 1, 2, 3, 4]
    train_trial(config, sweep_dir=str(tmp_path / "b"), base=base, metric="val_loss")
    resumed = json.loads((tmp_path / "a/trials/t000/metrics.json").read_text())
    straight = json.loads((tmp_path / "b/trials/t000/metrics.json").read_text())
    assert resumed == straight
