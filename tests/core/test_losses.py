"""Heads: loss and δ_out against torch and central differences, canonical δ = ŷ − y, labels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mlplab.backends.torch import head_loss, head_output
from mlplab.core.gradcheck import TOL_FD, TOL_TORCH, check_head, rel_err
from mlplab.core.losses import (
    HEADS,
    check_sample_weight,
    get_head,
    head_for_task,
    head_names,
)
from mlplab.errors import ConfigError, DataError

N, K = 6, 3


def labels(name: str, rng, n=N, k=K):
    if name == "sigmoid_bce":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    if name == "multilabel_bce":
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if name == "softmax_ce":
        return rng.integers(0, k, size=n)
    if name == "exp_poisson":
        return rng.poisson(2.0, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


def n_out(name: str) -> int:
    return 1 if name == "sigmoid_bce" else K


@pytest.mark.parametrize("name", list(HEADS))
def test_loss_and_delta_match_torch_and_central_differences(name):
    res = check_head(name, rng=np.random.default_rng(3))
    assert res["max_rel_err_torch"] <= TOL_TORCH
    assert res["max_rel_err_fd"] <= TOL_FD


@pytest.mark.parametrize("name", list(HEADS))
def test_output_matches_torch(name):
    z = np.random.default_rng(4).normal(0, 3, size=(N, n_out(name)))
    out_t = head_output(name, torch.as_tensor(z)).numpy()
    assert rel_err(get_head(name).output(z), out_t) <= 1e-15


@pytest.mark.parametrize("name", ["sigmoid_bce", "multilabel_bce", "identity_mse", "exp_poisson"])
def test_canonical_delta_is_yhat_minus_y_over_n(name):
    head = get_head(name)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(N, n_out(name)))
    y = head.validate(labels(name, rng), n_out(name))
    assert head.canonical
    np.testing.assert_allclose(head.delta(z, y), (head.output(z) - y) / N, rtol=1e-14)


def test_softmax_delta_is_probabilities_minus_one_hot():
    head = get_head("softmax_ce")
    rng = np.random.default_rng(6)
    z = rng.normal(size=(N, K))
    y = rng.integers(0, K, size=N)
    onehot = np.eye(K)[y]
    np.testing.assert_allclose(head.delta(z, y), (head.output(z) - onehot) / N, rtol=1e-14)
    np.testing.assert_allclose(head.output(z).sum(axis=1), 1.0, rtol=1e-15)


def test_mae_delta_is_sign_of_residual():
    head = get_head("identity_mae")
    assert not head.canonical
    z = np.array([[1.0, -2.0], [0.5, 3.0]])
    y = np.array([[0.0, 0.0], [0.5, 4.0]])
    np.testing.assert_array_equal(head.delta(z, y), [[0.5, -0.5], [0.0, -0.5]])
    assert head.loss(z, y) == pytest.approx((1 + 2 + 0 + 1) / 2)


def test_hand_values():
    assert get_head("bce").loss(np.zeros((4, 1)), np.ones((4, 1))) == pytest.approx(math.log(2))
    assert get_head("ce").loss(np.zeros((2, 5)), np.array([0, 3])) == pytest.approx(math.log(5))
    # ½ squared error summed over outputs, mean over samples: ½(1 + 4) / 1
    assert get_head("mse").loss(np.array([[1.0, 2.0]]), np.zeros((1, 2))) == 2.5
    # Poisson: e^z − y z at z = 0, y = 3 → 1
    assert get_head("poisson").loss(np.zeros((1, 1)), np.array([[3.0]])) == 1.0


EXTREME_Z = np.array([1e4, -1e4, 1e3, -1e3, 100.0, -100.0, 30.0, -30.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(HEADS))
def test_extreme_logits_give_finite_loss_and_delta(name, dtype):
    head = get_head(name)
    rng = np.random.default_rng(7)
    big = rng.choice([-1.0, 1.0], size=40) * 10.0 ** rng.uniform(0, 4, size=40)
    col = np.concatenate([EXTREME_Z, big])
    k = n_out(name)
    z = np.stack([np.roll(col, j) for j in range(k)], axis=1).astype(dtype)
    y = head.validate(labels(name, rng, n=len(z)), k, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # underflow (e^(−10⁴) → 0) is the correctly rounded result and stays ignored
        with np.errstate(all="raise", under="ignore"):
            loss = head.loss(z, y)
            delta = head.delta(z, y)
            out = head.output(z)
    assert math.isfinite(loss)
    assert np.all(np.isfinite(delta)) and delta.shape == z.shape
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", ["sigmoid_bce", "multilabel_bce", "softmax_ce"])
def test_extreme_logits_match_torch(name):
    """The logits formulation keeps a confident wrong answer's loss exact (1e4, not inf)."""
    head = get_head(name)
    z = np.array([[1e4, -1e4, 30.0], [-1e3, 0.0, 1e3]])[:, : n_out(name)]
    y = head.validate(labels(name, np.random.default_rng(8), n=2), n_out(name))
    zt = torch.as_tensor(z).requires_grad_(True)
    lt = head_loss(name, zt, torch.as_tensor(y))
    lt.backward()
    assert head.loss(z, y) == pytest.approx(lt.item(), rel=1e-14)
    assert rel_err(head.delta(z, y), zt.grad.numpy()) <= 1e-14


