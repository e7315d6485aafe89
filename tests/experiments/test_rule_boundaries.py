"""The remaining ledger rules fed numbers exactly on each of their thresholds.

Each test builds the smallest measurements dict a claim's ``judge`` reads and checks the
verdict its ``rule`` text promises on the boundary ('at most' / '≤' include it, 'below' /
'more than' exclude it) and, where it helps, just either side.  The other claims' rules
are tested this way next to their experiments (tests/experiments/test_*.py).
"""

from __future__ import annotations

import pytest

from mlplab.experiments import get
from mlplab.experiments.base import stat

EPS = 1e-9  # "just either side" for thresholds of order 1


# looked up once at import: the first lookup loads the experiment modules (seconds), which
# would otherwise be charged to whichever test ran first
CLAIMS = "C01 C02 C04 C05 C06 C07 C10 C13 C14 C16 C18 C20 C22 C23".split()
EXP = {cid: get(cid) for cid in CLAIMS}


def _v(cid, m):
    return EXP[cid].judge(m).verdict


# --- C01: no run makes more mistakes than (R/γ)² ---------------------------------------


def _c01(mistakes, bound, mm=None, converged=True):
    run = {
        "mistakes": mistakes,
        "mistakes_shuffled": mistakes,
        "bound": bound,
        "bound_max_margin": mm,
        "converged": converged,
        "converged_shuffled": True,
    }
    return {"runs": [run], "mistakes_over_bound": stat([mistakes / bound]), "n_points": 20}


@pytest.mark.parametrize(
    ("mistakes", "bound", "mm", "converged", "verdict"),
    [
        (12, 12.0, None, True, "holds"),  # exactly (R/γ)² mistakes is not 'more than'
        (12, 11.999, None, True, "fails"),
        (12, 40.0, 12.0, True, "holds"),  # on the max-margin bound too
        (12, 40.0, 11.999, True, "fails"),
        (0, 12.0, None, False, "fails"),  # not converged within the cap
    ],
)
def test_c01_boundaries(mistakes, bound, mm, converged, verdict):
    assert "more mistakes than (R/γ)²" in EXP["C01"].rule
    assert _v("C01", _c01(mistakes, bound, mm, converged)) == verdict


# --- C02: no mistake-free epoch (0 mistakes), a cycle proves it -------------------------


def _c02(fixed_min=1, shuffled_conv=0, shuffled_min=1, cycle=True, lp=False):
    fixed = {
        "converged": fixed_min == 0,
        "min_mistakes_per_epoch": fixed_min,
        "cycle_detected": cycle,
        "cycle_length": 4,
        "cycle_start": 1,
        "epochs": 100,
    }
    return {
        "fixed_order": fixed,
        "lp_separable": lp,
        "shuffled_runs": 8,
        "shuffled_converged": shuffled_conv,
        "shuffled_min_mistakes_per_epoch": shuffled_min,
        "pocket_accuracy": stat([0.75]),
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "holds"),  # one mistake in the best epoch is not mistake-free
        ({"cycle": False}, "partly"),
        ({"fixed_min": 0}, "fails"),  # a mistake-free epoch
        ({"shuffled_conv": 1, "shuffled_min": 0}, "fails"),
        ({"lp": True}, "fails"),
    ],
)
def test_c02_boundaries(kw, verdict):
    assert _v("C02", _c02(**kw)) == verdict


# --- C04: deviation ≤ 1e-10; best linear 0.75; no trained net better than 0.75 ---------


