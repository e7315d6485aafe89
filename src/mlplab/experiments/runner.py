"""Running the ledger: executors, the result cache and :func:`run_claims`.

A *claim* at one profile with one list of seeds is split into *cells*
(:meth:`~mlplab.experiments.base.Experiment.cells`, one cell unless the experiment splits its
work); a *task* is one cell.  :func:`run_cell` measures a cell in the current process,
:func:`finish_claim` combines a claim's cells, judges and draws it, and :func:`run_task` does
both for one claim here.  :func:`run_claims` submits every cell through an :class:`Executor` —
a pool of local processes by default; any object with ``submit(fn, *args, **kwargs) ->
concurrent.futures.Future`` works, e.g. a cluster — and caches claims and cells so an
unchanged claim is not measured twice and an interrupted ledger resumes.

Result dict
-----------
``id``, ``title``, ``claim``, ``section``, ``measures``, ``rule`` (the claim and its rule),
``profile``, ``seeds``, ``settings`` (exactly what ran), ``measurements``, ``rows`` (the
numbers the report tabulates), ``verdict`` (holds / partly / fails, or ``error`` when the
experiment raised), ``evidence``, ``seconds`` (wall time of measure + judge + figures),
``cpu_seconds`` (CPU time summed over the cells' processes; on a busy machine the honest
measure of cost), ``cells`` (each cell with its own ``seconds`` and ``cpu_seconds``),
``breaks`` (the measured sentence on where the claim stops holding),
``figures`` (``[{"name", "png_base64"}]``), ``command``, ``code_version``, ``finished``
(UTC ISO time), ``error`` (the traceback's last line, or None), ``cached`` (set on a cache hit).

Cache
-----
One JSON file per claim under the cache folder (``.mlplab-cache/`` by default), and one per
finished cell under its ``cells/`` folder, named from the claim, profile, seeds (and the
cell's hash) and *code version*: a SHA-256 of every ``.py`` file of the installed
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
    "run_cell",
    "finish_claim",
    "claim_cells",
    "cell_cache_path",
    "run_claims",
    "estimate",
    "MEASURED_FULL_CPU",
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


def _base_result(exp, profile: str, seeds: list[int], settings: dict) -> dict:
    return {
        **exp.describe(),
        "profile": profile,
        "seeds": seeds,
        "settings": settings,
        "measurements": None,
        "rows": [],
        "verdict": ERROR,
        "evidence": "",
        "breaks": "",
        "figures": [],
        "command": exp.command(profile, seeds),
        "code_version": code_version(),
        "error": None,
    }


def _fail(result: dict, exc: BaseException, tb: str) -> dict:
    result["error"] = f"{type(exc).__name__}: {exc}"
    result["evidence"] = "the experiment raised an error; see below"
    result["traceback"] = tb
    return result


def run_cell(claim_id: str, profile: str, seeds, cell: dict, *, threads: int | None = 1) -> dict:
    """Measure one cell of one claim in this process (the unit an executor runs).

    Returns ``{"id", "cell", "result", "error", "traceback", "seconds", "cpu_seconds"}``:
    ``result`` is the cell's measurements round-tripped through JSON (what the cache stores),
    or None when the cell raised (``error`` then holds the message).  Never raises for an
    error inside the experiment.
    """
    from mlplab.experiments import get

    exp = get(claim_id)
    settings = exp.settings(profile)
    limiter = _limit_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    out = {"id": exp.id, "cell": cell, "result": None, "error": None, "traceback": None}
    try:
        res = exp.measure_cell(dict(settings), json.loads(json.dumps(cell)))
        out["result"] = json.loads(json.dumps(res, allow_nan=True))
    except Exception as exc:  # noqa: BLE001 - reported in the ledger, not swallowed
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=8)
    finally:
        if limiter is not None:
            limiter.unregister()
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    return out


def finish_claim(claim_id: str, profile: str, seeds, cell_results: list[dict]) -> dict:
    """Combine a claim's cell results (in ``cells`` order), judge and draw; the result dict.

    ``seconds`` and ``cpu_seconds`` are the sums over the cells plus this step; ``cells``
    lists each cell with its own times.  A cell that raised makes the claim an ``error``.
    """
    from mlplab.experiments import get
    from mlplab.experiments.base import VERDICTS, figure_png

    exp = get(claim_id)
    seeds = [int(s) for s in seeds]
    settings = exp.settings(profile)
    t0, c0 = time.perf_counter(), time.process_time()
    result = _base_result(exp, profile, seeds, settings)
    result["cells"] = [
        {k: c.get(k) for k in ("cell", "seconds", "cpu_seconds", "error")} for c in cell_results
    ]
    broken = [c for c in cell_results if c.get("error")]
    if broken:
        result["error"] = f"cell {json.dumps(broken[0]['cell'])}: {broken[0]['error']}"
        result["evidence"] = "the experiment raised an error; see below"
        result["traceback"] = broken[0].get("traceback")
    else:
        try:
            m = exp.combine(dict(settings), list(seeds), [c["result"] for c in cell_results])
            # round-trip through JSON: what the judge sees is exactly what the cache stores
            m = json.loads(json.dumps(m, allow_nan=True))
            verdict, evidence = exp.judge(m)
            if verdict not in VERDICTS:
                raise ValueError(f"{claim_id}.judge returned {verdict!r}, not one of {VERDICTS}")
            figs = []
            for name, fig in exp.figures(m):
                png = base64.b64encode(figure_png(fig)).decode("ascii")
                figs.append({"name": name, "png_base64": png})
            result.update(
                measurements=m,
                rows=[list(r) for r in exp.rows(m)],
                verdict=verdict,
                evidence=evidence,
                breaks=exp.breaks(m),
                figures=figs,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the ledger, not swallowed
            _fail(result, exc, traceback.format_exc(limit=8))
    result["seconds"] = time.perf_counter() - t0 + sum(c.get("seconds") or 0 for c in cell_results)
    result["cpu_seconds"] = (
        time.process_time() - c0 + sum(c.get("cpu_seconds") or 0 for c in cell_results)
    )
    result["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return result


def claim_cells(claim_id: str, profile: str, seeds) -> list[dict]:
    """The cells of ``claim_id`` at ``profile`` and ``seeds`` (JSON-normalised)."""
    from mlplab.experiments import get

    exp = get(claim_id)
    cells = exp.cells(exp.settings(profile), [int(s) for s in seeds])
    return json.loads(json.dumps(cells))


def run_task(claim_id: str, profile: str, seeds, *, threads: int | None = 1) -> dict:
    """Measure, judge and draw one claim in this process, cell after cell; the result dict.

    An exception inside the experiment does not propagate: the result has verdict ``error``
    and the error's last line, so the rest of the ledger still runs and the report shows it.
    """
    from mlplab.experiments import get

    exp = get(claim_id)
    seeds = [int(s) for s in seeds]
    try:
        cells = claim_cells(claim_id, profile, seeds)
    except Exception as exc:  # noqa: BLE001
        res = _base_result(exp, profile, seeds, exp.settings(profile))
        res.update(seconds=0.0, cpu_seconds=0.0, cells=[])
        res["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return _fail(res, exc, traceback.format_exc(limit=8))
    done = [run_cell(claim_id, profile, seeds, c, threads=threads) for c in cells]
    return finish_claim(claim_id, profile, seeds, done)


def cell_cache_path(cache_dir, claim_id: str, profile: str, seeds, cell: dict) -> Path:
    """``<cache>/cells/<claim>_<profile>_s<seeds>_<code version>_<cell hash>.json``."""
    key = hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{claim_id}_{profile}_s{_seeds_key(seeds)}_{code_version()}_{key}.json"
    return Path(cache_dir) / "cells" / name


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
    on_cell=None,
    threads: int | None = 1,
) -> list[dict]:
    """Run ``claim_ids`` at ``profile`` with ``seeds``; return the results in claim order.

    Each claim's cells (:meth:`Experiment.cells`) are submitted to the executor as separate
    tasks (:func:`run_cell`); when a claim's last cell is in, :func:`finish_claim` combines,
    judges and draws it here.  Finished cells are cached one by one, so an interrupted ledger
    resumes at the first unfinished cell.  The result does not depend on where or in which
    order the cells ran.

    Parameters
    ----------
    executor : Executor, optional
        Where cells run; default :class:`InlineExecutor`.
    threads : int or None
        BLAS/OpenMP/torch threads per task (default 1: parallelism comes from the executor,
        and torch's own pool is very slow on small tensors on a busy machine); None leaves the
        libraries' defaults.
    cache_dir : path or None
        Cache folder (created when needed); None disables the cache entirely.
    use_cache : bool
        False forces every claim and cell to run again (results are still written).
    on_start, on_done, on_cell : callables, optional
        ``on_start(claim_id)`` when a claim's first cell is handed to the executor,
        ``on_done(result)`` when its result is in (also for cache hits), ``on_cell(claim_id,
        done, total)`` after each of its cells.
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
        ensure_dir(Path(cache_dir) / "cells")
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
    pending: dict[str, list] = {}
    futures: dict[cf.Future, tuple[str, int]] = {}

    def complete(cid: str) -> None:
        res = finish_claim(cid, profile, seeds, pending.pop(cid))
        res["cached"] = False
        if cache_dir is not None:
            atomic_write_json(cache_path(cache_dir, cid, profile, seeds), res)
        results[cid] = res
        if on_done:
            on_done(res)

    def store(cid: str, i: int, out: dict) -> None:
        pending[cid][i] = out
        if on_cell:
            on_cell(cid, sum(x is not None for x in pending[cid]), len(pending[cid]))

    def collect(cid: str, i: int, fut: cf.Future) -> None:
        out = fut.result()
        if cache_dir is not None and out.get("error") is None:
            cell = out["cell"]
            atomic_write_json(cell_cache_path(cache_dir, cid, profile, seeds, cell), out)
        store(cid, i, out)
        if all(x is not None for x in pending[cid]):
            complete(cid)

    for cid in todo:
        if on_start:
            on_start(cid)
        try:
            cells = claim_cells(cid, profile, seeds)
        except Exception:  # noqa: BLE001 - run_task reports it as the claim's error
            results[cid] = {**run_task(cid, profile, seeds, threads=threads), "cached": False}
            if on_done:
                on_done(results[cid])
            continue
        pending[cid] = [None] * len(cells)
        for i, cell in enumerate(cells):
            path = cell_cache_path(cache_dir, cid, profile, seeds, cell) if cache_dir else None
            hit = read_cache(path) if (path is not None and use_cache) else None
            if hit is not None and hit.get("error") is None and hit.get("cell") == cell:
                hit["cached"] = True
                store(cid, i, hit)
            else:
                fut = executor.submit(run_cell, cid, profile, seeds, cell, threads=threads)
                if fut.done():  # an inline executor: cache the cell at once
                    collect(cid, i, fut)
                else:
                    futures[fut] = (cid, i)
        if cid in pending and all(x is not None for x in pending[cid]):
            complete(cid)
    for fut in cf.as_completed(futures):
        collect(*futures[fut], fut)
    return [results[c] for c in ids]


# ---------------------------------------------------------------------------------- estimates
#: CPU seconds per claim measured for the ``full`` profile (3 seeds), the base of
#: :func:`estimate` when the cache holds no current full result.  Measured with
#: ``mlplab reproduce --profile full --json`` (2 then 3 jobs, resumed from the cell cache) on
#: the code of commit 9da3ddf under load; see BENCHMARKS.md.  C12, C20 and C21 ran as one
#: task each there (they were split into cells later).
MEASURED_FULL_CPU: dict[str, float] = {
    "C01": 5.7,
    "C02": 26.6,
    "C03": 41.5,
    "C04": 10.7,
    "C05": 0.4,
    "C06": 4.5,
    "C07": 2.3,
    "C08": 55.8,
    "C09": 233.6,
    "C10": 6.9,
    "C11": 129.0,
    "C12": 41.9,
    "C13": 51.6,
    "C14": 1.4,
    "C15": 46.3,
    "C16": 18.3,
    "C17": 80.6,
    "C18": 15.4,
    "C19": 63.0,
    "C20": 62.2,
    "C21": 79.8,
    "C22": 29.5,
    "C23": 1.4,
}


def estimate(claim_ids, profile: str, seeds, *, cache_dir=DEFAULT_CACHE) -> list[dict]:
    """Estimated CPU seconds and cell (task) count per claim for ``profile`` and ``seeds``.

    The full profile's measured CPU time of the claim — from a current cached full result
    when there is one, else :data:`MEASURED_FULL_CPU` — scaled by the experiment's
    :meth:`~mlplab.experiments.base.Experiment.work` per seed and by the seed count:
    ``cpu_full × (work(profile) × n_seeds) / (work(full) × 3)``.  A rough figure: it assumes
    cost proportional to the work measure.  ``cpu_seconds`` is None when no base is known.
    """
    from mlplab.experiments import get
    from mlplab.experiments.base import PROFILES

    full_seeds = PROFILES["full"].seeds()
    cached = cached_results(cache_dir, profile="full") if cache_dir is not None else {}
    out = []
    for cid in claim_ids:
        exp = get(cid)
        cells = claim_cells(exp.id, profile, seeds)
        hit = cached.get((exp.id, "full"))
        if hit is not None and hit.get("seeds") and hit.get("cpu_seconds"):
            base, n_base, source = hit["cpu_seconds"], len(hit["seeds"]), "cache"
        else:
            base, n_base, source = MEASURED_FULL_CPU.get(exp.id), len(full_seeds), "table"
        cpu = None
        if base is not None:
            ratio = exp.work(exp.settings(profile)) / exp.work(exp.settings("full"))
            cpu = float(base) * ratio * len(seeds) / n_base
        out.append({"id": exp.id, "cells": len(cells), "cpu_seconds": cpu, "source": source})
    return out
