"""The house rules that a reader of the source can check, checked by walking the source.

* No name starting with ``_`` is imported from another module: a leading underscore means
  "private to its module", so another module that needs it is a sign that the name belongs in a
  public API (or the code in one room).
* ``mlplab.core`` is the engine: it imports nothing but the standard library, numpy, scipy,
  ``mlplab.errors`` and its own modules — no torch, no files, no UI.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlplab"
STDLIB = set(sys.stdlib_module_names)


def _modules():
    return sorted(p for p in SRC.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(path: Path, text: str | None = None) -> list[str]:
    """Every ``from X import _name`` in ``path`` (its source ``text`` if given) where X is
    another module."""
    text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(text, filename=str(path))
    own = _module_name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(path, node)
            if source == own or source == "__future__":
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(
                        f"{path.relative_to(SRC.parent)}:{node.lineno} {source}.{alias.name}"
                    )
    return found


def core_imports(path: Path, text: str | None = None) -> list[str]:
    """Imports of ``path`` (a module of mlplab.core; its source ``text`` if given) that leave
    the allowed set."""
    text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(text, filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [_resolve(path, node)]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in STDLIB or top in {"numpy", "scipy"}:
                continue
            if name == "mlplab.errors" or name == "mlplab.core" or name.startswith("mlplab.core."):
                continue
            bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {name}")
    return bad


def test_no_private_name_is_imported_across_modules():
    found = [hit for p in _modules() for hit in private_imports(p)]
    assert found == []


def test_core_imports_only_numpy_scipy_and_errors():
    found = [hit for p in sorted((SRC / "core").rglob("*.py")) for hit in core_imports(p)]
    assert found == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from mlplab.core.losses import _SECRET\n", 1),
        ("from mlplab.core.losses import PUBLIC as _alias\n", 0),
        ("from .losses import _x, y\n", 1),
        ("from . import _x\n", 1),
        ("from __future__ import annotations\n", 0),
    ],
)
def test_the_checker_finds_private_imports(code, expected):
    probe = SRC / "core" / "probe.py"  # never written: the checker reads ``text``
    assert len(private_imports(probe, code)) == expected


def test_the_checker_finds_forbidden_core_imports():
    probe = SRC / "core" / "probe.py"
    code = (
        "import torch\nfrom mlplab.io import atomic_write_bytes\nimport math\n"
        "from . import layers\n"
    )
    assert len(core_imports(probe, code)) == 2
