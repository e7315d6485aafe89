"""Optimizers step for step against torch.optim (float64), schedules against torch's schedulers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from mlplab.core.gradcheck import rel_err
from mlplab.core.optim import SCHEDULES, SGD, Adam, AdamW, Schedule, make_optimizer, make_schedule
from mlplab.errors import ConfigError

STEPS = 10
TOL = 1e-12


def grad_of(p: np.ndarray) -> np.ndarray:
    """A gradient that depends on the parameter (so errors would compound): ∇ of a
    quadratic bowl plus a ripple, g = 0.8 (p − 0.3) + 0.2 sin 3p."""
    return 0.8 * (p - 0.3) + 0.2 * np.sin(3.0 * p)


def initial_params():
    rng = np.random.default_rng(0)
    return {"a.weight": rng.normal(size=(4, 3)), "a.bias": rng.normal(size=4)}


def run_mlplab(opt, lrs=None):
    params = initial_params()
    for t in range(STEPS):
        if lrs is not None:
            opt.lr = lrs[t]
        grads = {k: grad_of(v) for k, v in params.items()}
        opt.step(params, grads)
    return params


def run_torch(make, lrs=None):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in initial_params().items()}
    opt = make(list(tensors.values()))
    for t in range(STEPS):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        for p in tensors.values():
            p.grad = torch.as_tensor(grad_of(p.detach().numpy()))
        opt.step()
    return {k: v.detach().numpy() for k, v in tensors.items()}


CASES = [
    ("sgd", lambda: SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        "momentum",
        lambda: SGD(lr=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    (
        "nesterov",
        lambda: SGD(lr=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    (
        "sgd+wd",
        lambda: SGD(lr=0.1, weight_decay=0.05),
        lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05),
    ),
    (
        "nesterov+wd",
        lambda: SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    ("adam", lambda: Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (
        "adam-betas",
        lambda: Adam(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6),
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    ),
    (
        "adam+wd",
        lambda: Adam(lr=0.01, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
    ),
    ("adamw", lambda: AdamW(lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    (
        "adamw+wd",
        lambda: AdamW(lr=0.02, beta1=0.85, weight_decay=0.3),
        lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.85, 0.999), weight_decay=0.3),
    ),
]


@pytest.mark.parametrize("name, make_ours, make_torch", CASES, ids=[c[0] for c in CASES])
def test_ten_steps_equal_torch(name, make_ours, make_torch):
    ours, theirs = run_mlplab(make_ours()), run_torch(make_torch)
    start = initial_params()
    for k in ours:
        assert rel_err(ours[k], theirs[k]) <= TOL, k
        assert not np.allclose(ours[k], start[k])  # the steps did move the weights


@pytest.mark.parametrize(
    "name, make_ours, make_torch", CASES[1:6:2], ids=[c[0] for c in CASES[1:6:2]]
)
def test_changing_learning_rate_equals_torch(name, make_ours, make_torch):
    lrs = [0.02 * (1 + math.cos(math.pi * t / STEPS)) + 1e-3 for t in range(STEPS)]
    ours, theirs = run_mlplab(make_ours(), lrs), run_torch(make_torch, lrs)
    for k in ours:
        assert rel_err(ours[k], theirs[k]) <= TOL, k


def test_float32_parameters_stay_float32():
    for opt in (SGD(lr=0.1, momentum=0.9), Adam(), AdamW()):
        p = {"w": np.ones(3, np.float32)}
        opt.step(p, {"w": np.full(3, 0.5, np.float32)})
        assert p["w"].dtype == np.float32 and np.all(p["w"] < 1)


def test_state_dict_resume_is_bitwise():
    straight = Adam(lr=0.01, weight_decay=0.01)
    params = initial_params()
    for _ in range(STEPS):
        straight.step(params, {k: grad_of(v) for k, v in params.items()})

    first = Adam(lr=0.01, weight_decay=0.01)
    resumed_params = initial_params()
    for _ in range(4):
        first.step(resumed_params, {k: grad_of(v) for k, v in resumed_params.items()})
    second = Adam(lr=0.01, weight_decay=0.01)
    second.load_state_dict(first.state_dict())
    for _ in range(STEPS - 4):
        second.step(resumed_params, {k: grad_of(v) for k, v in resumed_params.items()})
    assert second.t == STEPS
    for k in params:
        np.testing.assert_array_equal(resumed_params[k], params[k])


def test_state_dict_is_a_copy():
    opt = SGD(lr=0.1, momentum=0.9)
    p = {"w": np.ones(2)}
    opt.step(p, {"w": np.ones(2)})
    sd = opt.state_dict()
    opt.step(p, {"w": np.ones(2)})
    assert sd["state"]["w"]["momentum_buffer"].tolist() == [1.0, 1.0]
    assert sd["spec"] == {
        "name": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 0.0,
    }


def test_make_optimizer():
    opt = make_optimizer("momentum")
    assert isinstance(opt, SGD) and opt.momentum == 0.9 and not opt.nesterov
    opt = make_optimizer({"name": "nesterov", "lr": 0.2})
    assert opt.nesterov and opt.lr == 0.2
    assert isinstance(make_optimizer("ADAMW"), AdamW)
    assert make_optimizer(opt) is opt
    assert "lr=0.2" in repr(opt)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "sgd", "lr": 0.0},
        {"name": "sgd", "lr": -0.1},
        {"name": "sgd", "lr": float("nan")},
        {"name": "sgd", "lr": "fast"},
        {"name": "adam", "lr": float("inf")},
        {"name": "sgd", "momentum": 1.0},
        {"name": "sgd", "momentum": -0.1},
        {"name": "sgd", "nesterov": True},  # Nesterov needs momentum
        {"name": "sgd", "weight_decay": -1e-4},
        {"name": "adam", "beta1": 1.0},
        {"name": "adam", "beta1": -0.1},
        {"name": "adamw", "beta2": 1.0},
        {"name": "adam", "beta2": 1.5},
        {"name": "adam", "eps": 0.0},
        {"name": "adamw", "weight_decay": -0.01},
        {"name": "rmsprop"},
        {"name": "sgd", "betas": (0.9, 0.99)},
        {"lr": 0.1},
        42,
    ],
)
def test_bad_optimizer_arguments_raise_config_error(spec):
    with pytest.raises(ConfigError):
        make_optimizer(spec)


# --------------------------------------------------------------------------- schedules
T = 40
BASE = 0.1


def torch_lrs(make_sched, steps=T) -> list[float]:
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=BASE)
    sched = make_sched(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def ours(schedule: Schedule, steps=T) -> list[float]:
    return [BASE * schedule(t, steps) for t in range(steps)]


def assert_same(a, b, tol=1e-12):
    assert rel_err(a, b) <= tol, (a, b)


def test_constant_equals_lambdalr():
    assert_same(
        ours(Schedule("constant")), torch_lrs(lambda o: lr_scheduler.LambdaLR(o, lambda t: 1.0))
    )


def test_step_equals_steplr():
    sched = Schedule("step", gamma=0.5, every=0.25)  # ×0.5 every 10 of 40 steps
    want = torch_lrs(lambda o: lr_scheduler.StepLR(o, step_size=10, gamma=0.5))
    assert_same(ours(sched), want)


@pytest.mark.parametrize("min_factor", [0.0, 0.1])
def test_cosine_equals_cosine_annealing(min_factor):
    sched = Schedule("cosine", min_factor=min_factor)
    want = torch_lrs(
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=min_factor * BASE)
    )
    assert_same(ours(sched), want)
    want = torch_lrs(
        lambda o: lr_scheduler.LambdaLR(
            o, lambda t: min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * t / T))
        )
    )
    assert_same(ours(sched), want)


def test_warmup_equals_linear_lr():
    W = 8  # warmup = 0.2 of 40 steps: (t + 1)/W for t < W, then 1
    sched = Schedule("warmup", warmup=W / T)
    want = torch_lrs(
        lambda o: lr_scheduler.LinearLR(o, start_factor=1 / W, end_factor=1.0, total_iters=W - 1)
    )
    assert_same(ours(sched), want)
    assert ours(sched)[0] == pytest.approx(BASE / W) and ours(sched)[W:] == [BASE] * (T - W)


def test_warmup_cosine_equals_linear_then_cosine():
    W = 10
    sched = Schedule("warmup_cosine", warmup=W / T, min_factor=0.05)

    def make(o):
        warm = lr_scheduler.LinearLR(o, start_factor=1 / W, end_factor=1.0, total_iters=W - 1)
        cos = lr_scheduler.CosineAnnealingLR(o, T_max=T - W, eta_min=0.05 * BASE)
        return lr_scheduler.SequentialLR(o, [warm, cos], milestones=[W])

    assert_same(ours(sched), torch_lrs(make))


@pytest.mark.parametrize(
    "steps, pct_start, div, final_div",
    [(40, 0.3, 25.0, 1e4), (100, 0.25, 10.0, 100.0), (7, 0.5, 25.0, 1e4), (50, 0.1, 5.0, 1.0)],
)
def test_onecycle_equals_torch(steps, pct_start, div, final_div):
    sched = Schedule("onecycle", pct_start=pct_start, div_factor=div, final_div_factor=final_div)
    want = torch_lrs(
        lambda o: lr_scheduler.OneCycleLR(
            o,
            max_lr=BASE,
            total_steps=steps,
            pct_start=pct_start,
            div_factor=div,
            final_div_factor=final_div,
            anneal_strategy="cos",
            three_phase=False,
            cycle_momentum=False,
        ),
        steps,
    )
    assert_same(ours(sched, steps), want)


def test_schedule_ranges():
    for name in SCHEDULES:
        sched = make_schedule(name)
        values = [sched(t, 50) for t in range(51)]
        assert all(0 <= v <= 1 for v in values), name
        assert sched.spec()["name"] == name
    # warm-up over 0.05 · 50 = 2.5 steps: rises to 1 without overshooting, then stays there
    warm = [Schedule("warmup")(t, 50) for t in range(50)]
    assert warm[:4] == [0.4, 0.8, 1.0, 1.0] and max(warm) == 1.0
    assert make_schedule(None).name == "constant"
    s = make_schedule({"name": "step", "gamma": 0.5})
    assert make_schedule(s) is s and s.gamma == 0.5


@pytest.mark.parametrize(
    "spec",
    [
        "exponential",
        {"name": "linear_decay"},
        {"name": "step", "gamma": 0.0},
        {"name": "step", "gamma": 1.5},
        {"name": "step", "every": 0.0},
        {"name": "warmup", "warmup": 1.0},
        {"name": "warmup", "warmup": -0.1},
        {"name": "cosine", "min_factor": 2.0},
        {"name": "onecycle", "pct_start": 1.0},
        {"name": "onecycle", "pct_start": 0.0},
        {"name": "onecycle", "div_factor": 0.5},
        {"name": "onecycle", "final_div_factor": 0.0},
        {"name": "cosine", "T_max": 10},
        {"gamma": 0.1},
        3,
    ],
)
def test_bad_schedule_raises_config_error(spec):
    with pytest.raises(ConfigError):
        make_schedule(spec)
