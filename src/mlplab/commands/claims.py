"""``mlplab claims``: the claims of the ledger with their latest verdicts."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "claims",
        help="list the claims C01–C23 with their latest verdicts",
        description=(
            "List every claim of the ledger with the latest verdict per profile, read from the "
            "result cache and the reports under out/reproduce-*/. A verdict measured with other "
            "code than the current one is marked stale."
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--cache", metavar="DIR", default=".mlplab-cache", help="cache folder (.mlplab-cache)"
    )
    p.add_argument(
        "--out-root", metavar="DIR", default="out", help="folder holding reproduce-*/ reports"
    )
    p.set_defaults(func=run)


def latest_verdicts(cache_dir, out_root) -> dict:
    """``{(claim, profile): entry}`` — the newest result of each claim per profile."""
    from mlplab.experiments.runner import cached_results, code_version
    from mlplab.report import load_claims_json

    found: dict[tuple[str, str], dict] = {}

    def offer(entry):
        key = (entry["id"], entry["profile"])
        if key not in found or entry.get("finished", "") > found[key].get("finished", ""):
            found[key] = entry

    for res in cached_results(cache_dir, current_only=False).values():
        offer(res)
    root = Path(out_root)
    if root.is_dir():
        for path in sorted(root.glob("reproduce-*/claims.json")):
            data = load_claims_json(path) or {}
            for entry in data.get("claims", []):
                if "id" in entry and "profile" in entry:
                    offer({**entry, "report": data.get("report")})
    current = code_version()
    for entry in found.values():
        entry["stale"] = entry.get("code_version") != current
    return found


def run(args) -> int:
    from mlplab.experiments import all_experiments

    found = latest_verdicts(args.cache, args.out_root)
    profiles = [p for p in ("quick", "full", "paper", "tiny") if any(k[1] == p for k in found)]
    claims = []
    for exp in all_experiments():
        verdicts = {}
        for p in profiles:
            e = found.get((exp.id, p))
            if e:
                verdicts[p] = {
                    "verdict": e["verdict"],
                    "evidence": e.get("evidence", ""),
                    "seconds": e.get("seconds"),
                    "seeds": e.get("seeds"),
                    "finished": e.get("finished"),
                    "stale": e["stale"],
                }
        claims.append({**exp.describe(), "verdicts": verdicts})
    from mlplab.experiments.base import LEDGER_IDS

    missing = [c for c in LEDGER_IDS if c not in {x["id"] for x in claims}]
    if args.json:
        print(json.dumps({"claims": claims, "without_experiment": missing}))
        return 0
    from rich.console import Console
    from rich.table import Table

    style = {"holds": "green", "partly": "yellow", "fails": "red", "error": "bold red"}
    table = Table(title="claims of the reference text")
    for col in ("id", "claim", "§", *profiles):
        table.add_column(col)
    for c in claims:
        cells = []
        for p in profiles:
            v = c["verdicts"].get(p)
            if v is None:
                cells.append("[dim]not run[/]")
            else:
                stale = " [dim](stale)[/]" if v["stale"] else ""
                cells.append(f"[{style.get(v['verdict'], 'white')}]{v['verdict']}[/]{stale}")
        table.add_row(c["id"], c["title"], c["section"], *cells)
    Console().print(table)
    if missing:
        Console().print(f"no experiment registered yet for {', '.join(missing)}")
    if not profiles:
        Console().print("no verdicts yet: run `mlplab reproduce`")
    return 0
