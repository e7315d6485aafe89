"""The fast path gives the reference path's numbers bit for bit: every layer kind, head, dtype
and optimizer, one step and whole training runs, traces, callbacks and resume."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from mlplab.core.fastpath import FastStep, fast_issues, fast_optimizer_step
from mlplab.core.layers import Dense
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import SGD, Adam, AdamW, Optimizer, make_optimizer
from mlplab.core.train import Callback, TrainConfig, Trainer, fit
from mlplab.errors import ConfigError


def _data(n=96, d=7, k=3, head="softmax_ce", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if head == "softmax_ce":
        y = rng.integers(0, k, size=n)
    elif head in ("sigmoid_bce", "multilabel_bce"):
        y = rng.integers(0, 2, size=(n, k))
    elif head == "exp_poisson":
        y = rng.poisson(2.0, size=(n, k)).astype(float)
    else:
        y = rng.normal(size=(n, k))
    return X, y


def _same_state(a: Network, b: Network) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


NETS = {
    "relu": dict(activation="relu"),
    "relu-dropout": dict(activation="relu", dropout=0.3, input_dropout=0.2),
    "relu-batchnorm": dict(activation="relu", norm="batch"),
    "tanh-layernorm": dict(activation="tanh", norm="layer"),
    "prelu": dict(activation="prelu"),
    "leaky-float64": dict(activation={"name": "leaky_relu", "alpha": 0.1}, dtype="float64"),
}
OPTIMIZERS = {
    "sgd": {"name": "sgd", "lr": 0.1},
    "momentum": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "nesterov-wd": {
        "name": "sgd",
        "lr": 0.05,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 1e-3,
    },
    "sgd-wd": {"name": "sgd", "lr": 0.05, "weight_decay": 1e-2},
    "adam": {"name": "adam", "lr": 1e-2},
    "adam-l2": {"name": "adam", "lr": 1e-2, "weight_decay": 1e-3},
    "adamw": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.05},
}


def _train(fast, net_kw, opt, head="softmax_ce", k=3, **config):
    X, y = _data(head=head, k=k)
    kw = dict(net_kw)
    act = kw.pop("activation")
    model = Network(mlp_spec([7, 12, 9, k], act, head=head, **kw), rng=1)
    hist = fit(model, X, y, optimizer=opt, epochs=2, batch_size=20, rng=5, fast=fast, **config)
    return model, hist


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_training_is_bitwise_identical(net, opt):
    """Two epochs with a short last batch (96 = 4·20 + 16): same weights and history."""
    ref, h_ref = _train(False, NETS[net], OPTIMIZERS[opt])
    fast, h_fast = _train(True, NETS[net], OPTIMIZERS[opt])
    _same_state(ref, fast)
    for a, b in zip(h_ref.records, h_fast.records):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    first = next(iter(ref.named_parameters()))
    untrained = Network(ref.spec, rng=1).state_dict()[first]
    assert not np.array_equal(ref.state_dict()[first], untrained)  # it did train


@pytest.mark.parametrize(
    "head,k", [("sigmoid_bce", 1), ("identity_mse", 2), ("multilabel_bce", 3), ("exp_poisson", 2)]
)
def test_other_heads_run_their_reference_code(head, k):
    ref, _ = _train(False, NETS["relu"], OPTIMIZERS["momentum"], head=head, k=k)
    fast, _ = _train(True, NETS["relu"], OPTIMIZERS["momentum"], head=head, k=k)
    _same_state(ref, fast)


def test_regularisers_clipping_and_max_norm_apply_the_same():
    config = dict(l1=1e-4, l2=1e-3, clip_grad_norm=0.5, max_norm=0.9)
    ref, _ = _train(False, NETS["relu-dropout"], OPTIMIZERS["nesterov-wd"], **config)
    fast, _ = _train(True, NETS["relu-dropout"], OPTIMIZERS["nesterov-wd"], **config)
    _same_state(ref, fast)


def test_one_step_matches_loss_gradients_and_trace():
    X, y = _data(n=33)
    model = Network.from_sizes([7, 16, 8, 3], "relu", rng=3)
    twin = model.copy()
    y_valid = model.head.validate(y, 3, dtype=model.dtype)
    X32 = model.as_input(X)
    loss_ref = twin.loss_and_grad(X32, y_valid)
    fast = FastStep(model, make_optimizer("sgd"))
    z, loss = fast.forward_backward(X32, y_valid)
    assert loss == loss_ref
    np.testing.assert_array_equal(z, twin.z_out)
    for key, g in twin.named_gradients().items():
        np.testing.assert_array_equal(model.named_gradients()[key], g, err_msg=key)
    for a, b in zip(model.trace(), twin.trace()):
        assert a["dense"] == b["dense"] and a["activation"] == b["activation"]
        for field in ("z", "h", "delta"):
            np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    for i in range(len(model.layers)):  # ∂L/∂(output of every layer), as Network.backward keeps
        np.testing.assert_array_equal(model.deltas[i], twin.deltas[i])


def test_gradients_are_overwritten_not_accumulated():
    """Stale gradients from an earlier pass do not leak into the next step."""
    X, y = _data(n=20)
    model = Network.from_sizes([7, 5, 3], "relu", norm="batch", rng=0)
    for g in model.named_gradients().values():
        g.fill(123.0)
    twin = model.copy()
    yv = model.head.validate(y, 3, dtype=model.dtype)
    Xv = model.as_input(X)
    FastStep(model, make_optimizer("sgd")).forward_backward(Xv, yv, np.random.default_rng(0))
    twin.loss_and_grad(Xv, yv, rng=np.random.default_rng(0))
    for key, g in twin.named_gradients().items():
        np.testing.assert_array_equal(model.named_gradients()[key], g, err_msg=key)


def test_buffers_are_kept_per_batch_size_and_bounded():
    model = Network.from_sizes([7, 6, 3], "relu", rng=0)
    fast = FastStep(model, make_optimizer("sgd"))
    b20 = fast.buffers(20)
    assert fast.buffers(20) is b20  # reused
    assert b20.out[0].shape == (20, 6) and b20.din[0] is None  # no ∂L/∂X buffer
    for n in range(1, 10):
        fast.buffers(n)
    assert len(fast._buffers) <= 4


def test_callbacks_see_the_reference_gradients():
    class Spy(Callback):
        def __init__(self):
            self.grads = []

        def on_batch_end(self, trainer, loss):
            self.grads.append({k: g.copy() for k, g in trainer.model.named_gradients().items()})

    spies = []
    for fast in (False, True):
        X, y = _data()
        spy = Spy()
        model = Network.from_sizes([7, 10, 3], "relu", rng=0)
        fit(
            model,
            X,
            y,
            optimizer="adam",
            epochs=1,
            batch_size=32,
            rng=0,
            fast=fast,
            callbacks=[spy],
        )
        spies.append(spy)
    assert len(spies[0].grads) == len(spies[1].grads) == 3
    for a, b in zip(spies[0].grads, spies[1].grads):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_resume_from_a_checkpoint_is_bitwise():
    X, y = _data()
    spec = mlp_spec([7, 10, 3], "relu", dropout=0.2)
    whole = Network(spec, rng=0)
    Trainer(whole, "adam", config=TrainConfig(epochs=3, batch_size=25), rng=4).fit(X, y)
    first = Network(spec, rng=0)
    t1 = Trainer(first, "adam", config=TrainConfig(epochs=1, batch_size=25), rng=4)
    t1.fit(X, y)
    state = t1.state_dict()
    second = Network(spec, rng=99)
    t2 = Trainer(second, "adam", config=TrainConfig(epochs=3, batch_size=25), rng=0)
    t2.load_state_dict(state)
    t2.fit(X, y)
    _same_state(whole, second)


@pytest.mark.parametrize(
    "cls,kw", [(SGD, {"lr": 0.1, "momentum": 0.9}), (Adam, {}), (AdamW, {"weight_decay": 0.1})]
)
def test_optimizer_step_and_state_match(cls, kw):
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(5, 4)).astype(np.float32), "b": np.zeros(4, np.float32)}
    ref_params = {k: v.copy() for k, v in params.items()}
    ref, fast, scratch = cls(**kw), cls(**kw), {}
    for _ in range(4):
        grads = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()}
        ref.step(ref_params, grads)
        fast_optimizer_step(fast, params, grads, scratch)
        for k in params:
            np.testing.assert_array_equal(params[k], ref_params[k])
    assert fast.t == ref.t == 4
    sa, sb = ref.state_dict()["state"], fast.state_dict()["state"]
    for name in sa:
        for key in sa[name]:
            np.testing.assert_array_equal(sa[name][key], sb[name][key])


def test_unknown_optimizer_runs_its_own_step():
    class Halve(Optimizer):
        name = "halve"

        def _update(self, name, p, g):
            p *= 0.5

    p = {"w": np.ones(3, np.float32)}
    opt = Halve(lr=1.0)
    fast_optimizer_step(opt, p, {"w": np.zeros(3, np.float32)})
    np.testing.assert_array_equal(p["w"], 0.5)
    assert opt.t == 1


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_logits_report_the_reference_loss():
    X, y = _data(n=10)
    model = Network.from_sizes([7, 4, 3], "relu", rng=0)
    model.named_parameters()["2.bias"][0] = np.inf
    twin = model.copy()
    yv = model.head.validate(y, 3, dtype=model.dtype)
    _, loss = FastStep(model, make_optimizer("sgd")).forward_backward(model.as_input(X), yv)
    ref = twin.loss_and_grad(model.as_input(X), yv)
    assert not math.isfinite(loss)
    assert math.isnan(loss) == math.isnan(ref)


# --------------------------------------------------------------------------- refusal
class DampenedSGD(SGD):
    """SGD with torch's ``dampening``: a setting the fast SGD update does not implement."""

    def __init__(self, lr=0.05, momentum=0.9, dampening=0.5):
        super().__init__(lr, momentum)
        self.dampening = dampening

    def hyperparameters(self):
        return {**super().hyperparameters(), "dampening": self.dampening}

    def _update(self, name, p, g):
        st = self.state.setdefault(name, {})
        if "momentum_buffer" not in st:
            st["momentum_buffer"] = np.array(g, copy=True)
        else:
            st["momentum_buffer"] *= self.momentum
            st["momentum_buffer"] += (1 - self.dampening) * g
        p -= p.dtype.type(self.lr) * st["momentum_buffer"]