def _c04(dev=0.0, best=0.75, acc=0.75):
    return {
        "relative_deviation": {"1": stat([dev]), "3": stat([0.0])},
        "best_linear_accuracy": best,
        "trained_identity_nets": {"1": {"accuracy": stat([acc]), "loss": stat([0.69])}},
        "separable_labellings": 14,
        "log2": 0.6931,
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({"dev": 1e-10}, "holds"),  # ≤ 1e-10 includes it
        ({"dev": 1.0001e-10}, "partly"),
        ({"acc": 0.75}, "holds"),  # 'better than 0.75' excludes 0.75
        ({"acc": 0.76}, "partly"),
        ({"best": 0.76}, "partly"),
        ({"best": 0.75 + 5e-13}, "holds"),  # 0.75 to rounding (|Δ| < 1e-12)
        ({"best": 0.75 + 2e-12}, "partly"),
        ({"dev": 2e-10, "acc": 1.0}, "fails"),  # one of three
    ],
)
def test_c04_boundaries(kw, verdict):
    assert EXP["C04"].TOL == 1e-10
    assert _v("C04", _c04(**kw)) == verdict


# --- C05: dev ≤ 1e-10 for the heads, the MAE control more than 0.01 --------------------

C05_HEADS = ("sigmoid_bce", "softmax_ce", "identity_mse", "exp_poisson", "multilabel_bce")


def _c05(devs=None, control=0.5):
    devs = devs or {}
    heads = {h: {"engine": stat([devs.get(h, 0.0)]), "torch": stat([0.0])} for h in C05_HEADS}
    heads["identity_mae"] = {"engine": stat([control]), "torch": stat([control])}
    return {"heads": heads}


@pytest.mark.parametrize(
    ("devs", "control", "verdict"),
    [
        ({"sigmoid_bce": 1e-10, "softmax_ce": 1e-10, "identity_mse": 1e-10}, 0.5, "holds"),
        ({"identity_mse": 1.0001e-10}, 0.5, "partly"),
        ({}, 0.01, "partly"),  # the control must deviate by MORE than 0.01
        ({}, 0.0101, "holds"),
        ({"softmax_ce": 1.0001e-10}, 0.5, "fails"),
    ],
)
def test_c05_boundaries(devs, control, verdict):
    assert EXP["C05"].TOL == 1e-10
    assert _v("C05", _c05(devs, control)) == verdict


# --- C06: e_t ≤ 1e-7 and e_fd ≤ 1e-5 holds; e_t ≤ 1e-4 partly --------------------------


def _c06(e_t, e_fd):
    return {
        "suite": {"max_rel_err_torch": stat([e_t]), "max_rel_err_fd": stat([e_fd]), "cases": 3},
        "grid": {
            "max_rel_err_torch": stat([0.0]),
            "networks_checked": 1,
            "activations": ["relu"],
            "heads": ["softmax_ce"],
            "layer_types": ["dense"],
        },
    }


@pytest.mark.parametrize(
    ("e_t", "e_fd", "verdict"),
    [
        (1e-7, 1e-5, "holds"),
        (1.0001e-7, 0.0, "partly"),
        (0.0, 1.0001e-5, "partly"),
        (1e-4, 1.0, "partly"),
        (1.0001e-4, 0.0, "fails"),
    ],
)
def test_c06_boundaries(e_t, e_fd, verdict):
    assert "e_t ≤ 1e-07 and e_fd ≤ 1e-05" in EXP["C06"].rule
    assert _v("C06", _c06(e_t, e_fd)) == verdict


# --- C07: σ′, tanh′ ≤ 0.25 (+1e-12); ReLU′ ∈ {0, 1}; GELU error ≤ 1e-3 ------------------


def _c07(sig=0.25, tanh=0.25, relu=(0.0, 1.0), gelu=1e-3):
    return {
        "sigmoid": {"max_derivative": sig, "argmax_z": 0.0},
        "tanh": {"max_derivative": tanh, "argmax_z": 0.0},
        "relu": {"derivative_values": list(relu)},
        "gelu_tanh": {"max_abs_error": gelu, "at_z": 2.0},
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "holds"),  # every quantity exactly on its cap
        ({"sig": 0.25 + 1e-12}, "holds"),  # the stated slack
        ({"sig": 0.25 + 1e-11}, "partly"),
        ({"gelu": 1.0001e-3}, "partly"),
        ({"relu": (0.0, 0.5, 1.0)}, "partly"),
        ({"sig": 0.3, "tanh": 1.0}, "partly"),  # two of four
        ({"sig": 0.3, "tanh": 1.0, "gelu": 0.01}, "fails"),  # at most one
    ],
)
def test_c07_boundaries(kw, verdict):
    exp = EXP["C07"]
    assert (exp.CAP, exp.GELU_TOL) == (0.25, 1e-3)
    assert _v("C07", _c07(**kw)) == verdict


