"""``mlplab evaluate``: metrics of a saved run on its test split or on another data set."""

from __future__ import annotations

import json
import math


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="re-evaluate a saved run on its test split or another data set",
        description=(
            "Evaluate the model of a run folder (model.npz, or its checkpoint if training was "
            "interrupted). Without --dataset the split is rebuilt from the run's saved settings; "
            "another data set or CSV file is mapped with the run's saved input scaler."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by `mlplab train`")
    p.add_argument("--dataset", default=None, metavar="NAME|FILE.csv", help="another data set")
    p.add_argument(
        "--target", default=None, metavar="COL[,COL]", help="target column(s) of a CSV file"
    )
    p.add_argument("--data-dir", default=None, metavar="DIR", help="mnist: another MNIST folder")
    p.add_argument(
        "--split", default="test", choices=["train", "val", "test"], help="which split (test)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.runs import evaluate_run

    target = None if args.target is None else [t.strip() for t in args.target.split(",")]
    res = evaluate_run(
        args.run_dir,
        dataset=args.dataset,
        target=target,
        data_dir=args.data_dir,
        split=args.split,
    )
    if args.json:
        print(json.dumps(_jsonable(res)))
    else:
        _print(res)
    return 0


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def _print(res: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    title = f"{res['run']} on {res['dataset']} ({res['split']}, n = {res['n']}; {res['weights']})"
    table = Table(title=escape(title))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in res.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n":
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)
    cm = res.get("confusion_matrix")
    if cm is not None and len(cm) <= 20:
        names = res.get("class_names") or [str(i) for i in range(len(cm))]
        t = Table(title="confusion matrix (rows: true, columns: predicted)")
        t.add_column("")
        for n in names:
            t.add_column(escape(n), justify="right")
        for n, row in zip(names, cm):
            t.add_row(escape(n), *map(str, row))
        console.print(t)
