"""benchmarks/ray_scaling.py: the cluster-size estimate from cached per-claim CPU seconds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ray_scaling.py"


def _load():
    spec = importlib.util.spec_from_file_location("ray_scaling", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_greedy_schedule():
    mod = _load()
    assert mod.schedule([4, 3, 3, 2], 1) == 12
    assert mod.schedule([4, 3, 3, 2], 2) == 6  # 4+2 | 3+3
    assert mod.schedule([4, 3, 3, 2], 64) == 4  # the longest task bounds any cluster


def test_estimate_from_the_cache(tmp_path):
    mod = _load()
    for cid, sec in (("C01", 10.0), ("C02", 30.0), ("C03", 20.0)):
        res = {"id": cid, "profile": "full", "cpu_seconds": sec, "finished": "2026-01-01"}
        (tmp_path / f"{cid}_full_s0_x.json").write_text(json.dumps(res))
    est = mod.estimate(str(tmp_path), "full", [1, 2, 8])
    assert est["tasks"] == 3 and est["total_cpu_s"] == 60 and est["longest_task_s"] == 30
    assert est["by_cpus"][1]["greedy_s"] == 60
    assert est["by_cpus"][2] == {"greedy_s": 30, "bound_s": 30}
    assert est["by_cpus"][8]["greedy_s"] == 30
    assert "C04" in est["missing_claims"]
    assert "error" in mod.estimate(str(tmp_path / "none"), "full", [2])