# --- C10: 0.125 ≤ r ≤ 0.5 holds; r < 0.8 at both times partly ---------------------------


def _c10(r0, r1):
    return {
        "factor_init": stat([r0]),
        "factor_trained": stat([r1]),
        "depth": 8,
        "mean_sigmoid_derivative": [0.2, 0.2],
        "probe_loss_init": stat([2.3]),
        "probe_loss_trained": stat([1.0]),
    }


@pytest.mark.parametrize(
    ("r0", "r1", "verdict"),
    [
        (0.125, 0.5, "holds"),
        (0.125 - EPS, 0.25, "partly"),
        (0.25, 0.5 + EPS, "partly"),
        (0.8 - EPS, 0.25, "partly"),
        (0.8, 0.25, "fails"),  # r ≥ 0.8 fails
        (0.25, 0.8, "fails"),
    ],
)
def test_c10_boundaries(r0, r1, verdict):
    exp = EXP["C10"]
    assert (exp.LO, exp.HI, exp.SHRINK) == (0.125, 0.5, 0.8)
    assert _v("C10", _c10(r0, r1)) == verdict


# --- C13: deep ≤ ¼ of shallow (construction), ≤ ½ (trained), target rel. MSE ≤ 0.05 -----


def _c13(deep_p=25, shallow_need=100, deep_mse=0.05, trained=((50, 0.05), (100, 0.05))):
    (dp, de), (sp, se) = trained
    return {
        "construction": [
            {
                "k": 4,
                "deep_params": deep_p,
                "shallow_params_needed": shallow_need,
                "deep_rel_mse": deep_mse,
            },
        ],
        "trained": [
            {"family": "deep", "params": dp, "rel_mse": stat([de])},
            {"family": "shallow", "params": sp, "rel_mse": stat([se])},
        ],
        "train_k": 4,
        "steps": 100,
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "holds"),  # exactly a quarter, exactly half, errors exactly on the target
        ({"deep_p": 26}, "partly"),
        ({"deep_mse": 0.05 + EPS}, "partly"),
        ({"trained": ((51, 0.05), (100, 0.05))}, "partly"),
        ({"trained": ((50, 0.05 + EPS), (100, 0.05))}, "partly"),
        # shallow never reaches the target: counts as needing more than its largest net
        ({"trained": ((50, 0.05), (100, 0.05 + EPS))}, "holds"),
        ({"deep_p": 26, "trained": ((51, 0.05), (100, 0.05))}, "fails"),
    ],
)
def test_c13_boundaries(kw, verdict):
    exp = EXP["C13"]
    assert (exp.TARGET, exp.DEEP_FACTOR, exp.TRAIN_FACTOR) == (0.05, 0.25, 0.5)
    assert _v("C13", _c13(**kw)) == verdict


# --- C14: relative difference ≤ 1e-12, exactly 0 for z < 0; factor in [0.8, 1.25] ------


def _c14(pos=1e-12, neg=0.0, relu=0.8):
    return {
        "factor": {"relu": stat([relu]), "sigmoid": stat([0.3]), "tanh": stat([0.95])},
        "relu_positive_max_rel_dev": stat([pos]),
        "relu_negative_max_abs_delta": stat([neg]),
        "depth": 10,
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "holds"),
        ({"relu": 1.25}, "holds"),
        ({"relu": 0.8 - EPS}, "partly"),
        ({"relu": 1.25 + EPS}, "partly"),
        ({"pos": 1.0001e-12}, "fails"),
        ({"neg": 1e-300}, "fails"),  # 'is 0 where z < 0'
    ],
)
def test_c14_boundaries(kw, verdict):
    assert _v("C14", _c14(**kw)) == verdict


