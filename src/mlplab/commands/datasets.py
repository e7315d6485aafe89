"""``mlplab datasets``: the built-in data sets with their task and shape."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "datasets",
        help="list the built-in data sets",
        description="List the built-in data sets: task, samples (all splits), features, outputs.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.data import list_datasets

    rows = [r._asdict() for r in list_datasets()]
    if args.json:
        print(json.dumps({"datasets": rows}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mlplab data sets (mlplab train --dataset NAME, or a .csv file)")
    for col, justify in (
        ("name", "left"),
        ("task", "left"),
        ("samples", "right"),
        ("features", "right"),
        ("outputs", "right"),
        ("description", "left"),
    ):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(
            r["name"],
            r["task"],
            str(r["n_samples"]),
            str(r["n_features"]),
            str(r["n_outputs"]),
            r["description"],
        )
    Console().print(table)
    return 0
