"""The torch backend: spec → module with the same names and outputs, the same training loop on
torch (parity with the NumPy engine in float64), resume, devices/precision, MNIST on torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlplab.backends.torch import (  # noqa: E402
    TorchTrainer,
    from_torch,
    head_loss,
    head_output,
    resolve_device,
    to_torch,
    torch_fit,
    torch_module,
)
from mlplab.core.activations import ACTIVATIONS  # noqa: E402
from mlplab.core.losses import HEADS  # noqa: E402
from mlplab.core.network import Network, mlp_spec  # noqa: E402
from mlplab.core.train import Callback, TrainConfig, Trainer, fit  # noqa: E402
from mlplab.errors import ConfigError  # noqa: E402
from mlplab.io import load_network  # noqa: E402

#: Weights after N steps on both engines agree to this, absolute (weights are O(1)).
PARITY_ATOL = 1e-8


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: the test machine's cores are shared, and torch's thread pool
    slows down badly when oversubscribed.  Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _labels(head: str, n: int, k: int, rng) -> np.ndarray:
    if head == "softmax_ce":
        return rng.integers(0, k, n)
    if head in ("sigmoid_bce", "multilabel_bce"):
        return rng.integers(0, 2, (n, k)).astype(float)
    if head == "exp_poisson":
        return rng.poisson(2.0, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def _randomise_buffers(model: Network, rng) -> None:
    """Non-trivial running statistics, so eval-mode batch norm is really exercised."""
    for name, buf in model.named_buffers().items():
        if name.endswith("running_mean"):
            buf[...] = rng.normal(size=buf.shape)
        elif name.endswith("running_var"):
            buf[...] = rng.uniform(0.5, 2.0, size=buf.shape)


FORWARD_CASES = (
    [(act, "none", 0.0, "softmax_ce") for act in ACTIVATIONS]
    + [("relu", norm, 0.0, "softmax_ce") for norm in ("batch", "layer")]
    + [("tanh", "batch", 0.3, "softmax_ce"), ("gelu", "layer", 0.5, "identity_mse")]
    + [("silu", "none", 0.0, head) for head in HEADS]
    + [({"name": "prelu", "alpha": 0.2}, "batch", 0.0, "sigmoid_bce")]
    + [({"name": "leaky_relu", "alpha": 0.05}, "layer", 0.0, "multilabel_bce")]
    + [({"name": "elu", "alpha": 0.7}, "none", 0.2, "exp_poisson")]
)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("act,norm,dropout,head", FORWARD_CASES)
def test_forward_outputs_agree(act, norm, dropout, head, dtype, tol):
    rng = np.random.default_rng(3)
    k = 1 if head == "sigmoid_bce" else 3
    spec = mlp_spec(
        [5, 7, 6, k], act, head=head, norm=norm, dropout=dropout, input_dropout=dropout, dtype=dtype
    )
    model = Network(spec, rng=rng)
    _randomise_buffers(model, rng)
    module = to_torch(model).eval()
    X = rng.normal(size=(11, 5)).astype(dtype)
    with torch.no_grad():
        z_t = module(torch.as_tensor(X))
        out_t = head_output(model.head.name, z_t).numpy()
    z = model.forward(X)
    assert z_t.dtype == {"float64": torch.float64, "float32": torch.float32}[dtype]
    scale = max(1.0, float(np.max(np.abs(z))))
    assert np.max(np.abs(z_t.numpy() - z)) <= tol * scale
    out = model.output(X)
    assert np.max(np.abs(out_t - out)) <= tol * max(1.0, float(np.max(np.abs(out))))
    # the torch loss of the same logits is the head's loss
    y = model.head.validate(_labels(head, 11, k, rng), k, dtype=np.float64)
    z64 = z.astype(np.float64)
    lt = head_loss(model.head.name, torch.as_tensor(z64), torch.as_tensor(y)).item()
    assert lt == pytest.approx(model.head.loss(z64, y), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_names_and_exact_round_trip(dtype):
    spec = mlp_spec(
        [4, 6, 5, 3], {"name": "prelu", "alpha": 0.1}, norm="batch", dropout=0.2, dtype=dtype
    )
    model = Network(spec, rng=0)
    module = to_torch(model)
    assert sorted(module.state_dict()) == sorted(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(module.state_dict()[k].numpy(), v)
    # change every torch entry, copy back, compare bit for bit
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, dtype=t.dtype))
            else:
                t.fill_(7)
    from_torch(module, model)
    for k, t in module.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], t.numpy())
        assert model.state_dict()[k].dtype == t.numpy().dtype


def test_torch_module_from_spec():
    spec = mlp_spec([3, 4, 2], "tanh", norm="layer")
    module = torch_module(spec, rng=5)
    assert isinstance(module, torch.nn.Sequential)
    assert sorted(module.state_dict()) == sorted(Network(spec, rng=5).state_dict())
    np.testing.assert_array_equal(
        module.state_dict()["0.weight"].numpy(), Network(spec, rng=5).state_dict()["0.weight"]
    )


# ---------------------------------------------------------------------- training parity
def _problem(head="softmax_ce", n=400, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, _labels(head, n, k, rng)


def _max_diff(a: Network, b: Network) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float(np.max(np.abs(sa[k] - sb[k]))) for k in sa)


PARITY_CASES = [
    ("sgd", {"name": "sgd", "lr": 0.1}, {}, "none"),
    ("momentum", {"name": "sgd", "lr": 0.05, "momentum": 0.9}, {}, "none"),
    (
        "nesterov+wd",
        {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
        {"schedule": "cosine"},
        "layer",
    ),
    ("adam", {"name": "adam", "lr": 1e-2}, {}, "none"),
    ("adam+reg", {"name": "adam", "lr": 1e-2}, {"l2": 1e-3, "l1": 1e-4}, "batch"),
    (
        "adamw+clip+maxnorm",
        {"name": "adamw", "lr": 1e-2},
        {"clip_grad_norm": 0.3, "max_norm": 1.5, "schedule": "warmup_cosine"},
        "none",
    ),
]


@pytest.mark.parametrize("label,opt,extra,norm", PARITY_CASES, ids=[c[0] for c in PARITY_CASES])
def test_training_parity_float64(label, opt, extra, norm):
    """20 batches on each engine from the same weights and the same Generator seed."""
    X, y = _problem()
    spec = mlp_spec([6, 16, 8, 3], "tanh", norm=norm, dtype="float64")
    a, b = Network(spec, rng=1), Network(spec, rng=1)
    kw = dict(optimizer=opt, epochs=2, batch_size=40, **extra)  # 2 × 10 = 20 batches
    ha = fit(a, X, y, rng=np.random.default_rng(7), validation=(X[:60], y[:60]), **kw)
    hb = torch_fit(
        b, X, y, rng=np.random.default_rng(7), validation=(X[:60], y[:60]), device="cpu", **kw
    )
    assert _max_diff(a, b) < PARITY_ATOL
    assert _max_diff(a, Network(spec, rng=1)) > 1e-3  # it did train
    assert len(ha) == len(hb) == 2
    for ra, rb in zip(ha.records, hb.records):
        assert set(ra) == set(rb)
        for key in ra:
            if key != "seconds":
                assert rb[key] == pytest.approx(ra[key], rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("head", ["sigmoid_bce", "identity_mse", "multilabel_bce", "exp_poisson"])
def test_training_parity_other_heads(head):
    k = 1 if head in ("sigmoid_bce", "identity_mse") else 3
    X, y = _problem(head, k=k)
    spec = mlp_spec([6, 12, k], "relu", head=head, dtype="float64", init_std=0.5)
    a, b = Network(spec, rng=2), Network(spec, rng=2)
    kw = dict(optimizer={"name": "sgd", "lr": 0.02, "momentum": 0.5}, epochs=1, batch_size=20)
    fit(a, X, y, rng=np.random.default_rng(3), **kw)
    torch_fit(b, X, y, rng=np.random.default_rng(3), device="cpu", **kw)
    assert _max_diff(a, b) < PARITY_ATOL


def test_early_stopping_matches_numpy():
    X, y = _problem(n=200)
    Xv, yv = _problem(n=80, seed=9)
    spec = mlp_spec([6, 32, 3], "relu", dtype="float64")
    a, b = Network(spec, rng=0), Network(spec, rng=0)
    kw = dict(optimizer={"name": "adam", "lr": 0.05}, epochs=60, batch_size=50, early_stopping=3)
    ta = Trainer(
        a, kw["optimizer"], config=TrainConfig(**{k: kw[k] for k in kw if k != "optimizer"})
    )
    ha = ta.fit(X, y, Xv, yv)
    tb = TorchTrainer(
        b,
        kw["optimizer"],
        config=TrainConfig(**{k: kw[k] for k in kw if k != "optimizer"}),
        device="cpu",
    )
    hb = tb.fit(X, y, Xv, yv)
    assert ta.stop_reason == tb.stop_reason == "early_stopping"
    assert len(ha) == len(hb) < 60
    assert ta.best["epoch"] == tb.best["epoch"]
    assert _max_diff(a, b) < PARITY_ATOL  # both restored the best epoch's weights
    # the restored weights are also in the torch module
    np.testing.assert_array_equal(
        tb.module.state_dict()["0.weight"].numpy(), b.state_dict()["0.weight"]
    )


def test_resume_is_exact_and_crosses_engines():
    X, y = _problem(n=120)
    spec = mlp_spec([6, 10, 3], "tanh", dtype="float64")
    opt = {"name": "adam", "lr": 0.01}
    # straight: 3 epochs on torch
    straight = Network(spec, rng=0)
    TorchTrainer(
        straight, opt, config=TrainConfig(epochs=3, batch_size=32), rng=4, device="cpu"
    ).fit(X, y)
    # torch 1 epoch → checkpoint → a new torch trainer continues
    m1 = Network(spec, rng=0)
    t1 = TorchTrainer(m1, opt, config=TrainConfig(epochs=1, batch_size=32), rng=4, device="cpu")
    t1.fit(X, y)
    sd = t1.state_dict()
    assert sd["engine"] == "torch" and sd["optimizer"]["t"] == t1.step == 4
    m2 = Network(spec, rng=99)
    t2 = TorchTrainer(m2, opt, config=TrainConfig(epochs=3, batch_size=32), rng=0, device="cpu")
    t2.load_state_dict(sd)
    t2.fit(X, y)
    assert _max_diff(straight, m2) == 0.0
    assert len(t2.history) == 3
    # NumPy 1 epoch → checkpoint → torch continues; equals 3 epochs on NumPy
    ref = Network(spec, rng=0)
    Trainer(ref, opt, config=TrainConfig(epochs=3, batch_size=32), rng=4).fit(X, y)
    m3 = Network(spec, rng=0)
    tn = Trainer(m3, opt, config=TrainConfig(epochs=1, batch_size=32), rng=4)
    tn.fit(X, y)
    m4 = Network(spec, rng=0)
    t4 = TorchTrainer(m4, opt, config=TrainConfig(epochs=3, batch_size=32), rng=0, device="cpu")
    t4.load_state_dict(tn.state_dict())
    t4.fit(X, y)
    assert _max_diff(ref, m4) < PARITY_ATOL


def test_dropout_runs_on_torch_generator_reproducibly():
    X, y = _problem(n=100)
    spec = mlp_spec([6, 16, 3], "relu", dropout=0.5, dtype="float32")
    runs = []
    for seed in (5, 5, 6):
        m = Network(spec, rng=0)
        torch_fit(m, X, y, optimizer="sgd", lr=0.1, epochs=2, batch_size=25, rng=seed, device="cpu")
        runs.append(m.state_dict()["0.weight"])
    np.testing.assert_array_equal(runs[0], runs[1])  # same seed → same masks
    assert not np.array_equal(runs[0], runs[2])  # another seed → other masks
    # the global torch generator is not used: its state is unchanged by training
    before = torch.random.get_rng_state()
    torch_fit(Network(spec, rng=0), X, y, epochs=1, rng=1, device="cpu")
    assert torch.equal(before, torch.random.get_rng_state())


def test_callbacks_see_torch_gradients_and_can_stop():
    X, y = _problem(n=80)
    seen = []

    class Watch(Callback):
        def on_batch_end(self, trainer, loss):
            seen.append(float(trainer.module[0].weight.grad.abs().sum()))

        def on_epoch_end(self, trainer):
            # weights were synced into the mlplab model at the epoch end
            np.testing.assert_array_equal(
                trainer.model.state_dict()["0.weight"],
                trainer.module.state_dict()["0.weight"].numpy(),
            )
            if trainer.epoch == 2:
                trainer.stop = True

    m = Network.from_sizes([6, 8, 3], "tanh", rng=0)
    h = torch_fit(m, X, y, epochs=10, batch_size=40, callbacks=[Watch()], device="cpu")
    assert len(h) == 2 and len(seen) == 4 and all(s > 0 for s in seen)


def test_divergence_restores_last_good_weights():
    X, y = _problem(head="identity_mse", n=64, k=1)
    y = y * 1e30
    m = Network.from_sizes([6, 8, 1], "relu", head="identity_mse", rng=0, dtype="float32")
    t = TorchTrainer(
        m, {"name": "sgd", "lr": 1.0}, config=TrainConfig(epochs=5, batch_size=16), device="cpu"
    )
    h = t.fit(X, y)
    assert t.stop_reason == "divergence"
    assert h.last()["diverged"] is True
    assert all(np.all(np.isfinite(v)) for v in m.state_dict().values())


def test_bad_options_are_config_errors():
    m64 = Network.from_sizes([3, 4, 2], dtype="float64")
    with pytest.raises(ConfigError, match="bf16"):
        TorchTrainer(m64, precision="bf16", device="cpu")
    with pytest.raises(ConfigError, match="precision"):
        TorchTrainer(Network.from_sizes([3, 4, 2]), precision="fp16", device="cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            resolve_device("cuda")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="step"):
        TorchTrainer(Network.from_sizes([3, 4, 2], "step"), device="cpu")
    with pytest.raises(ConfigError, match="torch_fit"):
        torch_fit(Network.from_sizes([3, 4, 2]), np.zeros((4, 3)), np.zeros(4), epoch=3)


def test_bf16_trains_in_float32_weights():
    X, y = _problem(n=256)
    m = Network.from_sizes([6, 32, 3], "relu", rng=0)
    t = TorchTrainer(
        m,
        {"name": "adam", "lr": 0.01},
        config=TrainConfig(epochs=3, batch_size=64),
        precision="bf16",
        device="cpu",
    )
    h = t.fit(X, y)
    assert all(p.dtype == torch.float32 for p in t.module.parameters())
    assert m.dtype == np.float32
    assert h["train_loss"][-1] < h["train_loss"][0]


def _mnist():
    from mlplab.data import load_mnist

    d = load_mnist()
    X = d.train_images.reshape(-1, 784).astype(np.float32) / 255.0
    Xt = d.test_images.reshape(-1, 784).astype(np.float32) / 255.0
    return X, d.train_labels, Xt, d.test_labels


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_mnist_three_epochs_on_torch(precision):
    """784-256-256-10 ReLU, Adam 1e-3, batch 128, 3 epochs: ≥ 97.5 % test accuracy."""
    X, y, Xt, yt = _mnist()
    m = Network.from_sizes([784, 256, 256, 10], "relu", rng=0)
    h = torch_fit(
        m,
        X,
        y,
        optimizer="adam",
        lr=1e-3,
        epochs=3,
        batch_size=128,
        rng=0,
        device="cpu",
        precision=precision,
    )
    assert len(h) == 3
    acc = float(np.mean(m.predict(Xt) == yt))  # evaluated by the NumPy engine
    assert acc >= 0.975, acc


# ------------------------------------------------ `mlplab train --backend torch`
class _StopAfter(Callback):
    """Simulates Ctrl-C right after epoch ``n`` ended (and was checkpointed)."""

    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, trainer):
        if trainer.epoch == self.n:
            raise KeyboardInterrupt


def test_run_on_torch_resumes_bit_exact_and_matches_numpy(tmp_path):
    from mlplab import runs

    hard = dict(  # dropout (torch generator), batch norm, adamw, l1/l2, max-norm, schedule
        dataset="moons",
        hidden=[16, 16],
        dropout=0.2,
        norm="batch",
        optimizer="adamw",
        l1=1e-4,
        l2=1e-4,
        max_norm=3.0,
        schedule="warmup_cosine",
        epochs=5,
        batch_size=50,
        seed=1,
        backend="torch",
        device="cpu",
    )
    cfg = runs.RunConfig(**hard).resolved()
    full = runs.prepare_run(cfg, tmp_path / "full")
    assert isinstance(full.trainer, TorchTrainer)
    runs.execute_run(full)
    cut = runs.prepare_run(cfg, tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        runs.execute_run(cut, [_StopAfter(2)])
    cut = runs.resume_run(cut.dir.path)
    assert cut.resumed_from == 2 and isinstance(cut.trainer, TorchTrainer)
    runs.execute_run(cut)
    assert _max_diff(full.model, cut.model) == 0.0
    assert _max_diff(full.model, load_network(cut.dir.model_path)) == 0.0
    # without dropout, in float64, the torch run ends where the NumPy run ends
    plain = {**hard, "dropout": 0.0, "dtype": "float64"}
    t = runs.prepare_run(runs.RunConfig(**plain).resolved(), tmp_path / "t")
    runs.execute_run(t)
    numpy_cfg = {**plain, "backend": "numpy", "device": "auto"}
    n = runs.prepare_run(runs.RunConfig(**numpy_cfg).resolved(), tmp_path / "n")
    runs.execute_run(n)
    assert _max_diff(t.model, n.model) < PARITY_ATOL
    with pytest.raises(ConfigError, match="backend torch"):
        runs.RunConfig(**{**plain, "backend": "numpy", "precision": "bf16"}).resolved()
    with pytest.raises(ConfigError, match="float32"):
        runs.RunConfig(**{**plain, "precision": "bf16"}).resolved()


# --------------------------------------------------------------------------- one loop, two steps
def test_batch_widening_for_batchnorm_is_the_same_rule_on_both_engines():
    # 7 rows, batch 2: widened to 4 (batches 4 + 3) on both, never a batch of one row
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 3)), rng.integers(0, 2, size=7)
    spec = mlp_spec([3, 4, 2], "relu", norm="batch", dtype="float64")
    a, b = Network(spec, rng=0), Network(spec, rng=0)
    ha = fit(a, X, y, optimizer="sgd", lr=0.1, epochs=2, batch_size=2, rng=3)
    hb = torch_fit(b, X, y, optimizer="sgd", lr=0.1, epochs=2, batch_size=2, rng=3, device="cpu")
    np.testing.assert_allclose(hb["train_loss"], ha["train_loss"], rtol=1e-12)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k], v, rtol=1e-10, atol=1e-12)


def test_a_non_finite_update_is_never_kept_on_torch():
    class PoisonStep(Callback):
        """Keeps the epoch's starting weights; at step 5 puts an inf into a gradient."""

        def on_epoch_begin(self, trainer):
            self.state = trainer.model.state_dict()

        def on_batch_end(self, trainer, loss):
            if trainer.step == 4:
                trainer.module[0].weight.grad[0, 0] = float("inf")

    X, y = _problem(n=64)
    m = Network.from_sizes([6, 8, 3], "relu", rng=0)
    watch = PoisonStep()
    t = TorchTrainer(
        m,
        {"name": "sgd", "lr": 0.1},
        config=TrainConfig(epochs=3, batch_size=16),
        rng=0,
        callbacks=[watch],
        device="cpu",
    )
    h = t.fit(X, y)
    rec = h.last()
    assert rec["diverged"] and rec["cause"] == "parameters" and rec["step"] == 5
    assert t.step == 4 and rec["restored_epoch"] == 1
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, watch.state[k])


def test_sample_weights_train_alike_on_both_engines():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    w = rng.uniform(0, 2, size=40)
    spec = mlp_spec([3, 6, 3], "tanh", dtype="float64")
    a, b = Network(spec, rng=0), Network(spec, rng=0)
    ha = fit(a, X, y, sample_weight=w, optimizer="adam", epochs=3, batch_size=16, rng=1)
    hb = torch_fit(
        b, X, y, sample_weight=w, optimizer="adam", epochs=3, batch_size=16, rng=1, device="cpu"
    )
    np.testing.assert_allclose(hb["train_loss"], ha["train_loss"], rtol=1e-10)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k], v, rtol=1e-8, atol=1e-10)