def test_a_setting_the_fast_update_does_not_know_falls_back_visibly(caplog):
    X, y = _data()
    runs = []
    for fast in (True, False):
        model = Network.from_sizes([7, 10, 3], "relu", rng=0)
        with caplog.at_level(logging.DEBUG, logger="mlplab.core.fastpath"):
            fit(model, X, y, optimizer=DampenedSGD(), epochs=2, batch_size=20, rng=0, fast=fast)
        runs.append(model)
    _same_state(*runs)  # the dampening was applied on the fast path too
    assert "overrides" in DampenedSGD().fast_issue()
    messages = [r.getMessage() for r in caplog.records if r.name == "mlplab.core.fastpath"]
    assert any("optimizer" in m and "reference" in m for m in messages)


def test_a_new_setting_on_a_kernel_class_is_refused_not_ignored(caplog):
    class WideDense(Dense):
        def spec(self):
            return {**super().spec(), "scale_output": 2.0}  # a setting no kernel knows

    model = Network.from_sizes([7, 10, 3], "relu", rng=0)
    model.layers[0].__class__ = WideDense
    assert "scale_output" in fast_issues(model)["layer 0 (WideDense)"]
    with caplog.at_level(logging.DEBUG, logger="mlplab.core.fastpath"):
        step = FastStep(model, SGD())
    assert step.kernel == [False, True, True]
    assert any("layer 0 (WideDense)" in r.getMessage() for r in caplog.records)
    # the kernels the fast path has are used with their own settings only
    assert fast_issues(Network.from_sizes([7, 10, 3], "relu", rng=0), SGD(momentum=0.9)) == {}
    assert set(fast_issues(Network.from_sizes([7, 10, 3], "tanh", norm="layer", rng=0))) == {
        "layer 1 (LayerNorm)",
        "layer 2 (ActivationLayer)",
    }


