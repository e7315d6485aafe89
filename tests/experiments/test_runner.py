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
