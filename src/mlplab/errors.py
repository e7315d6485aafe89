"""Typed exceptions raised by mlplab for user mistakes.

Every exception names the field at fault and, where one exists, the valid range, so the
command line can print it as one line and exit with status 2.  Programming errors inside
mlplab are not wrapped: they keep their ordinary Python types and tracebacks.
"""

from __future__ import annotations

__all__ = [
    "MlplabError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "TrainingError",
    "OutputError",
    "check_range",
    "check_choice",
]


class MlplabError(Exception):
    """Base class of every error mlplab raises for bad input."""


class ConfigError(MlplabError, ValueError):
    """A hyperparameter, spec field or option is outside its valid range."""


class DataError(MlplabError, ValueError):
    """A data set, file or label array is malformed (shape, range, type, checksum)."""


class CheckpointError(MlplabError):
    """A model file or checkpoint is missing, corrupt, or belongs to another spec."""


class TrainingError(MlplabError):
    """Training cannot proceed as asked (e.g. gradient training through a step unit)."""


class OutputError(MlplabError, OSError):
    """A file cannot be written (a folder in its place, a full disk, no permission).

    Also an :class:`OSError`, so code that catches those keeps working; the message names the
    path and the cause, and nothing half-written is left behind (see :mod:`mlplab.io`).
    """


def check_range(
    field: str,
    value,
    lo=None,
    hi=None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    allow_inf: bool = False,
    error: type[MlplabError] = ConfigError,
):
    """Return ``value`` if it lies in the interval, else raise ``error`` naming ``field``.

    The interval is ``[lo, hi]``; ``lo_open``/``hi_open`` make either end open and ``None``
    leaves it unbounded.  With ``integer=True`` the value must also be an integer.  NaN is
    always rejected, and ±inf unless ``allow_inf=True``.
    """
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    span = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    kind = "an integer" if integer else "a number"
    try:
        if isinstance(value, bool):
            raise TypeError
        num = float(value)
    except (TypeError, ValueError):
        raise error(f"{field} must be {kind} in {span}, got {_short(value)}") from None
    except OverflowError:  # an int too large for a float: beyond any range we check
        raise error(f"{field} must be {kind} in {span}, got {_short(value)}") from None
    bad = num != num or (not allow_inf and num in (float("inf"), float("-inf")))
    if not bad and integer and num not in (float("inf"), float("-inf")) and num != int(num):
        bad = True
    if lo is not None:
        bad |= num <= lo if lo_open else num < lo
    if hi is not None:
        bad |= num >= hi if hi_open else num > hi
    if bad:
        raise error(f"{field} must be {kind} in {span}, got {_short(value)}")
    return int(num) if integer else value


def _short(value, limit: int = 40) -> str:
    """``repr(value)``, shortened in the middle when longer than ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python will print
        return f"an integer too large to show ({type(value).__name__})"
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}…{text[-limit // 2 :]} ({len(text)} characters)"


def check_choice(field: str, value, choices, *, error: type[MlplabError] = ConfigError):
    """Return ``value`` if it is one of ``choices``, else raise naming ``field`` and the choices."""
    choices = list(choices)
    if value not in choices:
        raise error(f"{field} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value
