"""Run folders, settings, checkpoints (no pickle, atomic, exact resume) and metrics."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading

import numpy as np
import pytest

from mlplab import runs
from mlplab.commands import run_flags
from mlplab.core.network import Network
from mlplab.core.train import Callback
from mlplab.errors import CheckpointError, ConfigError
from mlplab.io import load_network
from mlplab.runs import RunConfig, RunDir


def _cfg(**kw) -> RunConfig:
    base = dict(dataset="xor", hidden=[8], epochs=4, batch_size=64, seed=1)
    base.update(kw)
    return RunConfig(**base).resolved()


def _weights(model: Network) -> dict:
    return {k: v.copy() for k, v in model.state_dict().items()}


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        assert a[k].tobytes() == b[k].tobytes(), k  # bit for bit


# ------------------------------------------------------------------ settings
def test_resolved_fills_optimizer_defaults():
    assert _cfg().lr == runs.DEFAULT_LR["adam"] and _cfg().weight_decay == 0.0
    assert _cfg(optimizer="adamw").weight_decay == 0.01
    assert _cfg(optimizer="sgd").momentum == 0.0
    assert _cfg(optimizer="nesterov").momentum == 0.9
    assert _cfg(optimizer="sgd", lr=0.3, momentum=0.5).lr == 0.3
    spec = runs.optimizer_spec(_cfg(optimizer="momentum", weight_decay=1e-4))
    assert spec == {"name": "momentum", "lr": 0.01, "weight_decay": 1e-4, "momentum": 0.9}


@pytest.mark.parametrize(
    "kw, flag",
    [
        ({"momentum": 0.9}, "--momentum"),  # adam has no momentum flag
        ({"dropout": 1.0}, "--dropout"),
        ({"lr": 0.0}, "--lr"),
        ({"epochs": 0}, "--epochs"),
        ({"hidden": [8, 0]}, "--hidden"),
        ({"activations": ["relu", "tanh"]}, "--activations"),  # two names for one layer
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "--val-fraction"),
        ({"early_stopping": 3, "val_fraction": 0.0}, "--early-stopping"),
        ({"dataset": ""}, "--dataset"),
        ({"dataset": "x.csv"}, "--target"),
        ({"init": "nonsense"}, "--init"),
    ],
)
def test_resolved_names_the_flag(kw, flag):
    with pytest.raises(ConfigError, match=flag):
        _cfg(**kw)


def test_config_from_args_precedence_flags_over_defaults():
    p = argparse.ArgumentParser()
    run_flags.add_data_args(p)
    run_flags.add_model_args(p)
    run_flags.add_train_args(p)
    args = p.parse_args(["--dataset", "xor", "--lr", "0.05", "--hidden", "4,5"])
    assert run_flags.given_settings(args) == {"dataset": "xor", "lr": 0.05, "hidden": [4, 5]}
    cfg = run_flags.config_from_args(args, defaults={"lr": 0.3, "epochs": 7})
    assert cfg.lr == 0.05 and cfg.epochs == 7 and cfg.hidden == [4, 5]
    assert cfg.batch_size == RunConfig.batch_size  # untouched default
    assert (
        run_flags.config_from_args(p.parse_args(["--dataset", "xor", "--hidden", "none"])).hidden
        == []
    )
    with pytest.raises(SystemExit):
        p.parse_args(["--hidden", "4,x"])


def test_config_round_trips_and_rejects_unknown_fields():
    cfg = _cfg(activations=["tanh"])
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(CheckpointError, match="unknown field"):
        RunConfig.from_dict({**cfg.to_dict(), "warp_drive": 9})


# ------------------------------------------------------------------ model from settings
@pytest.mark.parametrize(
    "name, head, n_out",
    [
        ("xor", "sigmoid_bce", 1),
        ("blobs", "softmax_ce", 3),
        ("multilabel", "multilabel_bce", 5),
        ("sin", "identity_mse", 1),
        ("poisson", "exp_poisson", 1),
    ],
)
def test_head_auto_is_the_tasks_canonical_head(name, head, n_out):
    cfg = _cfg(dataset=name)
    ds = runs.load_data(cfg)
    spec = runs.model_spec(cfg, ds)
    assert spec["head"] == head and spec["layers"][-1]["units"] == n_out
    assert spec["input_dim"] == ds.n_features
    assert runs.compatible_heads(ds.task)[0] == head


def test_explicit_heads_checked_against_the_task():
    ds = runs.load_data(_cfg())
    assert runs.model_spec(_cfg(head="softmax"), ds)["layers"][-1]["units"] == 2
    with pytest.raises(ConfigError, match="does not fit a binary"):
        runs.model_spec(_cfg(head="mse"), ds)


def test_init_rng_and_train_rng_are_separate_streams():
    a, b = runs.run_rngs(5)
    assert a.bit_generator.state != b.bit_generator.state
    a2, _ = runs.run_rngs(5)
    assert a.random() == a2.random()


# ------------------------------------------------------------------ pack / unpack
def test_pack_state_round_trips_exactly():
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        "i": np.array([1, -2], dtype=np.int64),
        "scalar": np.float32(0.1),
        "nested": {"best": None, "list": [1, 2.5, "x", True, {"a": np.zeros(0)}]},
        "tuple": (1, np.float64(np.pi)),
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 2**100 + 1,
        "tricky": {"__array__": "not an array", "__tuple__": 1},
        "rng": np.random.default_rng(3).bit_generator.state,
    }
    back = runs.unpack_state(runs.pack_state(state))
    assert back["w"].dtype == np.float32 and back["w"].tobytes() == state["w"].tobytes()
    assert back["i"].dtype == np.int64 and list(back["i"]) == [1, -2]
    assert isinstance(back["scalar"], np.float32) and back["scalar"] == np.float32(0.1)
    assert back["nested"]["list"][:4] == [1, 2.5, "x", True]
    assert back["nested"]["list"][4]["a"].shape == (0,) and back["nested"]["best"] is None
    assert back["tuple"] == (1, np.pi) and isinstance(back["tuple"], tuple)
    assert np.isnan(back["nan"]) and back["inf"] == float("-inf")
    assert back["big"] == 2**100 + 1
    assert back["tricky"] == {"__array__": "not an array", "__tuple__": 1}
    g = np.random.default_rng()
    g.bit_generator.state = back["rng"]
    assert g.random() == np.random.default_rng(3).random()


@pytest.mark.parametrize(
    "bad",
    [{"o": np.array([object()], dtype=object)}, {1: 2}, {"s": {1, 2}}],
)
def test_pack_state_refuses_what_would_need_pickle(bad):
    with pytest.raises(TypeError):
        runs.pack_state(bad)


def test_unpack_state_reports_damage_as_checkpoint_error():
    data = runs.pack_state({"w": np.arange(1000, dtype=np.float64)})
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the array's bytes: CRC mismatch
    for bad in (b"", b"not a zip at all", data[: len(data) // 2], bytes(flipped)):
        with pytest.raises(CheckpointError, match="damaged"):
            runs.unpack_state(bad, source="ck.npz")


# ------------------------------------------------------------------ run folder, checkpoints
class _StopAfter(Callback):
    """Simulates Ctrl-C right after epoch ``n`` ended (and was checkpointed)."""

    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, trainer):
        if trainer.epoch == self.n:
            raise KeyboardInterrupt


_HARD = dict(  # exercises every piece of trainer state: dropout rng, batch norm, adamw, l1/l2
    dataset="moons",
    hidden=[16, 16],
    dropout=0.2,
    norm="batch",
    optimizer="adamw",
    l1=1e-4,
    l2=1e-4,
    max_norm=3.0,
    schedule="warmup_cosine",
    epochs=6,
    batch_size=50,
)


def test_resume_in_process_is_bit_exact(tmp_path):
    cfg = _cfg(**_HARD)
    full = runs.prepare_run(cfg, tmp_path / "full")
    summary = runs.execute_run(full)
    assert summary["epochs"] == 6 and summary["resumed_from_epoch"] is None

    cut = runs.prepare_run(cfg, tmp_path / "cut")
    for stop in (2, 3):
        with pytest.raises(KeyboardInterrupt):
            runs.execute_run(cut, [_StopAfter(stop)])
        assert RunDir(cut.dir.path).load_checkpoint()["trainer"]["epoch"] == stop
        assert not cut.dir.model_path.exists()
        cut = runs.resume_run(cut.dir.path)
        assert cut.resumed_from == stop
    summary2 = runs.execute_run(cut)
    assert summary2["resumed_from_epoch"] == 3
    _assert_same_weights(_weights(full.model), _weights(cut.model))
    saved = load_network(cut.dir.model_path)
    _assert_same_weights(_weights(full.model), _weights(saved))
    assert [r["train_loss"] for r in full.trainer.history.records] == [
        r["train_loss"] for r in cut.trainer.history.records
    ]
    for name in ("spec.json", "scaler.npz", "history.json", "history.csv", "curves.png"):
        assert (cut.dir.path / name).is_file()
    assert (cut.dir.path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_after_early_stop_trains_no_further(tmp_path):
    cfg = _cfg(dataset="sin", hidden=[8], epochs=60, early_stopping=1, lr=0.05, schedule="constant")
    full = runs.prepare_run(cfg, tmp_path / "full")
    runs.execute_run(full)
    assert full.trainer.stop_reason == "early_stopping" and full.trainer.epoch < 60

    class _KillAtStop(Callback):  # dies after the stopping epoch's checkpoint is written
        def on_epoch_end(self, trainer):
            if trainer.stop:
                raise KeyboardInterrupt

    cut = runs.prepare_run(cfg, tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(cut, [_KillAtStop()])
    cut = runs.resume_run(cut.dir.path)
    assert cut.trainer.stop_reason == "early_stopping"
    runs.execute_run(cut)
    assert cut.trainer.epoch == full.trainer.epoch
    _assert_same_weights(_weights(full.model), _weights(cut.model))  # the restored best
    # a finished run resumes as a no-op that rewrites the outputs
    again = runs.resume_run(cut.dir.path)
    assert again.finished
    assert runs.execute_run(again)["epochs"] == full.trainer.epoch


def test_failed_checkpoint_write_keeps_the_old_one(tmp_path, monkeypatch):
    run = runs.prepare_run(_cfg(), tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(run, [_StopAfter(1)])
    before = run.dir.checkpoint_path.read_bytes()

    def crash(src, dst):  # the rename that would publish the new file fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError, match="previous checkpoint is intact"):
        run.dir.save_checkpoint(run.trainer)
    monkeypatch.undo()
    assert run.dir.checkpoint_path.read_bytes() == before
    assert sorted(p.name for p in run.dir.path.iterdir()) == [
        "checkpoint.npz",
        "scaler.npz",
        "spec.json",
    ]  # no temporary file left behind
    assert run.dir.load_checkpoint()["trainer"]["epoch"] == 1


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_ctrl_c_is_held_back_during_a_checkpoint_write():
    # start from Python's own Ctrl-C handling, whatever an earlier test in this worker left
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        _ctrl_c_is_held_back()
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_is_held_back():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with runs.folder.sigint_deferred():
            signal.raise_signal(signal.SIGINT)
            reached.append("end of the write")  # not cut short
    assert reached == ["end of the write"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # nested: delivered once, at the outer end
        with runs.folder.sigint_deferred():
            with runs.folder.sigint_deferred():
                signal.raise_signal(signal.SIGINT)
            reached.append("after the inner block")
    assert reached[-1] == "after the inner block"


def test_run_folder_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a run folder"):
        RunDir.open(tmp_path)
    run = runs.prepare_run(_cfg(), tmp_path / "r")
    with pytest.raises(ConfigError, match="already holds a run"):
        RunDir.create(run.dir.path)
    again = runs.resume_run(run.dir.path)  # spec written, never trained: starts afresh
    assert again.resumed_from == 0 and "no checkpoint" in again.notes[0]
    _assert_same_weights(_weights(again.model), _weights(run.model))
    with pytest.raises(CheckpointError, match="damaged"):
        run.dir.checkpoint_path.write_bytes(b"PK\x03\x04 torn")
        runs.resume_run(run.dir.path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError):
        RunDir.create(tmp_path / "file" / "sub")


def test_resume_refuses_changed_settings_and_changed_data(tmp_path):
    run = runs.prepare_run(_cfg(), tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(run, [_StopAfter(1)])
    runs.resume_run(run.dir.path, given={"hidden": [8], "dataset": "xor"})  # same values: fine
    with pytest.raises(ConfigError, match="--lr 0.5"):
        runs.resume_run(run.dir.path, given={"lr": 0.5})
    spec = run.dir.read_spec()
    spec["data"]["fingerprint"] = "0" * 64
    run.dir.write_spec(spec)
    with pytest.raises(CheckpointError, match="has changed since"):
        runs.resume_run(run.dir.path)


def test_resume_notes_a_changed_blas_thread_count(tmp_path):
    run = runs.prepare_run(_cfg(), tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(run, [_StopAfter(1)])
    assert runs.resume_run(run.dir.path).notes == []
    spec = run.dir.read_spec()
    spec["environment"]["blas_threads"] = [{"api": "openblas", "threads": 977}]
    run.dir.write_spec(spec)
    (note,) = runs.resume_run(run.dir.path).notes
    assert "BLAS threads changed" in note and "977" in note


def test_load_model_falls_back_to_the_checkpoint(tmp_path):
    run = runs.prepare_run(_cfg(), tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(run, [_StopAfter(2)])
    model, source = run.dir.load_model()
    assert source == "checkpoint.npz (epoch 2)"
    _assert_same_weights(_weights(model), _weights(run.model))


# ------------------------------------------------------------------ metrics and files
def test_split_metrics_match_definitions():
    cfg = _cfg(dataset="blobs", epochs=3)
    ds = runs.load_data(cfg)
    model = runs.build_model(cfg, ds)
    m = runs.split_metrics(model, ds.X_test, ds.y_test, ds.task, ds.class_names)
    pred = model.predict(ds.X_test)
    assert m["accuracy"] == pytest.approx(np.mean(pred == ds.y_test))
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == len(ds.y_test)
    assert np.trace(cm) / cm.sum() == pytest.approx(m["accuracy"])
    assert cm[0].sum() == np.sum(ds.y_test == 0)  # rows are the true classes

    cfg = _cfg(dataset="poisson", epochs=3)
    ds = runs.load_data(cfg)
    model = runs.build_model(cfg, ds)
    m = runs.split_metrics(model, ds.X_test, ds.y_test, ds.task)
    y, mu = ds.y_test, model.output(ds.X_test).astype(np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2 * np.mean(np.where(y > 0, y * np.log(y / mu), 0) - (y - mu))
    assert m["deviance"] == pytest.approx(dev, rel=1e-6)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - mu) ** 2)), rel=1e-6)


def test_history_csv_has_a_column_per_key():
    text = runs.history_csv([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "val_loss": 0.25}])
    assert text.splitlines() == ["epoch,train_loss,val_loss", "1,0.5,", "2,,0.25"]


def test_default_out_is_unique(tmp_path):
    a = runs.default_out("xor", root=tmp_path)
    b = runs.default_out("xor", root=tmp_path)
    assert a.name.startswith("xor-") and a != b and a.is_dir() and b.is_dir()
    assert runs.default_out("/data/my.table.csv", root=tmp_path).name.startswith("my.table-")


# ------------------------------------------------------------------ regression target scaling
_DIABETES = dict(dataset="diabetes", hidden=[32, 32], epochs=30, batch_size=128, seed=0)


def test_regression_trains_on_standardised_targets_and_saves_a_raw_unit_model(tmp_path):
    run = runs.prepare_run(_cfg(**_DIABETES), tmp_path / "r")
    y_train = run.dataset.y_train
    mean, scale = run.tmap
    np.testing.assert_array_equal(mean, [y_train.mean()])
    np.testing.assert_array_equal(scale, [y_train.std()])
    assert abs(run.fit_targets("train").mean()) < 1e-12
    assert run.fit_targets("train").std() == pytest.approx(1.0)
    summary = runs.execute_run(run)
    assert summary["target_standardized"] is True
    assert summary["test_r2"] >= 0.45  # measured 0.529; raw targets give -3.06 (test below)
    # model.npz predicts σ·f(x) + μ where the trained (standardised-space) model predicts f(x)
    saved = load_network(run.dir.model_path)
    X = run.dataset.X_test
    np.testing.assert_allclose(
        saved.output(X).ravel(),
        run.model.output(X).astype(np.float64).ravel() * scale[0] + mean[0],
        rtol=1e-5,
    )
    assert runs.evaluate_run(run.dir.path)["r2"] == pytest.approx(summary["test_r2"])
    # the record: spec.json, history.json and scaler.npz
    spec = run.dir.read_spec()
    assert spec["config"]["target_scaling"] == "auto"
    assert spec["target_scaling"]["target_standardized"] is True
    assert spec["target_scaling"]["mean"] == [float(mean[0])]
    assert spec["target_scaling"]["folded_into_model"] is True
    hist = json.loads((run.dir.path / "history.json").read_text())
    assert hist["target_standardized"] is True
    with np.load(run.dir.path / "scaler.npz") as z:
        assert bool(z["target_folded"]) and z["target_scale"].tolist() == scale.tolist()
    # without model.npz the checkpoint (standardised weights) is folded the same way
    run.dir.model_path.unlink()
    from_ck, source = run.dir.load_model()
    assert source.startswith("checkpoint.npz")
    _assert_same_weights(_weights(from_ck), _weights(saved))


def test_target_scaling_none_trains_on_raw_targets_as_before(tmp_path):
    cfg = _cfg(**_DIABETES, target_scaling="none")
    run = runs.prepare_run(cfg, tmp_path / "r")
    assert run.tmap is None
    summary = runs.execute_run(run)
    assert summary["target_standardized"] is False and summary["test_r2"] < 0.2
    # the same as training the model directly on the raw targets
    ds = runs.load_data(cfg)
    init_rng, train_rng = runs.run_rngs(cfg.seed)
    model = runs.build_model(cfg, ds, rng=init_rng)
    runs.build_trainer(cfg, model, rng=train_rng).fit(ds.X_train, ds.y_train, ds.X_val, ds.y_val)
    _assert_same_weights(_weights(model), _weights(load_network(run.dir.model_path)))
    assert run.dir.read_spec()["target_scaling"] == {"target_standardized": False}
    with np.load(run.dir.path / "scaler.npz") as z:
        assert "target_mean" not in z.files


def test_old_run_settings_mean_raw_targets_and_counts_are_never_scaled():
    saved = _cfg(**_DIABETES).to_dict()
    del saved["target_scaling"]  # spec.json of a run from before the setting
    assert RunConfig.from_dict(saved).target_scaling == "none"
    count = _cfg(dataset="poisson", hidden=[8])
    assert runs.target_map(count, runs.load_data(count)) is None
    with pytest.raises(ConfigError, match="--target-scaling"):
        _cfg(target_scaling="log")


def test_regression_resume_is_bit_exact(tmp_path):
    cfg = _cfg(**{**_DIABETES, "epochs": 5, "dropout": 0.1})
    full = runs.prepare_run(cfg, tmp_path / "full")
    runs.execute_run(full)
    cut = runs.prepare_run(cfg, tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(cut, [_StopAfter(2)])
    cut = runs.resume_run(cut.dir.path)
    np.testing.assert_array_equal(cut.tmap[0], full.tmap[0])
    np.testing.assert_array_equal(cut.tmap[1], full.tmap[1])
    runs.execute_run(cut)
    _assert_same_weights(_weights(full.model), _weights(cut.model))
    _assert_same_weights(
        _weights(load_network(full.dir.model_path)), _weights(load_network(cut.dir.model_path))
    )
