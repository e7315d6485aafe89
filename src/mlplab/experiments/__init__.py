"""The claims ledger: one experiment per claim of the reference text (C01 … C23).

>>> from mlplab.experiments import get
>>> exp = get("C07")
>>> result = exp.judge(exp.measure(exp.settings("tiny"), [0], None))

Every module of this package except the framework's own (``base``, ``runner``) and names
starting with ``_`` is imported by :func:`load_all`, and its ``@register``-ed classes land in
:data:`~mlplab.experiments.base.REGISTRY`.  See :mod:`mlplab.experiments.base` for how to write
one and :mod:`mlplab.experiments.runner` for how they are run, cached and reported.
"""

from __future__ import annotations

import importlib
import pkgutil

from mlplab.errors import ConfigError
from mlplab.experiments.base import PROFILES, REGISTRY, Experiment, Judgement, register, stat

__all__ = [
    "Experiment",
    "Judgement",
    "PROFILES",
    "REGISTRY",
    "register",
    "stat",
    "load_all",
    "get",
    "all_experiments",
    "claim_ids",
    "parse_only",
]

_FRAMEWORK = {"base", "runner"}
_loaded = False


def experiment_modules() -> list[str]:
    """Names of the modules that hold experiments (every non-framework module here)."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _FRAMEWORK
    )


def load_all() -> dict[str, Experiment]:
    """Import every experiment module once; return the registry (claim id → experiment)."""
    global _loaded
    if not _loaded:
        for name in experiment_modules():
            importlib.import_module(f"{__name__}.{name}")
        _loaded = True
    return REGISTRY


def claim_ids() -> list[str]:
    """Registered claim ids in order (C01, C02, …)."""
    return sorted(load_all(), key=lambda c: int(c[1:]))


def all_experiments() -> list[Experiment]:
    return [REGISTRY[c] for c in claim_ids()]


def get(claim_id: str) -> Experiment:
    """The experiment of ``claim_id`` (case-insensitive, ``c7`` and ``C07`` both work)."""
    load_all()
    cid = _normalise(claim_id)
    if cid not in REGISTRY:
        raise ConfigError(f"unknown claim {claim_id!r}; registered: {', '.join(claim_ids())}")
    return REGISTRY[cid]


def _normalise(claim_id: str) -> str:
    s = str(claim_id).strip().upper()
    if s.startswith("C") and s[1:].isdigit():
        return f"C{int(s[1:]):02d}"
    return s


def parse_only(text: str | None) -> list[str]:
    """``"C08,C09"`` → ``["C08", "C09"]`` (validated); None or empty → every claim."""
    if not text:
        return claim_ids()
    ids = [_normalise(part) for part in str(text).split(",") if part.strip()]
    load_all()
    unknown = [c for c in ids if c not in REGISTRY]
    if unknown:
        raise ConfigError(
            f"--only lists unknown claim(s) {', '.join(unknown)}; registered: "
            f"{', '.join(claim_ids())}"
        )
    return sorted(dict.fromkeys(ids), key=lambda c: int(c[1:]))
