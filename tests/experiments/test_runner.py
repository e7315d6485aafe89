"""The runner: cache hits and misses, forced reruns, the error path, executors, code version."""

from __future__ import annotations

import json

import pytest

from mlplab.errors import ConfigError
from mlplab.experiments.base import PROFILES, REGISTRY, Experiment, Judgement, register
from mlplab.experiments.runner import (
    InlineExecutor,
    LocalExecutor,
    cache_path,
    cached_results,
    code_version,
    make_executor,
    run_claims,
    run_task,
)


def test_code_version_is_a_stable_hash():
    v = code_version()
    assert len(v) == 16 and int(v, 16) >= 0 and v == code_version()


def test_cache_hit_and_forced_rerun(tmp_path):
    seen = []
    first = run_claims(["C07"], "tiny", [0], cache_dir=tmp_path, on_done=seen.append)
    assert first[0]["cached"] is False and seen[0]["id"] == "C07"
    path = cache_path(tmp_path, "C07", "tiny", [0])
    assert path.is_file() and json.loads(path.read_text())["verdict"] == first[0]["verdict"]
    second = run_claims(["C07"], "tiny", [0], cache_dir=tmp_path)
    assert second[0]["cached"] is True and second[0]["finished"] == first[0]["finished"]
    forced = run_claims(["C07"], "tiny", [0], cache_dir=tmp_path, use_cache=False)
    assert forced[0]["cached"] is False
    other_seeds = run_claims(["C07"], "tiny", [0, 1], cache_dir=tmp_path)
    assert other_seeds[0]["cached"] is False  # seeds are part of the key
    assert set(cached_results(tmp_path)) == {("C07", "tiny")}
    assert cached_results(tmp_path, profile="full") == {}


def test_bad_arguments():
    with pytest.raises(ConfigError, match="profile"):
        run_claims(["C07"], "huge", [0], cache_dir=None)
    with pytest.raises(ConfigError, match="seeds"):
        run_claims(["C07"], "tiny", [], cache_dir=None)
    with pytest.raises(ConfigError, match="jobs"):
        make_executor(0)
    assert isinstance(make_executor(1), InlineExecutor)


@pytest.fixture
def broken_claim():
    class Broken(Experiment):
        id = "C98"
        title = claim = section = measures = rule = "a deliberately broken experiment"
        profiles = {p: {} for p in PROFILES}

        def measure(self, settings, seeds, rng):
            raise RuntimeError("boom")

        def judge(self, m):
            return Judgement("holds", "never reached")

    register(Broken)
    yield "C98"
    REGISTRY.pop("C98")


def test_an_exception_becomes_an_error_result_and_is_not_cached(broken_claim, tmp_path):
    res = run_claims([broken_claim], "tiny", [0], cache_dir=tmp_path)[0]
    assert res["verdict"] == "error" and "RuntimeError: boom" in res["error"]
    assert "Traceback" in res["traceback"]
    again = run_claims([broken_claim], "tiny", [0], cache_dir=tmp_path)[0]
    assert again["cached"] is False  # an error is never served from the cache


def test_local_process_pool_gives_the_same_result(tmp_path):
    inline = run_task("C07", "tiny", [0])
    with LocalExecutor(2) as ex:
        pooled = run_claims(["C07"], "tiny", [0], executor=ex, cache_dir=None)[0]
        assert list(ex.map(len, [[1, 2], [3]])) == [2, 1]
    assert pooled["measurements"] == inline["measurements"]
    assert pooled["verdict"] == inline["verdict"]


@pytest.fixture
def cell_claim():
    """A claim split into cells whose numbers depend only on each cell's seed and setting."""
    calls = []

    class Cells(Experiment):
        id = "C97"
        title = claim = section = measures = rule = "an experiment made of cells"
        profiles = {p: {"ks": [1, 2, 3]} for p in ("tiny", "quick", "full")}

        def cells(self, settings, seeds):
            return [{"k": k, "seed": s} for k in settings["ks"] for s in seeds]

        def measure_cell(self, settings, cell):
            calls.append(cell)
            g = self.seed_rng(cell["seed"])
            return {"v": float(g.normal()) * cell["k"]}

        def combine(self, settings, seeds, results):
            return {"values": [r["v"] for r in results]}

        def judge(self, m):
            return Judgement("holds", f"{len(m['values'])} values")

    register(Cells)
    yield "C97", calls
    REGISTRY.pop("C97")


