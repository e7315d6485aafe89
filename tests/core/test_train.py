"""The training loop: it learns, it is deterministic, it resumes bit for bit, early stopping,
regularizers, clipping, max-norm, divergence, callbacks and argument checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import Callback, TrainConfig, Trainer, evaluate, fit
from mlplab.errors import ConfigError, DataError


def xor_blobs(n: int, seed: int):
    """Four Gaussian blobs at (±1, ±1); the class is the XOR of the signs (not linear)."""
    rng = np.random.default_rng(seed)
    centres = rng.choice([-1.0, 1.0], size=(n, 2))
    X = centres + rng.normal(0.0, 0.25, size=(n, 2))
    y = (centres[:, 0] != centres[:, 1]).astype(np.int64)
    return X, y


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


class Recorder(Callback):
    """Keeps a copy of the weights after every epoch and the events in order."""

    def __init__(self):
        self.states, self.events = [], []

    def on_train_begin(self, trainer):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer):
        self.events.append("epoch_begin")

    def on_batch_end(self, trainer, batch_loss):
        self.events.append("batch_end")

    def on_epoch_end(self, trainer):
        self.events.append("epoch_end")
        self.states.append(trainer.model.state_dict())

    def on_train_end(self, trainer):
        self.events.append("train_end")


class StopAfter(Callback):
    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, trainer):
        if trainer.epoch >= self.epochs:
            trainer.stop = True


class GradSpy(Callback):
    """Copies the gradients (after regularizers and clipping) and weights of every batch."""

    def __init__(self):
        self.grads, self.params = [], []

    def on_batch_end(self, trainer, batch_loss):
        self.grads.append({k: v.copy() for k, v in trainer.model.named_gradients().items()})
        self.params.append(trainer.model.state_dict())


# --------------------------------------------------------------------------- it learns
def test_two_layer_mlp_learns_xor_blobs():
    X, y = xor_blobs(400, seed=0)
    X_test, y_test = xor_blobs(400, seed=1)
    net = Network.from_sizes([2, 16, 2], "tanh", rng=0)
    hist = fit(net, X, y, optimizer="adam", lr=0.05, epochs=30, batch_size=32, rng=0)
    assert hist["train_loss"][-1] < hist["train_loss"][0] / 4
    assert evaluate(net, X_test, y_test)["accuracy"] >= 0.97

    linear = Network.from_sizes([2, 2], "relu", rng=0)  # no hidden layer: XOR is out of reach
    fit(linear, X, y, optimizer="adam", lr=0.05, epochs=30, batch_size=32, rng=0)
    assert evaluate(linear, X_test, y_test)["accuracy"] < 0.75


def test_history_records():
    X, y = xor_blobs(64, seed=2)
    net = Network.from_sizes([2, 8, 2], "relu", rng=0)
    hist = fit(net, X, y, optimizer="sgd", lr=0.1, epochs=3, batch_size=16, validation=(X, y))
    assert len(hist) == 3 and hist["epoch"] == [1, 2, 3]
    rec = hist.last()
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(rec)
    assert rec["lr"] == 0.1
    assert hist.to_dict()["records"][0]["epoch"] == 1


def test_regression_and_count_metrics():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    net = Network.from_sizes([3, 8, 1], "relu", head="mse", dtype="float64", rng=0)
    fit(net, X, y, optimizer="adam", lr=0.02, epochs=60, batch_size=32, rng=0)
    ev = evaluate(net, X, y)
    assert ev["r2"] > 0.95 and ev["rmse"] < 0.5 and {"loss", "mae"} <= set(ev)
    counts = rng.poisson(np.exp(0.5 * X[:, 0]))
    pois = Network.from_sizes([3, 4, 1], "relu", head="poisson", dtype="float64", rng=0)
    ev = evaluate(pois, X, counts)
    assert ev["deviance"] >= 0 and np.isfinite(ev["loss"])


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bitwise_identical_weights_with_dropout(dtype):
    X, y = xor_blobs(96, seed=4)

    def run(seed):
        net = Network.from_sizes([2, 12, 12, 2], "relu", dropout=0.3, dtype=dtype, rng=seed)
        fit(net, X, y, optimizer="adam", lr=0.01, epochs=3, batch_size=16, rng=seed)
        return net.state_dict()

    a, b, c = run(7), run(7), run(8)
    assert states_equal(a, b)
    assert a["0.weight"].dtype == np.dtype(dtype)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


# --------------------------------------------------------------------------- resume
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_resume_from_state_dict_is_bitwise_identical(norm):
    """Train 2 epochs, save the trainer state, continue in a fresh trainer for 2 more:
    identical to 4 epochs straight (weights, batch-norm buffers, optimizer, history)."""
    X, y = xor_blobs(150, seed=5)
    Xv, yv = xor_blobs(40, seed=6)
    spec = mlp_spec([2, 10, 8, 2], "elu", dropout=0.25, norm=norm)
    cfg = TrainConfig(epochs=4, batch_size=32, l2=1e-3, early_stopping=5)
    opt = {"name": "adamw", "lr": 0.01}

    def trainer(model_seed, rng_seed, callbacks=()):
        net = Network(spec, rng=model_seed)
        return Trainer(net, opt, schedule="cosine", config=cfg, rng=rng_seed, callbacks=callbacks)

    straight = trainer(1, 2)
    straight.fit(X, y, Xv, yv)

    first = trainer(1, 2, callbacks=[StopAfter(2)])
    first.fit(X, y, Xv, yv)
    assert first.epoch == 2
    saved = copy.deepcopy(first.state_dict())

    # different initial weights and generator: everything must come from `saved`
    resumed = trainer(99, 123)
    resumed.load_state_dict(saved)
    resumed.fit(X, y, Xv, yv)

    assert resumed.epoch == straight.epoch == 4 and resumed.step == straight.step
    assert states_equal(resumed.model.state_dict(), straight.model.state_dict())
    assert resumed.optimizer.t == straight.optimizer.t
    for k, st in straight.optimizer.state.items():
        assert states_equal(resumed.optimizer.state[k], st)

    def strip(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert strip(resumed.history.records) == strip(straight.history.records)
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


# --------------------------------------------------------------------------- early stopping
def _overfit_data():
    """Random labels: the training loss falls while the validation loss soon rises."""
    rng = np.random.default_rng(10)
    return (
        rng.normal(size=(12, 6)),
        rng.integers(0, 2, size=12),
        rng.normal(size=(80, 6)),
        rng.integers(0, 2, size=80),
    )


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_restores_the_best_weights(restore_best):
    X, y, Xv, yv = _overfit_data()
    net = Network.from_sizes([6, 64, 2], "relu", dtype="float64", rng=0)
    rec = Recorder()
    hist = fit(
        net,
        X,
        y,
        optimizer="adam",
        lr=0.03,
        epochs=300,
        batch_size=12,
        validation=(Xv, yv),
        early_stopping=3,
        restore_best=restore_best,
        callbacks=[rec],
        rng=0,
    )
    val = hist["val_loss"]
    best = int(np.argmin(val))
    assert len(hist) < 300 and len(hist) == best + 1 + 3  # stopped after 3 epochs without gain
    assert val[-1] > val[best]
    if restore_best:
        assert states_equal(net.state_dict(), rec.states[best])
        assert evaluate(net, Xv, yv)["loss"] == val[best]
    else:
        assert states_equal(net.state_dict(), rec.states[-1])


def test_early_stopping_needs_validation():
    X, y = xor_blobs(20, seed=0)
    with pytest.raises(ConfigError, match="validation"):
        fit(Network.from_sizes([2, 2], "relu"), X, y, early_stopping=2)


def test_min_delta_counts_small_gains_as_none():
    X, y, Xv, yv = _overfit_data()
    net = Network.from_sizes([6, 64, 2], "relu", dtype="float64", rng=0)
    hist = fit(
        net,
        X,
        y,
        optimizer="sgd",
        lr=1e-4,
        epochs=50,
        batch_size=12,
        validation=(Xv, yv),
        early_stopping=2,
        min_delta=1.0,
    )
    assert len(hist) == 3  # no epoch beats the first by 1.0


# --------------------------------------------------------------------------- regularizers
def _one_batch_setup(seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)
    net = Network.from_sizes([4, 6, 3], "tanh", dtype="float64", rng=seed)
    plain = net.copy()
    loss = plain.loss_and_grad(X, y)
    return net, X, y, loss, {k: v.copy() for k, v in plain.named_gradients().items()}


@pytest.mark.parametrize("l1, l2", [(0.0, 0.1), (0.05, 0.0), (0.02, 0.3)])
def test_l1_and_l2_add_their_gradient_to_dense_weights(l1, l2):
    net, X, y, loss, plain = _one_batch_setup()
    W0 = {k: v.copy() for k, v in net.named_parameters().items()}
    spy = GradSpy()
    hist = fit(
        net,
        X,
        y,
        optimizer="sgd",
        lr=0.1,
        epochs=1,
        batch_size=16,
        shuffle=False,
        l1=l1,
        l2=l2,
        callbacks=[spy],
    )
    (g,) = spy.grads
    penalty = 0.0
    for k, w in W0.items():
        want = plain[k]
        if k.endswith("weight"):  # Dense weights only; biases are not regularized
            want = want + l2 * w + l1 * np.sign(w)
            penalty += 0.5 * l2 * np.sum(w * w) + l1 * np.sum(np.abs(w))
        np.testing.assert_allclose(g[k], want, rtol=1e-13, atol=1e-15, err_msg=k)
    assert hist["train_loss"][0] == pytest.approx(loss + penalty, rel=1e-13)


def test_clip_grad_norm_rescales_the_global_norm():
    net, X, y, _, plain = _one_batch_setup()
    norm = np.sqrt(sum(np.sum(g * g) for g in plain.values()))
    spy = GradSpy()
    fit(
        net.copy(),
        X,
        y,
        optimizer="sgd",
        epochs=1,
        batch_size=16,
        shuffle=False,
        clip_grad_norm=norm / 4,
        callbacks=[spy],
    )
    (g,) = spy.grads
    assert np.sqrt(sum(np.sum(v * v) for v in g.values())) == pytest.approx(norm / 4, rel=1e-9)
    for k in plain:  # same direction
        np.testing.assert_allclose(g[k], plain[k] / 4, rtol=1e-9, atol=1e-15)
    spy = GradSpy()
    fit(
        net.copy(),
        X,
        y,
        optimizer="sgd",
        epochs=1,
        batch_size=16,
        shuffle=False,
        clip_grad_norm=norm * 2,
        callbacks=[spy],
    )
    for k in plain:  # under the threshold: untouched
        np.testing.assert_array_equal(spy.grads[0][k], plain[k])


def test_max_norm_caps_each_units_incoming_weights():
    net, X, y, _, _ = _one_batch_setup()
    W = net.named_parameters()["0.weight"]  # (6, 4): one row per hidden unit
    W[0] *= 5.0 / np.linalg.norm(W[0])
    W[1] *= 0.5 / np.linalg.norm(W[1])
    fit(net, X, y, optimizer="sgd", lr=1e-9, epochs=1, batch_size=16, max_norm=1.0)
    rows = np.linalg.norm(net.named_parameters()["0.weight"], axis=1)
    assert rows[0] == pytest.approx(1.0, rel=1e-9)
    assert rows[1] == pytest.approx(0.5, rel=1e-6)  # under the cap: only the tiny SGD step
    # after real training with a large step every row of every dense layer is within the cap
    X2, y2 = xor_blobs(64, seed=3)
    big = Network.from_sizes([2, 16, 2], "relu", init="normal", init_std=2.0, rng=0)
    fit(big, X2, y2, optimizer="sgd", lr=0.5, epochs=3, batch_size=8, max_norm=0.8)
    for _, layer in big.dense_layers():
        assert np.linalg.norm(layer.params["weight"], axis=1).max() <= 0.8 * (1 + 1e-6)


# --------------------------------------------------------------------------- divergence, callbacks
def test_divergence_stops_and_restores_the_last_finite_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), 100 * rng.normal(size=64)
    net = Network.from_sizes([3, 8, 1], "relu", head="mse", dtype="float64", rng=0)

    class EpochStart(Callback):
        def on_epoch_begin(self, trainer):
            self.state = trainer.model.state_dict()

    start = EpochStart()
    with np.errstate(all="ignore"):
        hist = fit(net, X, y, optimizer="sgd", lr=5.0, epochs=20, batch_size=8, callbacks=[start])
    rec = hist.last()
    assert rec["diverged"] and not np.isfinite(rec["train_loss"])
    assert states_equal(net.state_dict(), start.state)
    assert all(np.all(np.isfinite(v)) for v in net.state_dict().values())


def test_callback_order_and_stop():
    X, y = xor_blobs(20, seed=0)
    rec = Recorder()
    net = Network.from_sizes([2, 3, 2], "relu", rng=0)
    fit(net, X, y, optimizer="sgd", epochs=5, batch_size=8, callbacks=[rec, StopAfter(2)])
    one_epoch = ["epoch_begin", "batch_end", "batch_end", "batch_end", "epoch_end"]
    assert rec.events == ["train_begin", *one_epoch, *one_epoch, "train_end"]


def test_batchnorm_never_gets_a_batch_of_one_row():
    X, y = xor_blobs(7, seed=0)
    for bs in (2, 3, 6):  # 7 = 3·2 + 1 = 2·3 + 1 = 6 + 1
        net = Network.from_sizes([2, 4, 2], "relu", norm="batch", rng=0)
        hist = fit(net, X, y, optimizer="sgd", epochs=2, batch_size=bs)
        assert len(hist) == 2 and np.isfinite(hist["train_loss"]).all()


# --------------------------------------------------------------------------- bad arguments
def test_step_activation_cannot_be_fitted():
    X, y = xor_blobs(10, seed=0)
    net = Network.from_sizes([2, 3, 2], "step", rng=0)
    with pytest.raises(ConfigError, match="step"):
        fit(net, X, y)
    with pytest.raises(ConfigError, match="step"):
        Trainer(net, "sgd")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": -1},
        {"epochs": 1.5},
        {"batch_size": 0},
        {"l1": -0.1},
        {"l2": float("nan")},
        {"max_norm": 0.0},
        {"clip_grad_norm": -1.0},
        {"early_stopping": 0},
        {"min_delta": -1.0},
        {"batchsize": 32},  # unknown option
        {"lr": 0.0},
        {"optimizer": "lbfgs"},
        {"schedule": "triangle"},
    ],
)
def test_bad_training_arguments_raise_config_error(kwargs):
    X, y = xor_blobs(10, seed=0)
    with pytest.raises(ConfigError):
        fit(Network.from_sizes([2, 2], "relu"), X, y, **kwargs)


@pytest.mark.parametrize(
    "X, y",
    [
        (np.zeros((10, 2)), np.zeros(9, dtype=int)),  # row counts differ
        (np.zeros((10, 3)), np.zeros(10, dtype=int)),  # wrong number of features
        (np.zeros((10, 2)), np.full(10, 2)),  # class id 2 for 2 outputs
        (np.zeros((10, 2)), np.full(10, np.nan)),
        (np.zeros((0, 2)), np.zeros(0, dtype=int)),  # empty
    ],
)
def test_bad_training_data_raises_data_error(X, y):
    with pytest.raises(DataError):
        fit(Network.from_sizes([2, 2], "relu"), X, y, epochs=1)


def test_bad_labels_for_other_heads_raise_data_error():
    X = np.zeros((4, 2))
    with pytest.raises(DataError, match="0 or 1"):
        fit(Network.from_sizes([2, 1], "relu", head="binary"), X, np.array([0, 1, 2, 1]))
    with pytest.raises(DataError, match=">= 0"):
        fit(Network.from_sizes([2, 1], "relu", head="poisson"), X, np.array([0, 1, -2, 1]))


# --------------------------------------------------------------------------- sample weights
@pytest.mark.parametrize("fast", [True, False])
def test_integer_sample_weights_train_as_repeated_rows(fast):
    # full-batch SGD: weight 2 on a row is that row twice, weight 0 is the row left out
    X, y = xor_blobs(24, seed=3)
    w = np.tile([0.0, 1.0, 2.0], 8)
    rep = np.repeat(np.arange(24), w.astype(int))
    a = Network.from_sizes([2, 5, 2], "tanh", dtype="float64", rng=0)
    b = a.copy()
    ha = fit(
        a, X, y, sample_weight=w, optimizer="sgd", epochs=3, batch_size=24, shuffle=False, fast=fast
    )
    hb = fit(b, X[rep], y[rep], optimizer="sgd", epochs=3, batch_size=len(rep), shuffle=False)
    np.testing.assert_allclose(ha["train_loss"], hb["train_loss"], rtol=1e-12)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v, b.state_dict()[k], rtol=1e-12, atol=1e-15)


def test_sample_weights_fast_and_reference_paths_agree_and_are_checked():
    X, y = xor_blobs(50, seed=4)
    w = np.random.default_rng(0).uniform(0, 2, size=50)
    nets = [Network.from_sizes([2, 6, 2], "relu", rng=0) for _ in range(2)]
    for net, fast in zip(nets, (True, False)):
        fit(net, X, y, sample_weight=w, optimizer="adam", epochs=2, batch_size=16, rng=1, fast=fast)
    assert states_equal(nets[0].state_dict(), nets[1].state_dict())
    with pytest.raises(DataError, match="sample_weight"):
        fit(nets[0], X, y, sample_weight=w[:-1], epochs=1)
    with pytest.raises(DataError, match="sample_weight"):
        fit(nets[0], X, y, sample_weight=-w, epochs=1)
