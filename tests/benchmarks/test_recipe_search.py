"""benchmarks/recipe_search.py, the script behind the best recipe's trials: one short run logs
its test error (and that of the weights' moving average) and saves logits the ensemble mode
scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "recipe_search.py"


def test_a_short_trial_logs_and_its_logits_score_as_an_ensemble(tmp_path):
    cfg = {
        "hidden": [16],
        "dropout": 0.1,
        "optimizer": "adam",
        "lr": 0.01,
        "epochs": 1,
        "ema": 0.9,
        "seed": 3,
    }
    log, logits = tmp_path / "t.jsonl", tmp_path / "t.npy"
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "run",
            json.dumps(cfg),
            "--log",
            str(log),
            "--logits",
            str(logits),
            "--threads",
            "1",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = log.read_text().splitlines()
    assert json.loads(lines[0]) == cfg
    last = json.loads(lines[-1])
    assert last["epoch"] == 1 and 0 < last["test_err"] < 20 and "ema_test_err" in last
    assert "wall_seconds" in out
    scored = subprocess.run(
        [sys.executable, str(SCRIPT), "ensemble", str(logits), str(logits)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the mean of a run's logits with themselves is that run: the same error twice
    assert f"{last['test_err']:.2f}".rstrip("0").rstrip(".") in scored.replace(" %", "")
    assert "mean logits of 2" in scored
