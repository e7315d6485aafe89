"""Playground sessions: data in page coordinates, training through the engine, the perceptron
rule, the backward view, live changes and the command-line box."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.errors import ConfigError, DataError
from mlplab.web.schemas import PlaygroundConfig
from mlplab.web.sessions import (
    EXTENT,
    Session,
    cli_command,
    feature_matrix,
    make_data,
    trim_records,
)


def cfg(**kw) -> PlaygroundConfig:
    base = {"n_samples": 200, "hidden": [4], "activations": ["tanh"]}
    base.update(kw)
    return PlaygroundConfig(**base)


@pytest.mark.parametrize(
    "name,task,k",
    [
        ("circle", "binary", 2),
        ("xor", "binary", 2),
        ("gauss", "binary", 2),
        ("spiral", "binary", 2),
        ("moons", "binary", 2),
        ("blobs", "multiclass", 4),
        ("spiral3", "multiclass", 3),
        ("plane", "regression", 0),
        ("gauss_bump", "regression", 0),
        ("sin", "regression", 0),
    ],
)
def test_data_in_page_coordinates(name, task, k):
    d = make_data(cfg(dataset=name, n_classes=4, noise=0.1, train_ratio=0.7))
    assert d.task == task and d.n_classes == k
    X = np.vstack([d.X_train, d.X_test])
    assert len(X) == 200 and abs(len(d.X_train) - 140) <= 1
    assert d.dim == (1 if name == "sin" else 2)
    # TF Playground's square: the points fill a good part of [-6, 6] and stay near it
    assert np.abs(X).max() <= EXTENT + 1.5
    assert np.abs(X).max() >= 2.5
    again = make_data(cfg(dataset=name, n_classes=4, noise=0.1, train_ratio=0.7))
    assert np.array_equal(again.X_train, d.X_train) and np.array_equal(again.y_test, d.y_test)
    other = make_data(cfg(dataset=name, n_classes=4, noise=0.1, train_ratio=0.7, seed=1))
    assert not np.array_equal(other.X_train, d.X_train)


def test_feature_matrix():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    F = feature_matrix(X, ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"])
    assert np.allclose(F[1], [-3.0, 0.5, 9.0, 0.25, -1.5, np.sin(-3.0), np.sin(0.5)])
    assert feature_matrix(X, ["x1x2", "x1"]).tolist() == [[2.0, 1.0], [-1.5, -3.0]]


def test_xor_learns_and_runs_are_reproducible():
    c = cfg(dataset="xor", hidden=[8, 8], activations=["tanh", "tanh"], optimizer="adam")
    a, b = Session(c), Session(c)
    fa = a.advance(40, budget_s=60)
    fb = b.advance(40, budget_s=60)
    assert fa["epochs_run"] == 40
    assert fa["metrics"]["test_acc"] > 0.95
    assert fa["weights"] == fb["weights"]  # same seed, same run
    losses = [r["train_loss"] for r in a.history]
    assert losses[-1] < 0.3 * losses[0]
    assert len(a.history[-1]["grad"]) == 3


def test_backward_view_matches_the_four_equations():
    s = Session(cfg(dataset="gauss", hidden=[3], activations=["tanh"], head="sigmoid_bce"))
    s.advance(2)
    p = s.probe(2.0, 2.0)
    X = np.vstack([s.data.X_train, s.data.X_test])
    i = int(np.argmin(((X - [2.0, 2.0]) ** 2).sum(1)))
    assert np.allclose(p["point"], X[i], atol=1e-5)
    x = feature_matrix(X[i : i + 1], ["x1", "x2"])
    (_, d1), (_, d2) = s.model.dense_layers()
    W1, b1 = d1.params["weight"].astype(float), d1.params["bias"].astype(float)
    W2, b2 = d2.params["weight"].astype(float), d2.params["bias"].astype(float)
    z1 = x @ W1.T + b1
    h1 = np.tanh(z1)
    yhat = 1 / (1 + np.exp(-(h1 @ W2.T + b2)))
    delta_out = yhat - p["label"]  # sigmoid + BCE, one row
    delta_1 = (delta_out @ W2) * (1 - np.tanh(z1) ** 2)
    assert np.allclose(p["layers"][-1]["delta"], delta_out[0], atol=1e-4)
    assert np.allclose(p["layers"][0]["delta"], delta_1[0], atol=1e-4)
    # the probe changes no weight and leaves no gradient behind
    assert all(np.all(g == 0) for g in s.model.named_gradients().values())


def test_perceptron_mode_is_rosenblatts_rule():
    from mlplab.perceptron import Perceptron

    c = cfg(dataset="xor", mode="perceptron", lr=0.1, n_samples=300)
    s = Session(c)
    assert s.perceptron.separable is False
    f = None
    for _ in range(30):
        f = s.advance(1)
    assert f["finished"] is None  # XOR never settles
    assert min(s.perceptron.mistakes) > 0
    ref = Perceptron(lr=0.1, epochs=30, compute_bound=False).fit(s.data.X_train, s.data.y_train)
    assert np.allclose(s.perceptron.w, ref.coef_[0]) and np.isclose(
        s.perceptron.b, ref.intercept_[0]
    )
    assert s.perceptron.mistakes == ref.result_.mistakes_per_epoch
    # with the product feature x1·x2 the same points are separable and the rule stops
    s2 = Session(cfg(dataset="xor", mode="perceptron", features=["x1", "x2", "x1x2"]))
    f = s2.advance(50)
    assert f["finished"] == "converged" and s2.perceptron.mistakes[-1] == 0
    with pytest.raises(ConfigError, match="two-class"):
        Session(cfg(dataset="blobs", mode="perceptron"))


def test_live_changes_keep_weights_and_reach_the_optimizer():
    s = Session(cfg(dataset="circle", optimizer="sgd", lr=0.03))
    s.advance(2)
    before = {k: v.copy() for k, v in s.model.named_parameters().items()}
    r = s.apply_config(cfg(dataset="circle", optimizer="sgd", lr=0.3, l2=0.01, schedule="cosine"))
    assert r["reset"] is False
    assert s.trainer.optimizer.base_lr == 0.3 and s.trainer.config.l2 == 0.01
    assert s.trainer.schedule.name == "cosine"
    for k, v in s.model.named_parameters().items():
        assert np.array_equal(v, before[k])
    s.advance(1)
    assert s.epoch == 3
    r = s.apply_config(cfg(dataset="circle", optimizer="adam", lr=0.3))
    assert r["reset"] is False and s.trainer.optimizer.name == "adam" and s.epoch == 3
    assert s.apply_config(cfg(dataset="circle", hidden=[2], lr=0.3, optimizer="adam"))["reset"]
    assert s.epoch == 0


def test_horizon_divergence_and_dead_units():
    s = Session(cfg(dataset="gauss", epochs=3))
    f = s.advance(10)
    assert (
        s.epoch == 3 and f["finished"] == "horizon" and any("epochs = 3" in n for n in f["notices"])
    )
    s.apply_config(cfg(dataset="gauss", epochs=5))
    assert s.advance(10)["epochs_run"] == 2
    s = Session(cfg(dataset="plane", hidden=[4], activations=["identity"], lr=10.0))
    f = s.advance(20, budget_s=60)
    assert f["finished"] == "diverged" and any("diverged" in n for n in f["notices"])
    assert all(np.all(np.isfinite(v)) for v in s.model.named_parameters().values())
    # all units of a layer dead: push every bias of the first layer far below zero
    s = Session(cfg(dataset="gauss", hidden=[4], activations=["relu"]))
    for j in range(4):
        f = s.set_weight(0, j, -1, -100.0)
    assert f["dead"] == [[True] * 4]


def test_one_dimensional_data_drop_x2_features():
    s = Session(cfg(dataset="sin", features=["x1", "x2", "x1x2", "sinx1"]))
    assert s.config.features == ["x1", "sinx1"]
    st = s.state()
    assert st["dim"] == 1 and st["frame"]["output"]["kind"] == "curve"


def test_doctor_findings_reach_the_page():
    s = Session(cfg(dataset="xor", hidden=[8, 8], activations=["relu", "relu"], lr=3.0))
    frames = [s.advance(2) for _ in range(4)]
    ids = {f["id"] for f in frames[-1]["findings"]}
    assert ids, "expected the doctor to name something for lr = 3 on a ReLU net"
    assert any(n.startswith("doctor:") for fr in frames for n in fr["notices"])


def test_cli_command_lists_the_train_flags():
    c = cfg(
        dataset="moons",
        hidden=[8, 4],
        activations=["relu", "tanh"],
        optimizer="adam",
        lr=0.01,
        schedule="cosine",
        epochs=200,
        batch_size=32,
        l1=0.001,
        l2=0.002,
        weight_decay=0.003,
        dropout=0.1,
        norm="layer",
        seed=7,
    )
    cmd = cli_command(c, "sigmoid_bce")["command"]
    for flag in (
        "--dataset moons",
        "--hidden 8,4",
        "--activations relu,tanh",
        "--head sigmoid_bce",
        "--init auto",
        "--optimizer adam",
        "--lr 0.01",
        "--schedule cosine",
        "--epochs 200",
        "--batch-size 32",
        "--weight-decay 0.003",
        "--l1 0.001",
        "--l2 0.002",
        "--dropout 0.1",
        "--norm layer",
        "--seed 7",
    ):
        assert flag in cmd
    assert cmd.startswith("mlplab train ")
    assert "--hidden none" in cli_command(cfg(hidden=[], activations=[]), "sigmoid_bce")["command"]


def test_cli_command_parses_with_the_train_command():
    import argparse
    import shlex

    train = pytest.importorskip("mlplab.commands.train", reason="mlplab train not installed")
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    c = cfg(dataset="blobs", n_classes=3, noise=0.2, hidden=[6, 3], activations=["elu", "silu"])
    args = parser.parse_args(shlex.split(cli_command(c, "softmax_ce")["command"])[2:])
    assert args.dataset == "blobs" and args.hidden == [6, 3] and args.activations == ["elu", "silu"]
    assert args.subset == 200 and args.val_fraction == 0 and args.test_fraction == 0.5
    empty = parser.parse_args(
        shlex.split(cli_command(cfg(hidden=[], activations=[]), "sigmoid_bce")["command"])[2:]
    )
    assert empty.hidden == []


def test_csv_needs_an_upload_and_trim_bounds_lists():
    with pytest.raises(DataError, match="upload"):
        make_data(cfg(dataset="csv"))
    items = list(range(100))
    trim_records(items, 3, 10)
    assert items == [0, 1, 2, *range(90, 100)]


@pytest.mark.slow
def test_a_large_epoch_is_spread_over_frames_and_trains_the_same():
    # one-row batches over 900 rows through 10 layers of 64: thousands of steps per epoch
    c = cfg(
        dataset="circle",
        n_samples=1000,
        train_ratio=0.9,
        batch_size=1,
        hidden=[64] * 10,
        activations=["relu"] * 10,
        epochs=3,
    )
    framed, whole = Session(c), Session(c)
    k = Session.pieces_per_epoch(len(framed.Xf_train), 1)
    assert k > 1
    f = framed.advance(1, budget_s=0.0)  # the budget is checked after each piece
    assert f["epochs_run"] == 0 and f["epoch"] == 0
    assert np.isclose(f["epoch_progress"], 1 / k, atol=0.01)
    calls = 1
    while framed.epoch == 0:
        f = framed.advance(1, budget_s=0.0)
        calls += 1
    assert calls == k and f["epochs_run"] == 1 and f["epoch_progress"] == 0.0
    g = whole.advance(1, budget_s=1e9)
    assert g["epochs_run"] == 1
    a, b = framed.model.state_dict(), whole.model.state_dict()
    assert all(np.array_equal(a[n], b[n]) for n in a)  # framing does not change training
    assert framed.history == whole.history