# --------------------------------------------------------------------------- fused SGD
FUSED_OPTIMIZERS = {
    "sgd": {"name": "sgd", "lr": 0.1},
    "momentum": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "nesterov": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
}


@pytest.mark.parametrize("opt", list(FUSED_OPTIMIZERS))
@pytest.mark.parametrize("net", ["relu", "relu-dropout", "relu-batchnorm", "tanh-layernorm"])
def test_fused_sgd_equals_the_reference_within_rounding(net, opt):
    """The fused update adds η·δᵀH (or the momentum buffer's μv + δᵀH) inside the BLAS
    calls: not bit for bit, within float32 rounding.  One step: error ≤ 1e-6 of the largest
    weight; two epochs: ≤ 1e-4.  Momentum buffers end equal too (the optimizer's state)."""
    X, y = _data()
    kw = dict(NETS[net])
    act = kw.pop("activation")
    spec = mlp_spec([7, 12, 9, 3], act, **kw)
    for epochs, batch, tol in ((1, 96, 1e-6), (2, 20, 1e-4)):
        ref, fused = Network(spec, rng=1), Network(spec, rng=1)
        o_ref, o_fus = make_optimizer(FUSED_OPTIMIZERS[opt]), make_optimizer(FUSED_OPTIMIZERS[opt])
        h_ref = fit(ref, X, y, optimizer=o_ref, epochs=epochs, batch_size=batch, rng=5, fast=False)
        h_fus = fit(
            fused, X, y, optimizer=o_fus, epochs=epochs, batch_size=batch, rng=5, fast="fused"
        )
        for k, v in ref.state_dict().items():
            w = fused.state_dict()[k]
            assert np.max(np.abs(w - v)) <= tol * max(1.0, float(np.max(np.abs(v)))), k
        np.testing.assert_allclose(h_fus["train_loss"], h_ref["train_loss"], rtol=10 * tol)
        assert o_fus.state.keys() == o_ref.state.keys() and o_fus.t == o_ref.t
        for name, st in o_ref.state.items():
            for key, v in st.items():
                scale = max(1.0, float(np.max(np.abs(v))))
                assert np.max(np.abs(o_fus.state[name][key] - v)) <= tol * scale, (name, key)
        first = next(iter(ref.named_parameters()))
        assert not np.array_equal(ref.state_dict()[first], Network(spec, rng=1).state_dict()[first])


