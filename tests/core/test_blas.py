"""NumPy's own BLAS with α and β (mlplab.core.blas): the in-place updates equal NumPy's
products within rounding, on strided views too, and refuse what they cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.core import blas

pytestmark = pytest.mark.skipif(
    blas.blas_issue() is not None, reason=f"NumPy's BLAS is not callable here: {blas.blas_issue()}"
)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_gemm_and_gemv_updates_equal_numpy(dtype, tol):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((33, 65)).astype(dtype)
    D = rng.standard_normal((17, 33)).astype(dtype)
    H = rng.standard_normal((17, 65)).astype(dtype)
    b = rng.standard_normal(33).astype(dtype)
    W_ref, b_ref = W - dtype(0.25) * (D.T @ H), b - dtype(0.25) * D.sum(axis=0)
    blas.gemm_tn_update(W, D, H, -0.25)
    blas.gemv_t_update(b, D, np.ones(17, dtype), -0.25)
    np.testing.assert_allclose(W, W_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(b, b_ref, rtol=tol, atol=tol)


def test_updates_write_only_their_view_of_a_wider_array():
    """Row-strided views (a leading dimension larger than the width) are handled in place."""
    rng = np.random.default_rng(1)
    big = rng.standard_normal((6, 11)).astype(np.float32)
    before = big.copy()
    W = big[:, :8]  # row stride 11
    D = rng.standard_normal((4, 6)).astype(np.float32)
    H = rng.standard_normal((4, 8)).astype(np.float32)
    expected = before[:, :8] + 0.5 * (D.T @ H)
    blas.gemm_tn_update(W, D, H, 0.5)
    np.testing.assert_allclose(big[:, :8], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(big[:, 8:], before[:, 8:])  # the rest untouched
    col = big[:, 9]  # element stride 11
    blas.gemv_t_update(col, D, np.ones(4, np.float32), 1.0)
    np.testing.assert_allclose(col, before[:, 9] + D.sum(axis=0), rtol=1e-5, atol=1e-6)


def test_bad_shapes_dtypes_and_layouts_are_refused():
    W = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm_tn_update(W, np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32), 1.0)
    with pytest.raises(ValueError, match="dtypes"):
        blas.gemm_tn_update(W, np.zeros((2, 3)), np.zeros((2, 4), np.float32), 1.0)
    with pytest.raises(ValueError, match="contiguous rows"):
        blas.gemm_tn_update(W, np.zeros((2, 3), np.float32), np.zeros((4, 2), np.float32).T, 1.0)
    ro = np.zeros((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        blas.gemm_tn_update(ro, np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32), 1.0)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemv_t_update(np.zeros(3, np.float32), W, np.zeros(3, np.float32), 1.0)


def test_the_library_is_the_one_numpy_loaded():
    """The bound library is NumPy's bundled OpenBLAS file (not SciPy's second copy)."""
    path = blas.library_path()
    assert path is not None and "openblas" in path.lower()
    assert "scipy.libs" not in path