def test_bce_of_confident_mistake_is_the_logit():
    head = get_head("sigmoid_bce")
    assert head.loss(np.array([[-1e4]]), np.array([[1.0]])) == 1e4
    assert head.loss(np.array([[1e4]]), np.array([[1.0]])) == 0.0


# --------------------------------------------------------------------------- labels
@pytest.mark.parametrize(
    "name, y, k",
    [
        ("softmax_ce", np.array([0, 1, 3]), 3),  # class id out of range
        ("softmax_ce", np.array([0, -1, 2]), 3),  # negative id
        ("softmax_ce", np.array([0.0, 1.5, 2.0]), 3),  # not an integer
        ("softmax_ce", np.array([0.0, np.nan, 1.0]), 3),
        ("softmax_ce", np.array([[1, 1, 0], [0, 0, 1]]), 3),  # one-hot with two 1s
        ("softmax_ce", np.array([[1, 0], [0, 1]]), 3),  # one-hot of the wrong width
        ("sigmoid_bce", np.array([0.0, 1.0, 2.0]), 1),  # not binary
        ("sigmoid_bce", np.array([0.0, 0.5]), 1),
        ("sigmoid_bce", np.array([[0.0, 1.0]]), 1),  # two columns for one output
        ("multilabel_bce", np.array([[0.0, 1.0, -1.0]]), 3),
        ("exp_poisson", np.array([1.0, -2.0]), 1),  # negative count
        ("exp_poisson", np.array([1.0, np.nan]), 1),
        ("identity_mse", np.array([1.0, np.inf]), 1),
        ("identity_mse", np.zeros((2, 2, 2)), 2),  # 3-D labels
        ("identity_mse", np.array(["a", "b"]), 1),  # not numeric
        ("identity_mae", np.zeros((4, 2)), 3),  # wrong number of columns
    ],
)
def test_bad_labels_raise_data_error(name, y, k):
    with pytest.raises(DataError):
        get_head(name).validate(y, k)


def test_validate_shapes():
    assert get_head("softmax_ce").validate(np.array([[0, 1], [1, 0]]), 2).tolist() == [1, 0]
    assert get_head("softmax_ce").validate([0.0, 2.0], 3).dtype == np.int64
    assert get_head("mse").validate(np.arange(3.0), 1).shape == (3, 1)
    assert get_head("mse").validate(np.arange(3.0), 1, dtype=np.float32).dtype == np.float32
    assert get_head("softmax_ce").n_outputs(np.array([0, 4, 1])) == 5
    assert get_head("multilabel").n_outputs(np.zeros((3, 7))) == 7


