"""NumPy's own BLAS, called with α and β: ``C ← α·op(A)·op(B) + β·C`` in place.

``np.matmul`` has no α or β, so an update such as ``W ← W − η δᵀH`` costs a product into a
gradient array and then passes over that array and W.  The GEMM routine under NumPy can do it
in one call, writing W directly.  SciPy's ``scipy.linalg.blas`` offers that call, but the
usual wheels bundle a *second* OpenBLAS with its own thread pool: on two cores its busy-waiting
threads and NumPy's fight, and a step through it measured 10-12x slower than through NumPy's
(BENCHMARKS.md, issue 18).  This module therefore finds the library NumPy itself loaded — the
``scipy-openblas`` that NumPy's wheels ship in ``numpy.libs`` (Linux, Windows) or
``numpy/.dylibs`` (macOS) — and calls its CBLAS ``gemm``/``gemv`` through :mod:`ctypes`: the
same code and the same thread pool as ``np.matmul``.

Where that library cannot be found or named with certainty (NumPy built against MKL,
Accelerate or a system BLAS, an unknown integer width), :func:`blas_issue` says why and the
callers (the fused SGD step) run their unfused kernels instead.  Nothing here guesses: a
symbol whose integer width is not known from NumPy's build configuration is not used.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

__all__ = [
    "Axpy",
    "GemmTN",
    "GemvT",
    "blas_issue",
    "gemm_tn_update",
    "gemv_t_update",
    "library_path",
]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _numpy_blas_config() -> dict:
    """The ``blas`` entry of NumPy's build configuration (empty when not available)."""
    try:
        cfg = np.show_config(mode="dicts")
    except Exception:  # noqa: BLE001 - older or unusual builds: treat as unknown
        return {}
    return (cfg.get("Build Dependencies") or {}).get("blas") or {}


def library_path() -> str | None:
    """Path of the OpenBLAS library bundled with NumPy, or None."""
    root = os.path.dirname(np.__file__)
    patterns = [
        os.path.join(root, os.pardir, "numpy.libs", "*openblas*"),  # Linux (auditwheel)
        os.path.join(root, ".dylibs", "*openblas*"),  # macOS (delocate)
        os.path.join(root, os.pardir, "numpy.libs", "*openblas*.dll"),  # Windows
    ]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return os.path.normpath(found[0])
    return None


_SIGNATURES = {
    # order, transA, transB, M, N, K, α, A, lda, B, ldb, β, C, ldc
    "gemm": ("enum", "enum", "enum", "int", "int", "int", "real", "ptr", "int", "ptr", "int",
             "real", "ptr", "int"),
    # order, trans, M, N, α, A, lda, x, incx, β, y, incy
    "gemv": ("enum", "enum", "int", "int", "real", "ptr", "int", "ptr", "int", "real", "ptr",
             "int"),
    # n, α, x, incx, y, incy
    "axpy": ("int", "real", "ptr", "int", "ptr", "int"),
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def _routines() -> tuple[dict, str | None]:
    """``({"sgemm": fn, "dgemm": fn, "sgemv": …, "saxpy": …}, None)`` bound through ctypes,
    or ``({}, reason)`` when NumPy's BLAS cannot be called."""
    cfg = _numpy_blas_config()
    name = str(cfg.get("name", ""))
    if "openblas" not in name:
        return {}, f"NumPy's BLAS is {name or 'unknown'}, not its bundled OpenBLAS"
    path = library_path()
    if path is None:
        return {}, "NumPy's bundled OpenBLAS library file was not found"
    ilp64 = "USE64BITINT" in str(cfg.get("openblas configuration", ""))
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        return {}, f"cannot load {path}: {exc}"
    # symbol names of the scipy-openblas wheels: ILP64 builds carry the "64_" suffix
    prefix, suffix = ("scipy_cblas_", "64_") if ilp64 else ("scipy_cblas_", "")
    integer = ctypes.c_int64 if ilp64 else ctypes.c_int32
    bound = {}
    for kind, signature in _SIGNATURES.items():
        for letter, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            symbol = f"{prefix}{letter}{kind}{suffix}"
            fn = getattr(lib, symbol, None)
            if fn is None:
                return {}, f"{path} has no {symbol}"
            types = {"enum": ctypes.c_int, "int": integer, "real": real, "ptr": ctypes.c_void_p}
            fn.argtypes = [types[t] for t in signature]
            fn.restype = None
            bound[letter + kind] = fn
    return bound, None


def blas_issue() -> str | None:
    """None when the plans below (:class:`GemmTN`, :class:`GemvT`, :class:`Axpy`) can run;
    else why not."""
    return _routines()[1]


def _routine(kind: str, dtype) -> object:
    """The bound BLAS routine ``kind`` ("gemm", "gemv", "axpy") for ``dtype``."""
    bound, why = _routines()
    if why is not None:
        raise RuntimeError(why)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"{kind} dtypes: {dtype} is not float32 or float64")
    return bound[("s" if dtype == np.float32 else "d") + kind]


def _rows(a: np.ndarray, what: str) -> int:
    """The row stride of a 2-D array in elements (its leading dimension); rows must be
    unit-stride and the array aligned for its dtype."""
    if a.ndim != 2 or a.strides[1] != a.itemsize or a.strides[0] % a.itemsize:
        raise ValueError(f"{what}: needs a 2-D array with contiguous rows")
    ld = a.strides[0] // a.itemsize
    if ld < max(1, a.shape[1]) or not a.flags.aligned:
        raise ValueError(f"{what}: row stride {ld} is smaller than its width {a.shape[1]}")
    return ld


