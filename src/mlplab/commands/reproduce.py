"""``mlplab reproduce``: measure every claim of the reference text and write the ledger report."""

from __future__ import annotations

import json
import os
import sys
import time


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="measure each claim of the reference text (C01–C23) and write the ledger report",
        description=(
            "Run the experiment of every claim (or those given with --only) at a budget profile, "
            "decide each verdict by its pre-written rule, and write a self-contained HTML report, "
            "claims.json and SUMMARY.md. Results are cached by claim, profile, seeds and code "
            "version, so an unchanged claim is not measured twice."
        ),
    )
    p.add_argument(
        "--profile",
        choices=["tiny", "quick", "full", "paper"],
        default="quick",
        help="budget: quick (about 2 min on 2 cores, 2 seeds; default), full (about 15 min, "
        "full MNIST, 3 seeds), paper (the published scale, 5 seeds: hours of CPU; see "
        "--dry-run) or tiny (a smoke test)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="run nothing: print the number of tasks (cells) and the estimated CPU time per "
        "claim, scaled from the measured full profile",
    )
    p.add_argument("--only", metavar="IDS", help="comma-separated claim ids, e.g. C08,C09")
    p.add_argument(
        "--seeds", type=int, metavar="N", help="run seeds 0..N-1 (default: the profile's)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="parallel worker processes (default: the CPU count, at most one per claim)",
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where tasks run: local worker processes (default) or Ray tasks (needs "
        "mlplab[ray]; a local Ray instance of --jobs CPUs, or the cluster at --address); "
        "see docs/scale-out.md",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="with --executor ray: the cluster's head HOST:PORT, or auto for the one started "
        "on this machine with `ray start --head`",
    )
    p.add_argument("--out", metavar="DIR", help="report folder (default out/reproduce-<profile>)")
    p.add_argument(
        "--cache", metavar="DIR", default=".mlplab-cache", help="cache folder (.mlplab-cache)"
    )
    p.add_argument("--no-cache", action="store_true", help="measure again even when cached")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.errors import ConfigError, check_range
    from mlplab.experiments import parse_only
    from mlplab.experiments.base import get_profile
    from mlplab.experiments.runner import cached_results, code_version, make_executor, run_claims
    from mlplab.report import write_report

    profile = get_profile(args.profile)
    ids = parse_only(args.only)
    if args.seeds is not None:
        check_range("--seeds", args.seeds, 1, 100, integer=True)
    seeds = profile.seeds(args.seeds)
    if args.jobs is not None:
        check_range("--jobs", args.jobs, 1, 256, integer=True)
    if args.address is not None and args.jobs is not None:
        raise ConfigError(
            "--jobs sets a local Ray instance's CPUs; with --address the cluster's CPUs decide"
        )
    jobs = args.jobs or max(1, min(os.cpu_count() or 1, len(ids)))
    if args.dry_run:
        return _dry_run(args, ids, profile, seeds, jobs)
    out_dir = args.out or os.path.join("out", f"reproduce-{profile.name}")

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=args.json)
    t0 = time.perf_counter()
    with (
        make_executor(jobs, kind=args.executor, address=args.address) as executor,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task(
            f"reproduce ({profile.name}, {len(seeds)} seeds, {jobs} jobs)", total=len(ids), last=""
        )

        def done(res):
            tag = " (cached)" if res.get("cached") else f" {res['seconds']:.1f} s"
            progress.update(task, advance=1, last=f"{res['id']} {res['verdict']}{tag}")

        results = run_claims(
            ids,
            profile.name,
            seeds,
            executor=executor,
            cache_dir=args.cache,
            use_cache=not args.no_cache,
            on_done=done,
        )
    wall = time.perf_counter() - t0
    compare = {}
    for other in ("quick", "full"):
        if other == profile.name:
            continue
        for (cid, _), res in cached_results(args.cache, profile=other).items():
            if cid in ids:
                compare[cid] = res
    meta = {
        "code_version": code_version(),
        "wall_seconds": wall,
        "jobs": jobs,
        "seeds": seeds,
        "cpu_count": os.cpu_count(),
        "command": "mlplab " + " ".join(sys.argv[1:]) if sys.argv[1:] else "mlplab reproduce",
    }
    paths = write_report(out_dir, results, profile=profile.name, compare=compare, meta=meta)
    if args.json:
        print(
            json.dumps(
                {
                    "profile": profile.name,
                    "report": paths["html"],
                    "wall_seconds": wall,
                    "claims": [
                        {
                            "id": r["id"],
                            "verdict": r["verdict"],
                            "rule": r["rule"],
                            "evidence": r["evidence"],
                            "breaks": r.get("breaks", ""),
                            "seconds": r["seconds"],
                            "cpu_seconds": r.get("cpu_seconds"),
                            "cells": len(r.get("cells") or []),
                        }
                        for r in results
                    ],
                }
            )
        )
    else:
        _print_table(console, results, compare, wall, jobs, paths)
    return 1 if any(r["verdict"] == "error" for r in results) else 0


def _dry_run(args, ids, profile, seeds, jobs) -> int:
    """Print the tasks and the estimated CPU time of a run without running it."""
    from mlplab.experiments.runner import estimate

    rows = estimate(ids, profile.name, seeds, cache_dir=args.cache)
    known = [r["cpu_seconds"] for r in rows if r["cpu_seconds"] is not None]
    total = sum(known)
    tasks = sum(r["cells"] for r in rows)
    unknown = [r["id"] for r in rows if r["cpu_seconds"] is None]
    if args.json:
        print(
            json.dumps(
                {
                    "profile": profile.name,
                    "seeds": seeds,
                    "tasks": tasks,
                    "estimated_cpu_seconds": total,
                    "no_estimate": unknown,
                    "claims": rows,
                }
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mlplab reproduce --profile {profile.name} (dry run, nothing measured)")
    for col in ("claim", "tasks", "estimated CPU s", "base"):
        table.add_column(col, justify="left" if col == "claim" else "right")
    for r in rows:
        cpu = "—" if r["cpu_seconds"] is None else f"{r['cpu_seconds']:,.0f}"
        table.add_row(r["id"], str(r["cells"]), cpu, r["source"])
    console = Console()
    console.print(table)
    console.print(
        f"{tasks} tasks, estimated CPU time {total:,.0f} s ({total / 3600:.1f} h); about "
        f"{total / max(1, jobs) / 60:,.0f} min on {jobs} busy cores"
        + (f"; no estimate for {', '.join(unknown)}" if unknown else "")
    )
    return 0


_STYLE = {"holds": "green", "partly": "yellow", "fails": "red", "error": "bold red"}


def _print_table(console, results, compare, wall, jobs, paths) -> None:
    from rich.table import Table

    from mlplab.report.ledger import BADGE_TEXT

    table = Table(title="mlplab claims ledger")
    for col in ("claim", "statement", "verdict", "other profile", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for r in results:
        v = r["verdict"]
        other = compare.get(r["id"])
        o = f"{other['profile']}: {other['verdict']}" if other else "—"
        table.add_row(
            r["id"],
            r["title"],
            f"[{_STYLE.get(v, 'white')}]{BADGE_TEXT.get(v, v)}[/]",
            o,
            f"{r['seconds']:.1f}" + (" (cached)" if r.get("cached") else ""),
        )
    console.print(table)
    for r in results:
        if r["verdict"] == "error":
            console.print(f"[red]{r['id']} raised {r['error']}[/]")
    from mlplab.experiments import claim_ids
    from mlplab.experiments.base import LEDGER_IDS

    missing = [c for c in LEDGER_IDS if c not in claim_ids()]
    if missing:
        console.print(f"[yellow]no experiment registered yet for {', '.join(missing)}[/]")
    cpu = sum(r.get("cpu_seconds") or 0 for r in results if not r.get("cached"))
    console.print(
        f"wall time {wall:.1f} s with {jobs} jobs (CPU {cpu:.1f} s in claims run now); "
        f"report: {paths['html']}"
    )
