"""Running the ledger: executors, the result cache and :func:`run_claims`.

A *task* is one claim at one profile with one list of seeds.  :func:`run_task` runs it in the
current process and returns a JSON-able result dict (below); :func:`run_claims` runs many tasks
through an :class:`Executor` — a pool of local processes by default — reading and writing a
cache so an unchanged claim is not measured twice.

Result dict
-----------
``id``, ``title``, ``claim``, ``section``, ``measures``, ``rule`` (the claim and its rule),
``profile``, ``seeds``, ``settings`` (exactly what ran), ``measurements``, ``rows`` (the
numbers the report tabulates), ``verdict`` (holds / partly / fails, or ``error`` when the
experiment raised), ``evidence``, ``seconds`` (wall time of measure + judge + figures),
``cpu_seconds`` (CPU time of this process over the same span; on a busy machine the honest
measure of cost),
``figures`` (``[{"name", "png_base64"}]``), ``command``, ``code_version``, ``finished``
(UTC ISO time), ``error`` (the traceback's last line, or None), ``cached`` (set on a cache hit).

Cache
-----
One JSON file per task under the cache folder (``.mlplab-cache/`` by default), named from the
claim, profile, seeds and *code version*: a SHA-256 of every ``.py`` file of the installed
``mlplab`` package.  Any change to the package's code therefore reruns every claim — simple and
honest, never a stale verdict.
"""

from __future__ import annotations

import abc
import base64
import concurrent.futures as cf
import datetime as _dt
import functools
import hashlib
import json
import os
import time
import traceback
from pathlib import Path

import numpy as np

from mlplab.errors import ConfigError, check_range
from mlplab.io import atomic_write_json, ensure_dir

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "make_executor",
    "code_version",
    "cache_path",
    "read_cache",
    "cached_results",
    "run_task",
    "run_claims",
    "DEFAULT_CACHE",
]

DEFAULT_CACHE = ".mlplab-cache"
ERROR = "error"


# ---------------------------------------------------------------------------------- executors
class Executor(abc.ABC):
    """The small interface the runner needs: ``submit`` and ``map`` returning futures/results.

    A cluster engine plugs in by implementing these two methods with
    :class:`concurrent.futures.Future` objects (e.g. wrapping Ray's ``ObjectRef.future()``).
    """

    @abc.abstractmethod
    def submit(self, fn, /, *args, **kwargs) -> cf.Future: ...

    def map(self, fn, *iterables):
        futures = [self.submit(fn, *args) for args in zip(*iterables)]
        for fut in futures:
            yield fut.result()

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release workers (nothing for in-process execution)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


class InlineExecutor(Executor):
    """Runs each task at once in this process (``--jobs 1``, tests, debugging)."""

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller via the future
            fut.set_exception(exc)
        return fut


class LocalExecutor(Executor):
    """A :class:`concurrent.futures.ProcessPoolExecutor` of ``jobs`` worker processes."""

    def __init__(self, jobs: int):
        self.jobs = int(check_range("jobs", jobs, 1, None, integer=True))
        self._pool = cf.ProcessPoolExecutor(max_workers=self.jobs)

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(jobs: int | None, *, kind: str = "local", address: str | None = None) -> Executor:
    """``jobs`` processes (None: the CPU count); one job runs inline, without a pool.

    ``kind="ray"`` gives a :class:`~mlplab.experiments.ray_executor.RayExecutor` instead: Ray
    tasks on a local instance of ``jobs`` CPUs, or on the cluster at ``address``.
    """
    if kind == "ray":
        from mlplab.experiments.ray_executor import RayExecutor

        return RayExecutor(address, num_cpus=None if address else jobs)
    if address is not None:
        raise ConfigError("--address applies to --executor ray")
    if jobs is None:
        n = os.cpu_count() or 1
    else:
        n = check_range("jobs", jobs, 1, None, integer=True)
    return InlineExecutor() if n == 1 else LocalExecutor(n)


# ---------------------------------------------------------------------------------- cache
@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 (first 16 hex digits) of every ``.py`` file of the mlplab package, by path."""
    import mlplab

    root = Path(mlplab.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _seeds_key(seeds) -> str:
    return "-".join(str(int(s)) for s in seeds) or "none"


def cache_path(cache_dir, claim_id: str, profile: str, seeds, version: str | None = None) -> Path:
    """``<cache>/<claim>_<profile>_s<seeds>_<code version>.json``."""
    version = version or code_version()
    return Path(cache_dir) / f"{claim_id}_{profile}_s{_seeds_key(seeds)}_{version}.json"


def read_cache(path) -> dict | None:
    """A cached result, or None when the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cached_results(cache_dir, *, profile: str | None = None, current_only: bool = True):
    """The newest cached result per (claim, profile): ``{(claim, profile): result}``.

    With ``current_only`` only results of the current :func:`code_version` count.
    """
    folder = Path(cache_dir)
    if not folder.is_dir():
        return {}
    best: dict[tuple[str, str], dict] = {}
    version = code_version()
    for path in folder.glob("C*_*.json"):
        res = read_cache(path)
        if not res or "id" not in res or "profile" not in res:
            continue
        if profile is not None and res["profile"] != profile:
            continue
        if current_only and res.get("code_version") != version:
            continue
        key = (res["id"], res["profile"])
        if key not in best or res.get("finished", "") > best[key].get("finished", ""):
            best[key] = res
    return best


