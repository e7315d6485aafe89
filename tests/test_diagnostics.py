"""The doctor names each failure mode of section 8 on a run that has it, none on a healthy run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import TrainConfig, Trainer
from mlplab.data import load_dataset
from mlplab.diagnostics import (
    DEAD_FRACTION,
    FINDING_IDS,
    OVERFIT_RISE,
    SATURATION_DERIVATIVE,
    DiagnosticsRecorder,
    Doctor,
    activation_stats,
    constant_loss,
    diagnose,
    diagnostics_report,
    max_derivative,
    probe_record,
    read_diagnostics,
)
from mlplab.errors import DataError


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # small matrices: a threaded BLAS only adds contention on a shared machine
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", subset=2000, seed=0)


def _train(ds, sizes, act, *, init, std=1.0, bias=0.0, opt="adam", lr=1e-3, epochs=3, bs=64):
    model = Network(mlp_spec(sizes, act, init=init, init_std=std, bias_init=bias), rng=0)
    live = []
    doctor = Doctor(
        ds.X_train[:256], labels=ds.y_train, on_finding=lambda f: live.append((f.id, f.severity))
    )
    trainer = Trainer(
        model,
        {"name": opt, "lr": lr},
        config=TrainConfig(epochs=epochs, batch_size=bs),
        rng=0,
        callbacks=[doctor],
    )
    trainer.fit(ds.X_train, ds.y_train, ds.X_val, ds.y_val)
    return trainer, doctor, live


def _ids(doctor):
    return {f.id for f in doctor.findings}


# ------------------------------------------------------------------------------- the scenarios
def test_healthy_run_has_no_findings(mnist):
    trainer, doctor, live = _train(mnist, [784, 128, 64, 10], "relu", init="he_normal", epochs=4)
    assert trainer.history.last()["val_accuracy"] > 0.85
    assert doctor.findings == [] and live == []
    rec = doctor.record
    # measurements were taken: a check at step 0, one probe pass at init and after each epoch
    assert rec["checks"][0]["step"] == 0 and len(rec["checks"]) >= 4 * 5
    assert [a["epoch"] for a in rec["activations"]] == [0, 1, 2, 3, 4]
    ratios = [r for c in rec["checks"] for r in c["update_ratio"] or []]
    assert ratios and all(1e-5 < r < 1e-1 for r in ratios)
    gains = [c["gain"] for c in rec["checks"]]
    assert all(1e-2 < g < 10 for g in gains)
    assert rec["chance_loss"] == pytest.approx(2.30, abs=0.01)  # ≈ ln 10, near-balanced classes
    json.dumps(doctor.report(), allow_nan=False)


def test_deep_sigmoid_small_init_vanishes(mnist):
    _, doctor, live = _train(
        mnist, [784] + [64] * 8 + [10], "sigmoid", init="normal", std=0.01, opt="sgd", lr=0.1
    )
    ids = _ids(doctor)
    assert "vanishing_gradient" in ids and ("vanishing_gradient", "warning") in live
    f = next(f for f in doctor.findings if f.id == "vanishing_gradient")
    assert f.sections == ["8.1"] and f.failure_mode == "Vanishing Gradient"
    assert f.evidence["gain_first_hidden_to_output"] < 1e-3
    assert f.evidence["mean_factor_per_layer"] < 0.25  # σ′ ≤ 0.25 and tiny weights
    assert "xavier" in f.advice and "N(0, 0.01²)" in f.advice
    # the loss did not move: flat_loss, blamed on the vanishing gradient, not on the lr
    flat = next(f for f in doctor.findings if f.id == "flat_loss")
    assert "vanishing_gradient" in flat.advice and "raise the learning rate" not in flat.advice


def test_deep_sigmoid_standard_normal_init_saturates(mnist):
    _, doctor, _ = _train(
        mnist, [784] + [64] * 8 + [10], "sigmoid", init="normal", std=1.0, opt="sgd", lr=0.1
    )
    ids = _ids(doctor)
    assert ids & {"saturation", "vanishing_gradient"}
    f = next(f for f in doctor.findings if f.id == "saturation")
    assert f.epoch == 0  # visible at initialisation already
    assert "1.sigmoid" in f.evidence["flagged"]
    assert all(
        v >= 0.4 for k, v in f.evidence["saturated_fraction"].items() if k in f.evidence["flagged"]
    )


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_deep_relu_standard_normal_init_explodes_and_diverges(mnist):
    trainer, doctor, live = _train(
        mnist, [784] + [64] * 6 + [10], "relu", init="normal", std=1.0, opt="sgd", lr=0.01
    )
    ids = _ids(doctor)
    assert {"exploding_gradient", "divergence"} <= ids
    assert trainer.stop_reason == "divergence"
    div = next(f for f in doctor.findings if f.id == "divergence")
    assert div.severity == "error" and div.sections == ["8.5"]
    assert div.evidence["restored_epoch"] == 0 and "last good weights" in div.advice
    assert "initial weights" in div.summary
    # the model really holds finite (the initial) weights again
    assert all(np.all(np.isfinite(v)) for v in trainer.model.named_parameters().values())
    exp = next(f for f in doctor.findings if f.id == "exploding_gradient")
    assert exp.evidence["gain_first_hidden_to_output"][0] > 1e3
    assert "he init" in exp.advice
    assert ("divergence", "error") in live


def test_deep_relu_standard_normal_init_with_adam_explodes_without_nan(mnist):
    trainer, doctor, _ = _train(mnist, [784] + [64] * 6 + [10], "relu", init="normal", std=1.0)
    assert trainer.stop_reason is None
    assert "exploding_gradient" in _ids(doctor) and "divergence" not in _ids(doctor)
    f = next(f for f in doctor.findings if f.id == "exploding_gradient")
    stds = f.evidence["activation_std_per_block"]
    assert stds[-1] / stds[0] > 1e3  # activations grow with depth


def test_high_lr_negative_bias_kills_relus(mnist):
    _, doctor, live = _train(
        mnist, [784, 128, 64, 10], "relu", init="he_normal", bias=-0.5, lr=0.05
    )
    assert "dead_relu" in _ids(doctor)
    f = next(f for f in doctor.findings if f.id == "dead_relu")
    assert f.sections == ["8.2"]
    assert max(f.evidence["dead_fraction"].values()) >= DEAD_FRACTION
    # layer 1 was mostly alive at init and died during training; advice says so
    assert "1.relu" in f.evidence["died_in_training"]
    assert "lower the learning rate" in f.advice and "leaky_relu" in f.advice
    assert live and live[0][0] == "dead_relu"


def test_small_subset_trained_long_overfits():
    ds = load_dataset("mnist", subset=1000, seed=0, val_fraction=0.5)
    trainer, doctor, live = _train(
        ds, [784, 128, 10], "relu", init="he_normal", lr=1e-2, epochs=20, bs=50
    )
    f = next(f for f in doctor.findings if f.id == "overfitting")
    ev = f.evidence
    assert f.sections == ["8.3"] and f.severity == "warning"
    assert ev["val_loss_rise"] >= OVERFIT_RISE and ev["train_loss"] < ev["train_loss_at_best"]
    assert ev["train_accuracy"] - ev["val_accuracy"] > 0.05
    assert f"epoch {ev['best_epoch']}" in f.advice
    # shown live, between epochs, before the run ended
    assert ("overfitting", "warning") in live and f.epoch < 20


# ------------------------------------------------------------------------- the measurements
def test_gradient_norms_and_update_ratio_match_hand_computation():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = Network(mlp_spec([3, 5, 4, 2], "tanh", dtype="float64"), rng=2)
    rec = DiagnosticsRecorder(every=1)
    lr = 0.05
    trainer = Trainer(
        model,
        {"name": "sgd", "lr": lr},
        config=TrainConfig(epochs=1, batch_size=40),
        rng=0,
        callbacks=[rec],
    )
    w0 = {i: la.params["weight"].copy() for i, la in model.dense_layers()}
    trainer.fit(X, y)
    (check,) = rec.record["checks"]
    model2 = Network(mlp_spec([3, 5, 4, 2], "tanh", dtype="float64"), rng=2)
    loss = model2.loss_and_grad(X, y)
    assert check["loss"] == pytest.approx(loss)
    for k, (i, la) in enumerate(model2.dense_layers()):
        g = la.grads["weight"]
        assert check["grad_norm"][k] == pytest.approx(np.linalg.norm(g))
        assert check["grad_rms"][k] == pytest.approx(np.linalg.norm(g) / math.sqrt(g.size))
        # plain SGD: ΔW = −lr·G, so ‖ΔW‖/‖W‖ = lr‖G‖/‖W‖
        expect = lr * np.linalg.norm(g) / np.linalg.norm(w0[i])
        assert check["update_ratio"][k] == pytest.approx(expect, rel=1e-9)
    tr = model2.trace()
    rms = [np.sqrt(np.mean(b["delta"] ** 2)) for b in tr]
    assert check["delta_rms"] == pytest.approx(rms)
    assert check["gain"] == pytest.approx(rms[0] / rms[-1])


def test_activation_stats_definitions():
    # one input x = 1, Dense weights 1: z equals the bias
    spec = mlp_spec([1, 4, 1], "sigmoid", head="identity_mse", dtype="float64")
    model = Network(spec)
    model.layers[0].params["weight"][:] = 1.0
    model.layers[0].params["bias"][:] = [0.0, 5.0, 8.0, -7.0]
    (st,) = activation_stats(model, np.zeros((3, 1)) + 0.0)
    # z = [0, 5, 8, −7]; σ′ < 0.01·0.25 ⇔ |z| > 5.99: units 3 and 4
    assert max_derivative(model.layers[1].activation) == pytest.approx(0.25)
    assert st["saturated"] == pytest.approx(0.5)
    assert SATURATION_DERIVATIVE == 0.01 and st["dead"] is None
    relu = Network(mlp_spec([1, 4, 1], "relu", head="identity_mse", dtype="float64"))
    relu.layers[0].params["weight"][:] = [[1.0], [-1.0], [0.0], [1.0]]
    relu.layers[0].params["bias"][:] = [0.0, 0.0, -1.0, -0.5]
    X = np.array([[1.0], [2.0], [-1.0], [0.0]])
    (st,) = activation_stats(relu, X)
    # z per unit: [1,2,−1,0], [−1,−2,1,0], [−1]*4, [0.5,1.5,−1.5,−0.5]: unit 3 never active
    assert st["dead"] == pytest.approx(0.25) and st["dead_units"] == 1
    assert st["zero"] == pytest.approx(11 / 16)
    assert st["saturated"] is None and sum(st["hist"]["counts"]) == 16


def test_constant_loss_is_the_chance_level():
    y = np.repeat(np.arange(4), 5)
    model = Network(mlp_spec([2, 4]), rng=0)
    assert constant_loss(model, y) == pytest.approx(np.log(4))
    reg = Network(mlp_spec([2, 1], head="identity_mse", dtype="float64"), rng=0)
    t = np.array([1.0, 2.0, 4.0, 9.0])
    assert constant_loss(reg, t) == pytest.approx(0.5 * np.var(t))
    mae = Network(mlp_spec([2, 1], head="identity_mae", dtype="float64"), rng=0)
    assert constant_loss(mae, t) == pytest.approx(np.mean(np.abs(t - np.median(t))))
    binary = Network(mlp_spec([2, 1], head="sigmoid_bce", dtype="float64"), rng=0)
    p = 0.25
    expect = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert constant_loss(binary, np.array([1, 0, 0, 0])) == pytest.approx(expect)


def test_flat_loss_below_chance_needs_labels():
    # the loss fell 30 % but stays above ln 10: a constant prediction would do better
    hist = [{"epoch": e, "train_loss": v} for e, v in [(1, 5.1), (2, 3.9), (3, 3.6)]]
    assert diagnose(_REC, hist) == []
    (f,) = diagnose({**_REC, "chance_loss": float(np.log(10))}, hist)
    assert f.id == "flat_loss" and "constant prediction" in f.summary


def test_doctor_writes_its_report_and_continues_a_record(tmp_path, mnist):
    X, y = mnist.X_train[:300], mnist.y_train[:300]
    path = tmp_path / "diagnostics.json"
    model = Network(mlp_spec([784, 16, 10], "relu"), rng=0)
    cfg = TrainConfig(epochs=2, batch_size=50)
    first = Doctor(X[:64], labels=y, path=path)
    trainer = Trainer(model, "adam", config=cfg, rng=0, callbacks=[first])
    trainer.fit(X, y)
    saved = read_diagnostics(path)
    assert [a["epoch"] for a in saved["activations"]] == [0, 1, 2]
    # pretend the run was interrupted after epoch 1 and resumed: epoch 2 is recomputed
    state = trainer.state_dict()
    state["epoch"] = 1
    resumed = Doctor(X[:64], labels=y, record=saved)
    t2 = Trainer(model, "adam", config=TrainConfig(epochs=2, batch_size=50), rng=0)
    t2.load_state_dict(state)
    t2.callbacks = [resumed]
    t2.fit(X, y)
    rec = resumed.record
    assert [a["epoch"] for a in rec["activations"]] == [0, 1, 2]
    epochs = [c["epoch"] for c in rec["checks"]]
    assert epochs == sorted(epochs) and epochs.count(2) == epochs.count(1)


def test_probe_record_restores_gradients(mnist):
    model = Network(mlp_spec([784, 32, 10], "relu"), rng=0)
    model.loss_and_grad(mnist.X_train[:10], mnist.y_train[:10])
    before = {k: v.copy() for k, v in model.named_gradients().items()}
    rec = probe_record(model, mnist.X_train[:64], mnist.y_train[:64], epoch=3)
    assert rec["activations"][0]["epoch"] == 3 and len(rec["checks"]) == 1
    for k, v in model.named_gradients().items():
        np.testing.assert_array_equal(v, before[k])
    assert diagnose(rec, []) == []


# ------------------------------------------------------------------------- rules on synthetic data
def _hist(val, train):
    return [
        {"epoch": i + 1, "train_loss": t, "val_loss": v}
        for i, (v, t) in enumerate(zip(val, train, strict=True))
    ]


_REC = {"format": "mlplab.diagnostics/1", "layers": [], "blocks": [], "checks": []}


def test_overfitting_rule_boundaries():
    falling = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3]
    assert diagnose(_REC, _hist([0.5, 0.4, 0.42, 0.43, 0.435, 0.436], falling)) == []  # +9 %
    (f,) = diagnose(_REC, _hist([0.5, 0.4, 0.42, 0.43, 0.45, 0.45], falling))  # +12.5 %
    assert f.id == "overfitting" and f.evidence["best_epoch"] == 2 and f.epoch == 5
    # only two epochs since the minimum: too early
    assert diagnose(_REC, _hist([0.5, 0.45, 0.4, 0.42, 0.5], falling[:5])) == []
    # training loss rising too: not overfitting
    rising = [0.3, 0.25, 0.26, 0.27, 0.28, 0.29]
    assert diagnose(_REC, _hist([0.5, 0.4, 0.42, 0.43, 0.45, 0.45], rising)) == []


def test_flat_loss_and_divergence_rules():
    flat = [{"epoch": e, "train_loss": 2.30 - 0.01 * e} for e in range(1, 4)]
    (f,) = diagnose(_REC, flat)
    assert f.id == "flat_loss" and f.sections == ["8.5", "8.1"]
    assert diagnose(_REC, flat[:2]) == []  # too few epochs to say
    learning = [{"epoch": e, "train_loss": 2.3 / e} for e in range(1, 4)]
    assert diagnose(_REC, learning) == []
    hist = [
        *learning[:2],
        {"epoch": 3, "train_loss": math.inf, "diverged": True, "restored_epoch": 2},
    ]
    (f,) = diagnose(_REC, hist, stop_reason="divergence")
    assert f.id == "divergence" and f.severity == "error" and "epoch 2" in f.summary


def test_findings_cover_the_text_sections():
    assert set(FINDING_IDS) == {
        "vanishing_gradient",
        "exploding_gradient",
        "saturation",
        "dead_relu",
        "overfitting",
        "divergence",
        "flat_loss",
    }
    assert {s for secs in FINDING_IDS.values() for s in secs} == {"8.1", "8.2", "8.3", "8.5"}


def test_report_is_strict_json_and_bad_input_is_typed():
    check = {"step": 0, "epoch": 1, "total_grad_norm": float("nan"), "finite": False}
    rec = {**_REC, "checks": [check]}
    rep = diagnostics_report(rec, diagnose(rec, []))
    text = json.dumps(rep, allow_nan=False)
    assert '"finite": false' in text
    assert rep["findings"][0]["id"] == "exploding_gradient"
    assert set(rep["findings"][0]) >= {"id", "severity", "evidence", "advice"}
    with pytest.raises(DataError):
        DiagnosticsRecorder(np.zeros(3))
    with pytest.raises(DataError):
        diagnose("not a record")