# --- C16: train ≥ 99 %, test ≥ 10 points lower; val ≥ 1.2 × min before the last quarter;
#          train loss final below its value at the validation minimum --------------------


def _c16(tr=0.99, te=0.89, vmin=0.5, vend=0.6, at=75.0, tl_end=0.01, tl_at=0.02):
    return {
        "train_accuracy": stat([tr]),
        "test_accuracy": stat([te]),
        "val_loss_min": stat([vmin]),
        "val_loss_final": stat([vend]),
        "val_loss_min_epoch": stat([at]),
        "epochs": 100,
        "train_loss_final": stat([tl_end]),
        "train_loss_at_val_min": stat([tl_at]),
        "n_train": 1000,
        "parameters": 10000,
        "gap_points": stat([100 * (tr - te)]),
    }


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "holds"),  # every quantity on its boundary
        ({"tr": 1.0, "te": 0.9}, "holds"),
        ({"tr": 0.99 - EPS, "te": 0.5}, "partly"),
        ({"te": 0.89 + EPS}, "partly"),
        ({"vend": 0.6 - EPS}, "partly"),
        ({"at": 75.0 + EPS}, "partly"),
        ({"tl_end": 0.02}, "partly"),  # 'below': equal is not falling
        ({"tl_end": 0.02, "vend": 0.5}, "fails"),  # one of three
    ],
)
def test_c16_boundaries(kw, verdict):
    assert EXP["C16"].RISE == 1.2
    assert _v("C16", _c16(**kw)) == verdict


# --- C18: exponential outside [0.5, 2]; steady within [2/3, 3/2]; starts below 0.9 × H ---


def _c18(bad=(1.0, 1.0, 0.0), good=(1.0, 1.0, 0.0), H=2.0):
    def run(h, d, loss):
        return {"h_factor": stat([h]), "delta_factor": stat([d]), "final_loss": stat([loss])}

    runs = {}
    for key in ("tanh/normal", "relu/normal"):
        runs[key] = run(*bad)
    for key in ("tanh/xavier_uniform", "relu/he_normal"):
        runs[key] = run(*good)
    return {"runs": runs, "prior_entropy": H, "depth": 10}


@pytest.mark.parametrize(
    ("bad", "good", "verdict"),
    [
        ((2.0 + EPS, 1.0, 0.0), (1.5, 2 / 3, 1.8 - EPS), "holds"),
        ((0.5 - EPS, 1.0, 0.0), (2 / 3, 1.5, 0.0), "holds"),
        ((1.0, 1.0, 1.8), (1.0, 1.0, 0.0), "holds"),  # exactly 0.9 × H does not start
        ((2.0, 0.5, 0.0), (1.0, 1.0, 0.0), "partly"),  # on [0.5, 2]: not exponential, starts
        ((1.0, 1.0, 1.8 - EPS), (1.0, 1.0, 0.0), "partly"),
        ((1.0, 1.0, 1.8), (1.5 + EPS, 1.0, 0.0), "partly"),
        ((1.0, 1.0, 0.0), (2 / 3 - EPS, 1.0, 0.0), "fails"),
        ((1.0, 1.0, 0.0), (1.0, 1.0, 1.8), "fails"),
        ((1.0, 1.0, 0.0), (1.0, 1.0, float("nan")), "fails"),  # a non-finite loss
    ],
)
def test_c18_boundaries(bad, good, verdict):
    assert _v("C18", _c18(bad, good)) == verdict


# --- C20: share of images within 5 %: 100 % holds, at least 90 % partly -----------------


def _c20(shares):
    rules = {
        f"rule{i}": {
            "8": {"share_within_tol": 0.5, "median": 0.1, "relative_error": stat([0.2])},
            "64": {"share_within_tol": s, "median": 0.01, "relative_error": stat([0.05])},
        }
        for i, s in enumerate(shares)
    }
    models = {"relu": {"rules": rules, "test_accuracy": stat([0.9, 0.9])}}
    return {"models": models, "images_per_seed": 100, "data": "MNIST"}