# ---------------------------------------------------------------------------------- one task
def _limit_threads(threads: int | None):
    """Cap BLAS/OpenMP (and torch) threads in a worker so parallel jobs do not oversubscribe."""
    if threads is None:
        return None
    from threadpoolctl import threadpool_limits

    try:  # load scikit-learn's OpenMP runtime now, so that the limit below reaches it too
        import sklearn.utils._openmp_helpers  # noqa: F401
    except ImportError:
        pass
    limiter = threadpool_limits(limits=int(threads))
    try:
        import torch

        torch.set_num_threads(int(threads))
    except ImportError:
        pass
    return limiter


def run_task(claim_id: str, profile: str, seeds, *, threads: int | None = 1) -> dict:
    """Measure, judge and draw one claim in this process; return the result dict.

    An exception inside the experiment does not propagate: the result has verdict ``error``
    and the error's last line, so the rest of the ledger still runs and the report shows it.
    """
    from mlplab.experiments import get
    from mlplab.experiments.base import VERDICTS, figure_png

    exp = get(claim_id)
    seeds = [int(s) for s in seeds]
    settings = exp.settings(profile)
    limiter = _limit_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    result = {
        **exp.describe(),
        "profile": profile,
        "seeds": seeds,
        "settings": settings,
        "measurements": None,
        "rows": [],
        "verdict": ERROR,
        "evidence": "",
        "figures": [],
        "command": exp.command(profile, seeds),
        "code_version": code_version(),
        "error": None,
    }
    try:
        rng = np.random.default_rng([int(claim_id[1:]), *seeds])
        m = exp.measure(dict(settings), list(seeds), rng)
        # round-trip through JSON: what the judge sees is exactly what the cache stores
        m = json.loads(json.dumps(m, allow_nan=True))
        verdict, evidence = exp.judge(m)
        if verdict not in VERDICTS:
            raise ValueError(f"{claim_id}.judge returned {verdict!r}, not one of {VERDICTS}")
        figs = []
        for name, fig in exp.figures(m):
            figs.append(
                {"name": name, "png_base64": base64.b64encode(figure_png(fig)).decode("ascii")}
            )
        result.update(
            measurements=m,
            rows=[list(r) for r in exp.rows(m)],
            verdict=verdict,
            evidence=evidence,
            figures=figs,
        )
    except Exception as exc:  # noqa: BLE001 - reported in the ledger, not swallowed
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["evidence"] = "the experiment raised an error; see below"
        result["traceback"] = traceback.format_exc(limit=8)
    finally:
        if limiter is not None:
            limiter.unregister()
    result["seconds"] = time.perf_counter() - t0
    result["cpu_seconds"] = time.process_time() - c0
    result["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return result


# ---------------------------------------------------------------------------------- many tasks
def run_claims(
    claim_ids,
    profile: str,
    seeds,
    *,
    executor: Executor | None = None,
    cache_dir=DEFAULT_CACHE,
    use_cache: bool = True,
    on_start=None,
    on_done=None,
    threads: int | None = 1,
) -> list[dict]:
    """Run ``claim_ids`` at ``profile`` with ``seeds``; return the results in claim order.

    Parameters
    ----------
    executor : Executor, optional
        Where tasks run; default :class:`InlineExecutor`.
    threads : int or None
        BLAS/OpenMP/torch threads per task (default 1: parallelism comes from the executor,
        and torch's own pool is very slow on small tensors on a busy machine); None leaves the
        libraries' defaults.
    cache_dir : path or None
        Cache folder (created when needed); None disables the cache entirely.
    use_cache : bool
        False forces every claim to run again (results are still written to the cache).
    on_start, on_done : callables, optional
        ``on_start(claim_id)`` when a task is handed to the executor, ``on_done(result)`` when
        its result is in (also for cache hits).
    """
    from mlplab.experiments import get
    from mlplab.experiments.base import get_profile

    get_profile(profile)
    ids = [get(c).id for c in claim_ids]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds must list at least one seed")
    executor = executor or InlineExecutor()
    if cache_dir is not None:
        ensure_dir(cache_dir)
    results: dict[str, dict] = {}
    todo = []
    for cid in ids:
        hit = None
        if cache_dir is not None and use_cache:
            hit = read_cache(cache_path(cache_dir, cid, profile, seeds))
        if hit is not None and hit.get("verdict") != ERROR:
            hit["cached"] = True
            results[cid] = hit
            if on_done:
                on_done(hit)
        else:
            todo.append(cid)
    # longest first, so a pool is not left waiting on one slow claim at the end
    todo.sort(key=lambda c: -get(c).cost.get(profile, 1.0))
    futures = {}
    for cid in todo:
        if on_start:
            on_start(cid)
        futures[executor.submit(run_task, cid, profile, seeds, threads=threads)] = cid
    for fut in cf.as_completed(futures):
        res = fut.result()
        res["cached"] = False
        if cache_dir is not None:
            atomic_write_json(cache_path(cache_dir, res["id"], profile, seeds), res)
        results[res["id"]] = res
        if on_done:
            on_done(res)
    return [results[c] for c in ids]
