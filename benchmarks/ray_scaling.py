"""The ledger on Ray: start-up overhead, speed-up from 1 to 2 CPUs, and a cluster-size estimate.

Three measurements, printed as one JSON object (and written to ``--out``):

1. ``startup``: seconds from ``ray.init`` of a fresh local instance to the result of one
   trivial task, and of ``ray.shutdown`` (median of ``--repeats``).
2. ``ledger``: the ledger at ``--profile`` (quick by default) on a local Ray instance of 1 and
   of 2 CPUs, with the cache off; wall seconds of each, the CPU seconds the claims report, and
   the speed-up (``wall_s`` from a started instance to the last result; with Ray's start and
   stop in ``wall_with_start_and_stop_s``).  The runs alternate (1, 2, 1, 2 …) so that a
   change in machine load hits both.
3. ``estimate``: the time of the ``--estimate-profile`` ledger (``paper`` where the ledger
   has it, else ``full``) on 2 cores and on N cluster CPUs, from the per-task CPU seconds in
   the cache (``--cache``; run the ledger at that profile once to fill it): the greedy
   longest-first schedule of the tasks on N workers (what the runner does) and the bound
   total/N.  With one task per claim the longest claim bounds every cluster size; a finer
   split (cells) lowers that bound.

Run on a quiet machine: ``python benchmarks/ray_scaling.py --out runs/ray_scaling.json``.
A quick check that it works: ``--profile tiny --only C07,C02,C05 --repeats 1``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import statistics
import sys
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def startup(repeats: int) -> dict:
    """Seconds to start a local Ray instance and get one task's result, and to stop it."""
    import ray

    start, stop = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False, _node_ip_address="127.0.0.1")  # fmt: skip
        ray.get(ray.remote(lambda: 1).remote())
        t1 = time.perf_counter()
        ray.shutdown()
        start.append(t1 - t0)
        stop.append(time.perf_counter() - t1)
    return {"start_to_first_result_s": statistics.median(start), "shutdown_s":
            statistics.median(stop), "runs_start_s": start}  # fmt: skip


def ledger(profile: str, ids: list[str], seeds: list[int], repeats: int) -> dict:
    """Wall seconds of the ledger on 1 and on 2 Ray CPUs (cache off)."""
    from mlplab.experiments.ray_executor import RayExecutor
    from mlplab.experiments.runner import run_claims

    times: dict[int, list[float]] = {1: [], 2: []}
    total: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, float] = {}
    for _ in range(repeats):
        for n in (1, 2):
            t0 = time.perf_counter()
            with RayExecutor(num_cpus=n) as ex:
                t1 = time.perf_counter()
                res = run_claims(ids, profile, seeds, executor=ex, cache_dir=None)
                times[n].append(time.perf_counter() - t1)
            total[n].append(time.perf_counter() - t0)
            cpu[n] = sum(r["cpu_seconds"] for r in res)
            errors = [r["id"] for r in res if r["verdict"] == "error"]
            if errors:
                raise SystemExit(f"claims raised errors: {errors}")
    med = {n: statistics.median(t) for n, t in times.items()}
    with_start = {n: statistics.median(t) for n, t in total.items()}
    return {"profile": profile, "claims": ids, "seeds": seeds, "wall_s": med, "runs_s": times,
            "wall_with_start_and_stop_s": with_start, "claims_cpu_s": cpu,
            "speedup_2_over_1": med[1] / med[2]}  # fmt: skip


def schedule(seconds: list[float], workers: int) -> float:
    """Makespan of the longest-first greedy schedule of ``seconds`` on ``workers``."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for s in sorted(seconds, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + s)
    return max(loads)


def estimate(cache: str, profile: str, cpus: list[int]) -> dict:
    """The ``profile`` ledger's time on N CPUs from the cached per-claim CPU seconds."""
    from mlplab.experiments import claim_ids
    from mlplab.experiments.runner import cached_results

    found = cached_results(cache, profile=profile, current_only=False)
    per = {cid: res.get("cpu_seconds") or res.get("seconds") for (cid, _), res in found.items()}
    missing = [c for c in claim_ids() if c not in per]
    secs = list(per.values())
    if not secs:
        return {"profile": profile, "error": f"no cached {profile} results in {cache}; run "
                f"`mlplab reproduce --profile {profile} --cache {cache}` first"}  # fmt: skip
    total = sum(secs)
    return {
        "profile": profile,
        "tasks": len(secs),
        "missing_claims": missing,
        "total_cpu_s": total,
        "longest_task_s": max(secs),
        "by_cpus": {
            n: {"greedy_s": schedule(secs, n), "bound_s": max(total / n, max(secs))} for n in cpus
        },  # fmt: skip
    }


def main(argv=None) -> int:
    """Parse the flags, run the three measurements, print and save the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", help="ledger profile to time (default quick)")
    p.add_argument("--only", help="comma-separated claim ids (default: all)")
    p.add_argument("--repeats", type=int, default=2, help="alternating repeats (default 2)")
    p.add_argument("--cache", default=".mlplab-cache", help="cache with the estimate's results")
    p.add_argument("--estimate-profile", default=None, help="default: paper, else full")
    p.add_argument("--cpus", default="2,8,16,32,64,128", help="cluster sizes to estimate")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)

    from mlplab.experiments import parse_only
    from mlplab.experiments.base import PROFILES, get_profile

    ids = parse_only(args.only)
    prof = get_profile(args.profile)
    seeds = prof.seeds(None)
    est_profile = args.estimate_profile or ("paper" if "paper" in PROFILES else "full")
    result = {
        "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        "startup": startup(args.repeats),
        "ledger": ledger(prof.name, ids, seeds, args.repeats),
        "estimate": estimate(args.cache, est_profile, [int(c) for c in args.cpus.split(",")]),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from mlplab.io import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