def test_fused_momentum_resumes_from_a_reference_checkpoint():
    """The momentum buffers are the optimizer's own state: a fused run continued from a
    reference run's optimizer state matches the reference continuing itself."""
    X, y = _data()
    spec = mlp_spec([7, 12, 9, 3], "relu")
    opt = FUSED_OPTIMIZERS["nesterov"]
    base = Network(spec, rng=1)
    o_base = make_optimizer(opt)
    fit(base, X, y, optimizer=o_base, epochs=1, batch_size=20, rng=5, fast=False)
    runs = []
    for fast in (False, "fused"):
        model = Network(spec, rng=2)
        model.load_state_dict(base.state_dict())
        o = make_optimizer(opt)
        o.load_state_dict(o_base.state_dict())
        fit(model, X, y, optimizer=o, epochs=1, batch_size=20, rng=6, fast=fast)
        runs.append(model.state_dict())
    for k in runs[0]:
        np.testing.assert_allclose(runs[1][k], runs[0][k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_fused_sgd_is_chosen_only_where_it_applies(caplog):
    X, y = _data()
    model = Network.from_sizes([7, 10, 3], "relu", rng=0)

    class Watcher(Callback):
        reads_gradients = False

    for opt, cbs in [
        ({"name": "sgd", "lr": 0.1}, ()),
        ({"name": "sgd", "lr": 0.1, "momentum": 0.9}, ()),
        ({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, (Watcher(),)),
    ]:
        t = Trainer(model, opt, config=TrainConfig(epochs=1), callbacks=cbs, fast="fused")
        assert type(t.make_step()).__name__ == "FusedSGDStep"
    for opt, cfg, cbs in [
        ({"name": "sgd", "lr": 0.1, "weight_decay": 1e-3}, TrainConfig(), ()),
        ("adam", TrainConfig(), ()),
        ({"name": "sgd", "lr": 0.1}, TrainConfig(l2=1e-3), ()),
        ({"name": "sgd", "lr": 0.1}, TrainConfig(clip_grad_norm=1.0), ()),
        ({"name": "sgd", "lr": 0.1}, TrainConfig(), (Callback(),)),
    ]:
        with caplog.at_level(logging.DEBUG, logger="mlplab.core.train"):
            t = Trainer(model, opt, config=cfg, callbacks=cbs, fast="fused")
            assert type(t.make_step()) is FastStep
    assert sum("fused SGD step not used" in r.getMessage() for r in caplog.records) == 5
    with pytest.raises(ConfigError, match="fast"):
        Trainer(model, "sgd", fast="yes")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernel_gives_the_reference_bits_on_special_values(dtype):
    """max(z, zeros) against an array is the same bits as the reference max(z, 0): signed
    zeros, NaN, infinities and subnormals included; so is δ ⊙ 1[z > 0]."""
    from mlplab.core.activations import ReLU

    rng = np.random.default_rng(0)
    z = rng.standard_normal((37, 29)).astype(dtype)
    flat = z.reshape(-1)
    tiny = np.finfo(dtype).smallest_subnormal
    for i, v in enumerate([-0.0, 0.0, np.nan, np.inf, -np.inf, tiny, -tiny]):
        flat[i :: 7 * (i + 2)] = v
    relu, bits = ReLU(), (np.uint32 if dtype == np.float32 else np.uint64)
    out = np.empty_like(z)
    got = relu.f_into(z, out, np.zeros_like(z))
    assert got is out
    np.testing.assert_array_equal(got.view(bits), relu.f(z).view(bits))
    np.testing.assert_array_equal(relu.f_into(z, np.empty_like(z)).view(bits), relu.f(z).view(bits))
    delta = rng.standard_normal(z.shape).astype(dtype)
    din = relu.df_mul_into(z, delta, np.empty(z.shape, bool), np.empty_like(z))
    np.testing.assert_array_equal(din.view(bits), (delta * relu.df(z)).view(bits))


def test_fused_sgd_falls_back_when_numpys_blas_cannot_be_called(monkeypatch, caplog):
    """Without a callable NumPy BLAS the fused step is not used, and the log says why."""
    import mlplab.core.fastpath as fastpath

    monkeypatch.setattr(fastpath, "blas_issue", lambda: "NumPy's BLAS is mkl")
    model = Network.from_sizes([7, 10, 3], "relu", rng=0)
    with caplog.at_level(logging.DEBUG, logger="mlplab.core.train"):
        t = Trainer(model, {"name": "sgd", "lr": 0.1}, config=TrainConfig(epochs=1), fast="fused")
        assert type(t.make_step()) is FastStep
    assert any("NumPy's BLAS is mkl" in r.getMessage() for r in caplog.records)


def test_fused_sgd_on_mnist_shapes_stays_within_its_tolerance():
    """The bench's case (784-64-64-10 stands in for the wide nets, float32, batch 128, plain
    SGD): after 50 steps the fused weights are within 1e-4 of the largest reference weight and
    the losses agree to 1e-4."""
    rng = np.random.default_rng(3)
    X = rng.random((50 * 128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 50 * 128)
    runs = []
    for fast in (False, "fused"):
        model = Network.from_sizes([784, 64, 64, 10], "relu", rng=0)
        hist = fit(model, X, y, optimizer={"name": "sgd", "lr": 0.05}, epochs=1,
                   batch_size=128, rng=1, fast=fast)  # fmt: skip
        runs.append((model.state_dict(), hist["train_loss"]))
    (ref, l_ref), (fus, l_fus) = runs
    for k in ref:
        scale = max(1.0, float(np.max(np.abs(ref[k]))))
        assert np.max(np.abs(fus[k] - ref[k])) <= 1e-4 * scale, k
    np.testing.assert_allclose(l_fus, l_ref, rtol=1e-4)


def test_fused_step_leaves_replaced_non_contiguous_weights_to_the_fast_kernels():
    """A Dense weight replaced by a Fortran-ordered array is not written through BLAS
    addresses; that layer takes the fast step's update, the result still equals the
    reference within rounding, and a Fortran-ordered momentum buffer is copied, not refused."""
    X, y = _data()
    spec = mlp_spec([7, 12, 9, 3], "relu")
    ref, fused = Network(spec, rng=1), Network(spec, rng=1)
    fused.layers[0].params["weight"] = np.asfortranarray(fused.layers[0].params["weight"])
    opt = FUSED_OPTIMIZERS["momentum"]
    o_ref, o_fus = make_optimizer(opt), make_optimizer(opt)
    fit(ref, X, y, optimizer=o_ref, epochs=1, batch_size=20, rng=5, fast=False)
    fit(fused, X, y, optimizer=o_fus, epochs=1, batch_size=20, rng=5, fast="fused")
    assert "2.weight" in o_fus.state  # the second Dense layer, a fused one
    buf = o_fus.state["2.weight"]["momentum_buffer"]
    o_fus.state["2.weight"]["momentum_buffer"] = np.asfortranarray(buf)
    o_ref2 = make_optimizer(opt)
    o_ref2.load_state_dict(o_ref.state_dict())
    fit(ref, X, y, optimizer=o_ref2, epochs=1, batch_size=20, rng=6, fast=False)
    fit(fused, X, y, optimizer=o_fus, epochs=1, batch_size=20, rng=6, fast="fused")
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(fused.state_dict()[k], v, rtol=1e-4, atol=1e-5, err_msg=k)


def test_base_kernels_are_the_reference_written_into_buffers():
    """Activations and optimizers without a fast kernel still answer ``f_into``,
    ``df_mul_into`` and ``update_into``, with the reference's numbers."""
    from mlplab.core.activations import get_activation

    rng = np.random.default_rng(0)
    z, delta = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    tanh = get_activation("tanh")
    assert tanh.fast_issue() is not None
    out = np.empty_like(z)
    assert tanh.f_into(z, out) is out
    np.testing.assert_array_equal(out, tanh.f(z))
    got = tanh.df_mul_into(z, delta, np.empty(z.shape, bool), np.empty_like(z))
    np.testing.assert_array_equal(got, delta * tanh.df(z))

    class Halving(Optimizer):  # an optimizer of its own: no fast update
        name = "halving"

        def _update(self, name, p, g):
            p -= 0.5 * g

    opt = Halving(lr=0.1)
    assert opt.fast_issue() is not None
    p, g = np.ones(3), np.arange(3.0)
    opt.update_into("w", p, g, {})
    np.testing.assert_array_equal(p, 1.0 - 0.5 * g)
