"""The network: the text's two-layer example by hand, random networks vs torch and central
differences, specs, torch parity of names and outputs, batch-norm statistics, save/load."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlplab.backends.torch import to_torch
from mlplab.backends.torch_gradcheck import check_network
from mlplab.core.activations import activation_names
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, rel_err
from mlplab.core.losses import HEADS
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import SGD
from mlplab.errors import CheckpointError, ConfigError, DataError
from mlplab.io import load_network, save_network


# --------------------------------------------------------------------------- by hand
def test_two_layer_example_by_hand():
    """Section 4.2 of the text: 2 inputs → 2 ReLU units → 1 sigmoid output, BCE, batch of one.

    x = (1, 2), W1 = [[0.5, 0.25], [−1, 0.25]], b1 = (0, −0.5), w2 = (0.75, 2), b2 = −0.75, y = 1.

    forward:  z1 = W1 x + b1 = (0.5 + 0.5 + 0, −1 + 0.5 − 0.5) = (1, −1)
              h1 = ReLU(z1) = (1, 0)
              z2 = w2·h1 + b2 = 0.75 + 0 − 0.75 = 0
              ŷ = σ(0) = 0.5,  L = −log 0.5 = ln 2
    backward: δ2 = ŷ − y = −0.5
              dw2 = δ2 h1 = (−0.5, 0),  db2 = −0.5
              δ1 = (w2 δ2) ⊙ 1[z1 > 0] = (−0.375, −1) ⊙ (1, 0) = (−0.375, 0)
              dW1 = δ1 xᵀ = [[−0.375, −0.75], [0, 0]],  db1 = (−0.375, 0)
    """
    net = Network(mlp_spec([2, 2, 1], "relu", head="sigmoid_bce", dtype="float64"))
    net.load_state_dict(
        {
            "0.weight": [[0.5, 0.25], [-1.0, 0.25]],
            "0.bias": [0.0, -0.5],
            "2.weight": [[0.75, 2.0]],
            "2.bias": [-0.75],
        }
    )
    x, y = np.array([[1.0, 2.0]]), np.array([1.0])
    loss = net.loss_and_grad(x, y)
    hidden, out = net.trace()

    assert hidden["dense"] == 0 and hidden["activation"] == "relu"
    assert hidden["z"].tolist() == [[1.0, -1.0]]
    assert hidden["h"].tolist() == [[1.0, 0.0]]
    assert out["activation"] == "sigmoid"
    assert out["z"].tolist() == [[0.0]]
    assert out["h"].tolist() == [[0.5]]
    assert loss == pytest.approx(0.6931471805599453, rel=1e-15)  # ln 2

    assert out["delta"].tolist() == [[-0.5]]
    assert hidden["delta"].tolist() == [[-0.375, 0.0]]
    g = net.named_gradients()
    assert g["2.weight"].tolist() == [[-0.5, 0.0]]
    assert g["2.bias"].tolist() == [-0.5]
    assert g["0.weight"].tolist() == [[-0.375, -0.75], [0.0, 0.0]]
    assert g["0.bias"].tolist() == [-0.375, 0.0]

    # one SGD step with η = 0.5 (exact in binary): W ← W − η ∂L/∂W
    SGD(lr=0.5).step(net.named_parameters(), net.named_gradients())
    p = net.named_parameters()
    assert p["0.weight"].tolist() == [[0.6875, 0.625], [-1.0, 0.25]]
    assert p["0.bias"].tolist() == [0.1875, -0.5]
    assert p["2.weight"].tolist() == [[1.0, 2.0]]
    assert p["2.bias"].tolist() == [-0.5]


# --------------------------------------------------------------------------- random networks
ACTS = activation_names(differentiable_only=True)
ACT_SPECS = st.one_of(
    st.sampled_from(ACTS),
    st.builds(lambda a: {"name": "leaky_relu", "alpha": a}, st.sampled_from([0.05, 0.3])),
    st.builds(lambda a: {"name": "elu", "alpha": a}, st.sampled_from([0.5, 2.0])),
    st.builds(lambda a: {"name": "prelu", "alpha": a}, st.sampled_from([0.0, 0.1])),
)


@st.composite
def random_networks(draw):
    depth = draw(st.integers(0, 3))
    head = draw(st.sampled_from(list(HEADS)))
    k = 1 if head == "sigmoid_bce" else draw(st.integers(2, 4))
    spec = mlp_spec(
        [
            draw(st.integers(1, 5)),
            *draw(st.lists(st.integers(1, 7), min_size=depth, max_size=depth)),
            k,
        ],
        activations=draw(st.lists(ACT_SPECS, min_size=depth, max_size=depth)),
        head=head,
        norm=draw(st.sampled_from(["none", "batch", "layer"])),
        dropout=draw(st.sampled_from([0.0, 0.2, 0.5])),
        input_dropout=draw(st.sampled_from([0.0, 0.1])),
        init=draw(st.sampled_from(["auto", "xavier_normal", "he_uniform"])),
        dtype="float64",
    )
    n = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    return spec, n, seed


def random_labels(head: str, rng, n: int, k: int):
    if head == "softmax_ce":
        return rng.integers(0, k, size=n)
    if head in ("sigmoid_bce", "multilabel_bce"):
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if head == "exp_poisson":
        return rng.poisson(1.5, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


# Found by Hypothesis in CI: a layer norm over a single feature outputs β whatever its input,
# so both rows give the same prediction, the MAE signs cancel and every true gradient is 0.
_ALL_ZERO_GRADIENTS = (
    {
        "format": "mlplab.spec/1",
        "input_dim": 2,
        "dtype": "float64",
        "layers": [
            {"type": "dense", "units": 1, "init": "auto", "std": 1.0, "bias_init": 0.0},
            {"type": "layernorm"},
            {"type": "activation", "activation": {"name": "identity"}},
            {"type": "dense", "units": 2, "init": "auto", "std": 1.0, "bias_init": 0.0},
        ],
        "head": "identity_mae",
    },
    2,
    1,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
@example(_ALL_ZERO_GRADIENTS)
def test_random_networks_match_torch_and_central_differences(case):
    spec, n, seed = case
    rng = np.random.default_rng(seed)
    net = Network(spec, rng=rng)
    # Biases start at 0, so a dropped input would put a pre-activation exactly on a kink
    # (z = b = 0), where central differences average two one-sided slopes.  Move them off it.
    for name, p in net.named_parameters().items():
        if name.endswith("bias"):
            p[...] = rng.normal(0.0, 0.5, size=p.shape)
    X = rng.normal(size=(n, spec["input_dim"]))
    y = random_labels(spec["head"], rng, n, net.output_dim)
    res = check_network(net, X, y, rng=rng)
    assert res["max_rel_err_torch"] <= TOL_TORCH, res["per_param"]
    if res["max_abs_grad"] < 1e-9:
        # Every true gradient is 0 (e.g. batch norm over two rows fixes its output at ±1 and
        # the MAE signs cancel): a relative error would compare noise with noise.  Then central
        # differences must be noise-sized too.
        assert res["max_abs_err_fd"] <= 1e-8, res
    else:
        assert res["max_rel_err_fd"] <= TOL_FD, res["per_param"]


# --------------------------------------------------------------------------- spec and torch parity
def test_spec_layout_and_torch_names():
    spec = mlp_spec([4, 8, 6, 3], "tanh", norm="batch", dropout=0.1, input_dropout=0.2)
    kinds = [layer["type"] for layer in spec["layers"]]
    assert kinds == [
        "dropout",
        *["dense", "batchnorm", "activation", "dropout"] * 2,
        "dense",
    ]
    assert json.loads(json.dumps(spec)) == spec
    net = Network(spec, rng=1)
    module = to_torch(net)
    state = {**net.named_parameters(), **net.named_buffers()}
    assert set(state) == set(module.state_dict())
    assert net.n_parameters == sum(p.numel() for p in module.parameters())
    assert Network(net.spec, rng=1).spec == net.spec


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 1e-5)])
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_eval_forward_matches_torch(dtype, tol, norm):
    net = Network.from_sizes([6, 10, 9, 4], "gelu", norm=norm, dropout=0.3, dtype=dtype, rng=2)
    X = np.random.default_rng(3).normal(size=(11, 6))
    module = to_torch(net).eval()
    with torch.no_grad():
        z_t = module(torch.as_tensor(X, dtype=module[0].weight.dtype)).double().numpy()
    z = net.forward(X)
    assert z.dtype == np.dtype(dtype)
    assert rel_err(z, z_t) <= tol


def test_batchnorm_running_stats_in_a_network_match_torch():
    """Training-mode passes update the running statistics exactly as torch's BatchNorm1d."""
    net = Network.from_sizes([5, 8, 3], "relu", norm="batch", dtype="float64", rng=4)
    module = to_torch(net).train()
    rng = np.random.default_rng(5)
    for _ in range(6):
        X = rng.normal(1.0, 3.0, size=(int(rng.integers(2, 12)), 5))
        net.forward(X, training=True, rng=rng)
        with torch.no_grad():
            module(torch.as_tensor(X))
    for k, v in module.state_dict().items():
        assert rel_err(net.state_dict()[k], v.numpy()) <= 1e-13, k
    module.eval()
    X = rng.normal(size=(7, 5))
    with torch.no_grad():
        assert rel_err(net.forward(X), module(torch.as_tensor(X)).numpy()) <= 1e-13


