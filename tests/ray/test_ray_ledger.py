"""The ledger on Ray: same results as the local executor, a killed worker retried, resume."""

from __future__ import annotations

import json
import os
import signal

import pytest

from mlplab.cli import main
from mlplab.errors import ConfigError
from mlplab.experiments.ray_executor import RayExecutor
from mlplab.experiments.runner import InlineExecutor, cache_path, run_claims

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

CLAIMS = ["C07", "C02", "C05"]  # the cheapest claims at the tiny profile


def _same(a: list[dict], b: list[dict]) -> None:
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for x, y in zip(a, b):
        assert x["error"] is None and y["error"] is None, (x["error"], y["error"])
        assert x["measurements"] == y["measurements"]
        assert (x["verdict"], x["evidence"], x["rows"]) == (y["verdict"], y["evidence"], y["rows"])


@pytest.fixture(scope="module")
def inline_results():
    """The reference: the claims run in this process."""
    return run_claims(CLAIMS, "tiny", [0], executor=InlineExecutor(), cache_dir=None)


def killing_once(fn, marker):
    """``fn``, except that the first call (no ``marker`` file yet) kills its own process."""

    def wrapped(*args, **kwargs):
        if not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)

    return wrapped


class KillFirstAttempt(RayExecutor):
    """Each task's first attempt kills the Ray worker running it (a marker file per task)."""

    def __init__(self, address, folder):
        super().__init__(address, max_retries=2)
        self.folder = folder
        self.n = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n += 1
        return super().submit(killing_once(fn, str(self.folder / f"kill{self.n}")), *args, **kwargs)


def test_ledger_on_a_cluster_equals_the_local_executor(cluster_driver, inline_results, tmp_path):
    with RayExecutor(cluster_driver) as ex:
        assert ex.cpus == 2
        on_ray = run_claims(CLAIMS, "tiny", [0], executor=ex, cache_dir=tmp_path)
        assert list(ex.map(pow, [2, 3], [3, 2])) == [8, 9]
    _same(on_ray, inline_results)
    assert all(cache_path(tmp_path, c, "tiny", [0]).is_file() for c in CLAIMS)


def test_a_killed_worker_is_retried_and_the_ledger_completes(
    cluster_driver, inline_results, tmp_path
):
    with KillFirstAttempt(cluster_driver, tmp_path) as ex:
        results = run_claims(CLAIMS[:2], "tiny", [0], executor=ex, cache_dir=None)
    killed = sorted(p.name for p in tmp_path.glob("kill*"))
    assert killed == ["kill1", "kill2"]  # every task's first worker died …
    _same(results, inline_results[:2])  # … and its retry finished the ledger


def test_an_exception_in_a_task_is_not_retried(cluster_driver):
    with RayExecutor(cluster_driver) as ex:
        fut = ex.submit(int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            fut.result(timeout=120)


def test_reproduce_cli_on_a_cluster(cluster_driver, tmp_path, capsys):
    code = main(
        ["reproduce", "--profile", "tiny", "--only", "C07", "--executor", "ray", "--address",
         cluster_driver, "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
         "--json"]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in out["claims"]] == ["C07"]


def test_an_interrupted_ledger_on_a_local_instance_resumes_from_the_cache(
    ray_token, inline_results, tmp_path
):
    done = []

    def stop_after_first(res):
        done.append(res["id"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), RayExecutor(num_cpus=2) as ex:
        run_claims(CLAIMS, "tiny", [0], executor=ex, cache_dir=tmp_path, on_done=stop_after_first)
    assert len(done) == 1
    with RayExecutor(num_cpus=2) as ex:
        resumed = run_claims(CLAIMS, "tiny", [0], executor=ex, cache_dir=tmp_path)
    cached = {r["id"] for r in resumed if r["cached"]}
    assert cached == set(done)  # the finished claim is not measured again
    _same(resumed, inline_results)


def test_bad_ray_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    base = ["reproduce", "--profile", "tiny", "--only", "C07", "--cache", str(tmp_path)]
    assert main([*base, "--address", "127.0.0.1:6379"]) == 2
    assert "--address applies to --executor ray" in capsys.readouterr().err
    assert main([*base, "--executor", "ray", "--address", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "unreachable" in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--executor", "ray", "--address", "nohost"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    import mlplab.cluster

    monkeypatch.setattr(mlplab.cluster, "ray_available", lambda: False)
    assert main([*base, "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mlplab[ray]'" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="Ray CPUs"):
        RayExecutor(num_cpus=0)