def test_predictions():
    z = np.array([[-0.1], [0.0], [2.0]])
    assert get_head("sigmoid_bce").predict(z).ravel().tolist() == [0, 1, 1]
    assert get_head("softmax_ce").predict(np.array([[0.0, 2.0, 1.0]])).tolist() == [1]
    assert get_head("exp_poisson").predict(np.zeros((1, 1)))[0, 0] == 1.0


def test_registry_and_tasks():
    assert head_names() == list(HEADS)
    for alias, name in [("bce", "sigmoid_bce"), ("softmax", "softmax_ce"), ("mae", "identity_mae")]:
        assert get_head(alias).name == name
    for task in ("binary", "multiclass", "multilabel", "regression", "count"):
        assert get_head(head_for_task(task)).task == task
    with pytest.raises(ConfigError, match="head"):
        get_head("hinge")
    with pytest.raises(ConfigError, match="task"):
        head_for_task("ranking")


# --------------------------------------------------------------------------- sample weights
def weights(rng, n=N):
    w = rng.uniform(0.0, 3.0, size=n)
    w[1] = 0.0  # a row that does not count
    return w


@pytest.mark.parametrize("name", list(HEADS))
def test_weighted_loss_and_delta_match_torch_and_central_differences(name):
    head = get_head(name)
    rng = np.random.default_rng(11)
    z = rng.normal(0, 2, size=(N, n_out(name)))
    y = head.validate(labels(name, rng), n_out(name))
    w = weights(rng)
    loss, delta = head.loss(z, y, w), head.delta(z, y, w)
    eps = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        fd[idx] = (head.loss(zp, y, w) - head.loss(zm, y, w)) / (2 * eps)
    assert rel_err(delta, fd) <= TOL_FD
    zt = torch.as_tensor(z).requires_grad_(True)
    lt = head_loss(name, zt, torch.as_tensor(y), torch.as_tensor(w))
    lt.backward()
    assert abs(loss - lt.item()) <= TOL_TORCH * abs(lt.item())
    assert rel_err(delta, zt.grad.numpy()) <= TOL_TORCH
    assert np.all(delta[1] == 0)  # the zero-weight row gets no gradient


@pytest.mark.parametrize("name", list(HEADS))
def test_weights_are_a_weighted_mean_of_the_rows(name):
    head = get_head(name)
    rng = np.random.default_rng(12)
    z = rng.normal(size=(N, n_out(name)))
    y = head.validate(labels(name, rng), n_out(name))
    ones = np.ones(N)
    assert math.isclose(head.loss(z, y, ones), head.loss(z, y), rel_tol=1e-14)
    np.testing.assert_allclose(head.delta(z, y, ones), head.delta(z, y), rtol=1e-14)
    # integer weights are repeated rows: weight 2 on row 0 = row 0 twice
    w = ones.copy()
    w[0] = 2.0
    rep = np.r_[0, np.arange(N)]
    assert math.isclose(head.loss(z, y, w), head.loss(z[rep], y[rep]), rel_tol=1e-14)
    # all weights 0: nothing counts
    assert head.loss(z, y, np.zeros(N)) == 0.0 and not head.delta(z, y, np.zeros(N)).any()


@pytest.mark.parametrize(
    "w, match",
    [
        (np.ones(N - 1), "shape"),
        (np.r_[np.nan, np.ones(N - 1)], "NaN"),
        (np.r_[-1.0, np.ones(N - 1)], ">= 0"),
        (np.zeros(N), "positive sum"),
        (["a"] * N, "numeric"),
    ],
)
def test_bad_sample_weights_raise_data_error(w, match):
    with pytest.raises(DataError, match=match):
        check_sample_weight(w, N)