def test_trace_shapes_and_outputs():
    net = Network.from_sizes([3, 5, 4, 2], "tanh", head="softmax", dtype="float64", rng=0)
    X = np.random.default_rng(1).normal(size=(6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    net.loss_and_grad(X, y)
    blocks = net.trace()
    assert [b["dense"] for b in blocks] == [0, 2, 4]
    assert [b["z"].shape for b in blocks] == [(6, 5), (6, 4), (6, 2)]
    assert all(b["delta"].shape == b["z"].shape for b in blocks)
    np.testing.assert_array_equal(blocks[0]["h"], np.tanh(blocks[0]["z"]))
    np.testing.assert_allclose(blocks[-1]["h"].sum(axis=1), 1.0)
    # δ of a hidden block = (δ above · W) ⊙ φ′(z)  (the text's equation 2)
    W = net.named_parameters()["4.weight"]
    want = (blocks[2]["delta"] @ W) * (1 - np.tanh(blocks[1]["z"]) ** 2)
    np.testing.assert_allclose(blocks[1]["delta"], want, rtol=1e-13)
    assert [len(net.z), len(net.h), len(net.delta)] == [3, 3, 3]


def test_predictions_and_loss():
    net = Network.from_sizes([2, 4, 1], "relu", head="binary", dtype="float64", rng=0)
    X = np.random.default_rng(1).normal(size=(5, 2))
    z = net.forward(X)[:, 0]
    assert net.predict(X).tolist() == (z >= 0).astype(int).tolist()
    proba = net.predict_proba(X)
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    y = np.array([0, 1, 1, 0, 1])
    assert net.loss(X, y) == pytest.approx(
        np.mean(np.logaddexp(0, z) - y * z), rel=1e-12
    )  # BCE from logits
    reg = Network.from_sizes([2, 3, 2], "relu", head="mse", rng=0)
    with pytest.raises(ConfigError, match="classifier"):
        reg.predict_proba(X)
    assert Network.from_sizes([1, 3, 1], "relu", head="mse").forward(np.ones(4)).shape == (4, 1)


def test_copy_is_independent():
    net = Network.from_sizes([2, 3, 2], "relu", rng=0)
    other = net.copy()
    other.named_parameters()["0.weight"][...] = 0
    assert net.named_parameters()["0.weight"].any()


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_weights():
    a = Network.from_sizes([5, 7, 3], "relu", rng=42).state_dict()
    b = Network.from_sizes([5, 7, 3], "relu", rng=np.random.default_rng(42)).state_dict()
    c = Network.from_sizes([5, 7, 3], "relu", rng=43).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


# --------------------------------------------------------------------------- save / load
def _trained_like(dtype="float32"):
    net = Network.from_sizes([4, 6, 5, 3], "elu", norm="batch", dropout=0.2, dtype=dtype, rng=7)
    rng = np.random.default_rng(8)
    for _ in range(3):  # move the running statistics away from their initial values
        net.forward(rng.normal(size=(10, 4)), training=True, rng=rng)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_is_bitwise(tmp_path, dtype):
    net = _trained_like(dtype)
    path = tmp_path / "model.npz"
    save_network(net, path)
    assert os.listdir(tmp_path) == ["model.npz"]  # the temporary file was renamed away
    back = load_network(path)
    assert back.spec == net.spec
    for k, v in net.state_dict().items():
        assert back.state_dict()[k].dtype == v.dtype
        np.testing.assert_array_equal(back.state_dict()[k], v)
    X = np.random.default_rng(9).normal(size=(13, 4))
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    assert load_network(path, spec=net.spec).spec == net.spec


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    net = _trained_like()
    path = tmp_path / "model.npz"
    save_network(net, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_network(Network.from_sizes([4, 3, 3], "relu", rng=1), path)
    assert os.listdir(tmp_path) == ["model.npz"]
    assert path.read_bytes() == before  # the old file is intact


def test_truncated_file_raises_checkpoint_error(tmp_path):
    data = _trained_like().to_bytes()
    path = tmp_path / "model.npz"
    for cut in (0, 1, 30, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="model.npz"):
            load_network(path)


def test_every_corrupted_byte_is_caught_or_harmless():
    """Flip each byte: the load either fails with CheckpointError or gives the same model
    (a flip in a field the zip reader ignores, such as a timestamp).  Never another error."""
    net = Network.from_sizes([2, 2, 1], "relu", head="binary", rng=0)
    data = net.to_bytes()
    X = np.array([[0.5, -1.0], [2.0, 0.25]])
    ref = net.forward(X)
    caught = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        try:
            back = Network.from_bytes(bytes(bad))
        except CheckpointError:
            caught += 1
            continue
        assert back.spec == net.spec
        np.testing.assert_array_equal(back.forward(X), ref)
    assert caught > len(data) // 2


def test_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_network(tmp_path / "missing.npz")
    with pytest.raises(CheckpointError, match="folder"):
        load_network(tmp_path)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError):
        load_network(tmp_path / "text.npz")


def test_load_with_a_different_spec_raises(tmp_path):
    net = Network.from_sizes([4, 6, 3], "relu", rng=0)
    path = tmp_path / "m.npz"
    save_network(net, path)
    for other in (
        mlp_spec([4, 7, 3], "relu"),
        mlp_spec([4, 6, 3], "tanh"),
        mlp_spec([4, 6, 3], "relu", dtype="float64"),
        mlp_spec([4, 6, 3], "relu", head="multilabel"),
    ):
        with pytest.raises(CheckpointError, match="different spec"):
            load_network(path, spec=other)


def test_load_state_dict_mismatch_raises():
    net = Network.from_sizes([4, 6, 3], "relu", rng=0)
    state = net.state_dict()
    with pytest.raises(CheckpointError, match="missing"):
        net.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    with pytest.raises(CheckpointError, match="unexpected"):
        net.load_state_dict({**state, "9.weight": np.zeros(2)})
    with pytest.raises(CheckpointError, match="shape"):
        net.load_state_dict({**state, "0.weight": np.zeros((3, 4))})


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "sizes, kwargs",
    [
        ([3], {}),
        ([], {}),
        ([3, 0, 2], {}),
        ([3, -1, 2], {}),
        ([3, 2.5, 2], {}),
        ([3, "4", 2], {"activation": "relu", "norm": "group"}),
        ([3, 4, 2], {"norm": "group"}),
        ([3, 4, 2], {"dtype": "float16"}),
        ([3, 4, 2], {"activation": "relux"}),
        ([3, 4, 2], {"activations": ["relu", "tanh"]}),
        ([3, 4, 2], {"head": "hinge"}),
        ([3, 4, 2], {"init": "orthogonal"}),
        ([3, 4, 2], {"dropout": 1.0}),
        ([3, 4, 2], {"dropout": -0.5}),
        ([3, 4, 2], {"input_dropout": 1.2}),
        ([3, 4, 2], {"init_std": -1.0}),
    ],
)
def test_bad_spec_arguments_raise_config_error(sizes, kwargs):
    with pytest.raises(ConfigError):
        Network(mlp_spec(sizes, **kwargs))


@pytest.mark.parametrize(
    "change",
    [
        {"dtype": "int8"},
        {"input_dim": 0},
        {"layers": []},
        {"layers": [{"type": "activation", "activation": "relu"}]},
        {"head": "nope"},
    ],
)
def test_bad_spec_dict_raises_config_error(change):
    spec = {**mlp_spec([3, 4, 2]), **change}
    with pytest.raises(ConfigError):
        Network(spec)
    with pytest.raises(ConfigError, match="missing"):
        Network({"layers": []})
    with pytest.raises(ConfigError):
        Network([1, 2])


def test_bad_inputs_raise_data_error():
    net = Network.from_sizes([3, 4, 2], "relu", rng=0)
    with pytest.raises(DataError, match=r"\(n, 3\)"):
        net.forward(np.ones((5, 4)))
    with pytest.raises(DataError):
        net.forward(np.ones(3))
    with pytest.raises(DataError):
        net.loss_and_grad(np.ones((2, 3)), np.array([0, 5]))


def test_backward_needs_forward_and_gradients():
    net = Network.from_sizes([3, 4, 2], "step", rng=0)
    assert not net.trainable
    net.forward(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="step"):
        net.backward(np.array([0, 1]))
    with pytest.raises(ConfigError, match="forward"):
        Network.from_sizes([3, 2], "relu").backward(np.array([0, 1]))


def test_repr_lists_layers_and_head():
    text = repr(Network.from_sizes([3, 4, 2], "relu", norm="layer"))
    assert "LayerNorm" in text and "softmax" in text and "parameters=34" in text
    assert math.isfinite(Network.from_sizes([3, 2], "relu").n_parameters)


def test_weighted_network_gradients_match_torch_and_central_differences():
    rng = np.random.default_rng(21)
    model = Network(mlp_spec([4, 6, 3], "tanh", head="softmax", dtype="float64"), rng=0)
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, size=9)
    w = rng.uniform(0.0, 2.0, size=9)
    loss = model.loss_and_grad(X, y, sample_weight=w)
    grads = {k: v.copy() for k, v in model.named_gradients().items()}
    module = to_torch(model)
    lt = (
        torch.sum(
            torch.as_tensor(w)
            * torch.nn.functional.cross_entropy(
                module(torch.as_tensor(X)), torch.as_tensor(y), reduction="none"
            )
        )
        / w.sum()
    )
    lt.backward()
    assert abs(loss - lt.item()) <= TOL_TORCH * abs(lt.item())
    for k, p in module.named_parameters():
        assert rel_err(grads[k], p.grad.numpy()) <= TOL_TORCH
    eps = 1e-6
    for k, p in model.named_parameters().items():
        flat = p.reshape(-1)
        for j in range(0, flat.size, 5):
            old = flat[j]
            flat[j] = old + eps
            lp = model.head.loss(model.forward(X), y, w)
            flat[j] = old - eps
            lm = model.head.loss(model.forward(X), y, w)
            flat[j] = old
            num = (lp - lm) / (2 * eps)
            assert abs(grads[k].reshape(-1)[j] - num) <= TOL_FD * max(1.0, abs(num))
    with pytest.raises(DataError, match="sample_weight"):
        model.loss_and_grad(X, y, sample_weight=-w)