class GemmTN:
    """``C ← C + α·AᵀB`` in place for three fixed arrays: C (m, n), A (k, m), B (k, n), one
    dtype (float32/64) — checked, and their addresses taken, once; each call is then one BLAS
    call (β = 1).  For ``W ← W − η δᵀH``: ``GemmTN(W, δ, H)(−η)``.

    The plan keeps the three arrays alive, so the addresses it holds stay valid; callers that
    reuse buffers check :meth:`uses` and build a new plan when an array was replaced.
    """

    __slots__ = ("arrays", "_fn", "_head", "_tail", "_out")

    def __init__(self, C: np.ndarray, A: np.ndarray, B: np.ndarray):
        k, m = A.shape
        if B.shape[0] != k or C.shape != (m, B.shape[1]) or not (A.dtype == B.dtype == C.dtype):
            raise ValueError(f"gemm shapes/dtypes: C {C.shape}, A {A.shape}, B {B.shape}")
        fn = _routine("gemm", C.dtype)
        if not C.flags.writeable:
            raise ValueError("gemm: C is read-only")
        lda, ldb, ldc = _rows(A, "A"), _rows(B, "B"), _rows(C, "C")
        self.arrays = (C, A, B)
        self._fn = fn
        self._head = (_ROW_MAJOR, _TRANS, _NO_TRANS, m, C.shape[1], k)
        self._tail = (A.ctypes.data, lda, B.ctypes.data, ldb)
        self._out = (C.ctypes.data, ldc)

    def uses(self, C, A, B) -> bool:
        """Whether this plan was made for these very arrays."""
        a = self.arrays
        return a[0] is C and a[1] is A and a[2] is B

    def __call__(self, alpha: float, beta: float = 1.0) -> None:
        """``C ← β·C + α·AᵀB`` (β = 0 overwrites C, NaN in it included)."""
        self._fn(*self._head, alpha, *self._tail, beta, *self._out)


class GemvT:
    """``y ← y + α·Aᵀx`` in place for three fixed arrays: y (m,), A (k, m), x (k,), one
    dtype — checked once, then one BLAS call (β = 1) per call.  For ``b ← b − η Σ_n δ``:
    ``GemvT(b, δ, ones)(−η)``.  Keeps the arrays alive, as :class:`GemmTN`."""

    __slots__ = ("arrays", "_fn", "_head", "_tail", "_out")

    def __init__(self, y: np.ndarray, A: np.ndarray, x: np.ndarray):
        k, m = A.shape
        if x.shape != (k,) or y.shape != (m,) or not (A.dtype == x.dtype == y.dtype):
            raise ValueError(f"gemv shapes/dtypes: y {y.shape}, A {A.shape}, x {x.shape}")
        fn = _routine("gemv", y.dtype)
        if not y.flags.writeable:
            raise ValueError("gemv: y is read-only")
        incx, incy = x.strides[0] // x.itemsize, y.strides[0] // y.itemsize
        if min(incx, incy) <= 0 or x.strides[0] % x.itemsize or y.strides[0] % y.itemsize:
            raise ValueError("gemv: x and y need positive element strides")
        self.arrays = (y, A, x)
        self._fn = fn
        self._head = (_ROW_MAJOR, _TRANS, k, m)
        self._tail = (A.ctypes.data, _rows(A, "A"), x.ctypes.data, incx)
        self._out = (y.ctypes.data, incy)

    def uses(self, y, A, x=None) -> bool:
        """Whether this plan was made for these very arrays (``x`` None: any x)."""
        a = self.arrays
        return a[0] is y and a[1] is A and (x is None or a[2] is x)

    def __call__(self, alpha: float, beta: float = 1.0) -> None:
        """``y ← β·y + α·Aᵀx``."""
        self._fn(*self._head, alpha, *self._tail, beta, *self._out)


class Axpy:
    """``y ← y + α·x`` in place for two fixed C-contiguous arrays of one shape and dtype
    (float32/64), as one flat BLAS ``axpy``: one pass over y, where NumPy needs two
    (``α·x`` into a scratch array, then the addition).  Keeps both arrays alive."""

    __slots__ = ("arrays", "_fn", "_n", "_x", "_y")

    def __init__(self, y: np.ndarray, x: np.ndarray):
        if x.shape != y.shape or x.dtype != y.dtype:
            raise ValueError(f"axpy shapes/dtypes: y {y.shape} {y.dtype}, x {x.shape} {x.dtype}")
        fn = _routine("axpy", y.dtype)
        if not (x.flags.c_contiguous and y.flags.c_contiguous):
            raise ValueError("axpy: x and y must be C-contiguous")
        if not y.flags.writeable:
            raise ValueError("axpy: y is read-only")
        self.arrays = (y, x)
        self._fn, self._n = fn, y.size
        self._x, self._y = x.ctypes.data, y.ctypes.data

    def uses(self, y, x) -> bool:
        """Whether this plan was made for these very arrays."""
        return self.arrays[0] is y and self.arrays[1] is x

    def __call__(self, alpha: float) -> None:
        self._fn(self._n, alpha, self._x, 1, self._y, 1)


def gemm_tn_update(C: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float) -> None:
    """``C ← C + α·AᵀB`` in place, once (see :class:`GemmTN`)."""
    GemmTN(C, A, B)(alpha)


def gemv_t_update(y: np.ndarray, A: np.ndarray, x: np.ndarray, alpha: float) -> None:
    """``y ← y + α·Aᵀx`` in place, once (see :class:`GemvT`)."""
    GemvT(y, A, x)(alpha)