def test_cells_run_as_tasks_are_cached_and_resume(cell_claim, tmp_path):
    cid, calls = cell_claim
    inline = run_task(cid, "tiny", [0, 1])
    assert len(inline["cells"]) == 6 and len(calls) == 6
    assert inline["cpu_seconds"] >= 0 and all("cpu_seconds" in c for c in inline["cells"])
    # measure() of a cell-based experiment runs its cells in order: the same numbers
    m = REGISTRY[cid].measure(REGISTRY[cid].settings("tiny"), [0, 1], None)
    assert m == inline["measurements"]
    calls.clear()
    first = run_claims([cid], "tiny", [0, 1], cache_dir=tmp_path)[0]
    assert first["measurements"] == inline["measurements"] and len(calls) == 6
    # an interrupted ledger: the claim's result is lost, four of its cells remain cached
    cache_path(tmp_path, cid, "tiny", [0, 1]).unlink()
    cell_files = sorted((tmp_path / "cells").glob(f"{cid}_*.json"))
    assert len(cell_files) == 6
    for f in cell_files[:2]:
        f.unlink()
    calls.clear()
    seen = []
    resumed = run_claims(
        [cid], "tiny", [0, 1], cache_dir=tmp_path, on_cell=lambda *a: seen.append(a)
    )[0]
    assert len(calls) == 2  # only the missing cells ran again
    assert resumed["measurements"] == inline["measurements"]
    assert seen[-1] == (cid, 6, 6)


def test_cells_in_a_process_pool_give_the_same_result(tmp_path):
    inline = run_task("C11", "tiny", [0])
    with LocalExecutor(2) as ex:
        pooled = run_claims(["C11"], "tiny", [0], executor=ex, cache_dir=None)[0]
    assert pooled["measurements"] == inline["measurements"]
    assert (pooled["verdict"], pooled["evidence"]) == (inline["verdict"], inline["evidence"])


def test_an_experiment_without_cells_is_one_cell():
    from mlplab.experiments import get
    from mlplab.experiments.runner import claim_cells

    assert claim_cells("C07", "tiny", [0, 1]) == [{"seeds": [0, 1]}]
    assert (
        len(claim_cells("C09", "tiny", [0, 1]))
        == get("C09").settings("tiny")["depths"].__len__() * 2 * 4 * 2
    )


def test_estimate_scales_the_full_profile(tmp_path, monkeypatch):
    from mlplab.experiments import runner

    monkeypatch.setitem(runner.MEASURED_FULL_CPU, "C09", 300.0)
    monkeypatch.setitem(runner.MEASURED_FULL_CPU, "C07", 2.0)
    full, paper = (
        runner.estimate(["C09", "C07"], p, PROFILES[p].seeds(), cache_dir=tmp_path)
        for p in ("full", "paper")
    )
    assert full[0]["cpu_seconds"] == pytest.approx(300.0) and full[0]["source"] == "table"
    assert paper[0]["cpu_seconds"] > 300.0 * 5 / 3  # wider, longer and more seeds
    assert paper[1]["cpu_seconds"] == pytest.approx(2.0 * 5 / 3)  # paper = full, 5 seeds
    assert paper[0]["cells"] == 2 * 3 * 4 * 5


@pytest.mark.parametrize("cid", ["C20"])
def test_cells_merged_equal_one_measure(cid):
    """Claims split per seed/activation with merge_parts give what one measure() gives."""
    import json

    from mlplab.experiments import get
    from mlplab.experiments.base import run_cells_inline

    exp = get(cid)
    settings = exp.settings("tiny")
    whole = json.loads(json.dumps(exp.measure(dict(settings), [0, 1], None)))
    assert run_cells_inline(exp, settings, [0, 1]) == whole


def test_merge_parts_joins_stats_and_unions_keys():
    from mlplab.experiments.base import merge_parts, stat

    a = {"n": 5, "acts": {"relu": {"err": stat([1.0])}}, "example": [1]}
    b = {"n": 5, "acts": {"relu": {"err": stat([3.0])}}, "example": [2]}
    c = {"n": 5, "acts": {"tanh": {"err": stat([2.0])}}, "example": [3]}
    m = merge_parts([a, b, c])
    assert (
        m["acts"]["relu"]["err"]["per_seed"] == [1.0, 3.0]
        and m["acts"]["relu"]["err"]["mean"] == 2.0
    )
    assert m["acts"]["tanh"]["err"]["per_seed"] == [2.0]
    assert m["example"] == [1] and m["n"] == 5
