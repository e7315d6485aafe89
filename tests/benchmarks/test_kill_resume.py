"""benchmarks/kill_resume.py, the SIGKILL-and-resume check behind BENCHMARKS.md: a short run
killed at a random moment ends, after --resume, bit-identical to the uninterrupted run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kill_resume.py"


@pytest.mark.slow
def test_a_killed_run_resumes_bit_identical(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("kill_resume", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(
        mod, "TRAIN", ["--dataset", "xor", "--subset", "200", "--hidden", "8", "--epochs", "6",
                       "--batch-size", "16", "--dropout", "0.1", "--seed", "1"],
    )  # fmt: skip
    tally = mod.run(kills=1, seed=5, root=tmp_path)
    assert tally["kills"] == 1 and len(tally["runs"]) == 1
    assert tally["identical"] == 1, tally["runs"]