@pytest.mark.parametrize(
    ("shares", "verdict"),
    [
        ((1.0, 1.0), "holds"),
        ((1.0, 0.99), "partly"),
        ((0.9, 1.0), "partly"),  # at least 90 % includes it
        ((0.9 - EPS, 1.0), "fails"),
    ],
)
def test_c20_boundaries(shares, verdict):
    assert EXP["C20"].TOL == 0.05
    assert _v("C20", _c20(shares)) == verdict


@pytest.mark.parametrize(
    ("errors", "share", "verdict"),
    [
        ([0.0, 0.05], 1.0, "holds"),  # exactly 5 % counts as within
        ([0.0, 0.05 + EPS], 0.5, "fails"),  # just over does not
        ([0.01] * 9 + [0.05 + EPS], 0.9, "partly"),
    ],
)
def test_c20_per_image_tolerance_through_combine(errors, share, verdict):
    """The per-image 5 % test is applied when the cells are combined: two cells (seeds) of
    per-image relative errors, merged; the share within tolerance and the verdict follow."""
    half = len(errors) // 2

    def cell(errs):
        entry = {"relative_error": stat(errs), "median": 0.0, "share_within_tol": 0.0}
        rules = {"riemann_trapezoid": {"300": entry}}
        return {"models": {"relu": {"rules": rules, "test_accuracy": stat([0.9])}},
                "images_per_seed": len(errs), "data": "digits"}  # fmt: skip

    merged = EXP["C20"].combine({}, [0, 1], [cell(errors[:half]), cell(errors[half:])])
    entry = merged["models"]["relu"]["rules"]["riemann_trapezoid"]["300"]
    assert entry["share_within_tol"] == pytest.approx(share)
    assert _v("C20", merged) == verdict


# --- C22: worst relative coefficient difference ≤ 1e-6 holds, ≤ 1e-3 partly ------------


def _c22(w):
    return {
        "cases": {"no_penalty": {"a": stat([w])}, "l2_separable": {"a": stat([0.0])}},
        "separable_growth": [
            {"norm_no_penalty": 1.0, "norm_l2": 1.0, "epochs": 10},
            {"norm_no_penalty": 5.0, "norm_l2": 1.0, "epochs": 100},
        ],
        "C": 1.0,
        "n": 100,
    }


@pytest.mark.parametrize(
    ("w", "verdict"),
    [(1e-6, "holds"), (1.0001e-6, "partly"), (1e-3, "partly"), (1.0001e-3, "fails")],
)
def test_c22_boundaries(w, verdict):
    assert _v("C22", _c22(w)) == verdict


# --- C23: FFN share within [0.60, 0.72] with embeddings (holds) or without (partly) -----


def _c23(total, non_emb):
    return {
        f"model{i}": {
            "ffn_share_total": t,
            "ffn_share_non_embedding": n,
            "total": 1000,
            "ffn": round(1000 * t),
        }
        for i, (t, n) in enumerate(zip(total, non_emb))
    }


@pytest.mark.parametrize(
    ("total", "non_emb", "verdict"),
    [
        ((0.6, 0.72), (0.6, 0.72), "holds"),
        ((0.6 - EPS, 0.7), (0.6, 0.72), "partly"),
        ((0.72 + EPS, 0.7), (0.72, 0.6), "partly"),
        ((0.5, 0.7), (0.6 - EPS, 0.7), "fails"),
        ((0.5, 0.7), (0.7, 0.72 + EPS), "fails"),
    ],
)
def test_c23_boundaries(total, non_emb, verdict):
    exp = EXP["C23"]
    assert (exp.LO, exp.HI) == (0.6, 0.72)
    assert _v("C23", _c23(total, non_emb)) == verdict


def test_an_experiment_defining_neither_measure_nor_cells_is_refused_when_defined():
    from mlplab.experiments.base import Experiment

    with pytest.raises(TypeError, match="neither measure nor measure_cell"):

        class Empty(Experiment):
            id = "C99"
