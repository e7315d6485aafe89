"""The wheel carries the embedded MNIST files and, installed into a fresh virtual environment,
trains on ``mnist`` without the repository and without a network."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]

# Loaded by the fresh interpreter at start-up: any attempt to open a network connection fails.
_NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access is disabled in this test")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


def _run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
    return res


def _offline_prefix() -> list[str]:
    """``unshare -rn`` (a private network namespace with no interfaces up) where the kernel
    allows it; otherwise nothing (the socket guard still applies)."""
    exe = shutil.which("unshare")
    if exe and subprocess.run([exe, "-rn", "true"], capture_output=True).returncode == 0:
        return [exe, "-rn"]
    return []


@pytest.mark.slow
def test_wheel_contains_mnist_and_trains_offline_in_a_fresh_venv(tmp_path):
    """How this stays honest and robust:

    * The wheel is built from a copy of the working tree (pyproject.toml, README.md, src/),
      so concurrent builds never share a ``build/`` folder, with ``--no-build-isolation`` so
      no build dependency is downloaded.
    * The virtual environment is new and empty (``--without-pip``; not
      ``--system-site-packages``); the wheel is installed into it by pip with ``--no-index
      --no-deps``.  Its third-party dependencies (numpy, scikit-learn, …) are not downloaded
      either: a ``.pth`` file appends this test environment's site-packages *after* the
      fresh one.  Directories added by a ``.pth`` line do not have their own ``.pth`` files
      processed, so the editable install of the repository there stays inactive — the test
      asserts that ``mlplab`` is imported from the fresh environment.
    * The command runs from an empty folder outside the repository, without PYTHONPATH and
      with user site-packages off, in a private network namespace where available and in
      any case with a sitecustomize that makes every socket connection fail.
    """
    src = tmp_path / "src-copy"
    shutil.copytree(
        REPO / "src",
        src / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(wheels), str(src)],
        env=env,
    )  # fmt: skip
    (wheel,) = wheels.glob("mlplab-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for f in MNIST_FILES:
            info = z.getinfo(f"mlplab/data/files/{f}")
            assert info.file_size > 1000, f
        assert "mlplab/data/files/SHA256SUMS" in names
        assert "mlplab/runs/__init__.py" in names and "mlplab/commands/train.py" in names

    venv = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index",
         "--no-deps", str(wheel)],
        env=env,
    )  # fmt: skip
    fresh_site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (fresh_site / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    (fresh_site / "sitecustomize.py").write_text(_NO_NETWORK)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import mlplab; print(mlplab.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    probe = "import socket; socket.create_connection(('127.0.0.1', 9))"
    blocked = subprocess.run([str(py), "-c", probe], cwd=work, env=env, capture_output=True)
    assert blocked.returncode != 0 and b"network access is disabled" in blocked.stderr

    res = _run(
        [*_offline_prefix(), str(venv / "bin" / "mlplab"), "train", "--dataset", "mnist",
         "--subset", "2000", "--epochs", "1", "--hidden", "32", "--lr", "0.01",
         "--batch-size", "32", "--json", "--out", "run"],
        cwd=work,
        env=env,
    )  # fmt: skip
    summary = json.loads(res.stdout)
    assert summary["dataset"] == "mnist" and summary["test_accuracy"] >= 0.8
    assert (work / "run" / "model.npz").is_file()
    assert not (REPO / "run").exists()
