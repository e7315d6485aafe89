"""``mlplab predict``: predictions (and class probabilities) of a saved run for a CSV file."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the rows of a CSV file with a saved run",
        description=(
            "Read FILE.csv (a header row; the columns must be the run's training features, in "
            "any order; target columns are ignored), apply the run's saved input scaler and "
            "write one row per input: the prediction and, for classifiers, p_<class> columns."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by `mlplab train`")
    p.add_argument("csv", metavar="FILE.csv", help="raw inputs, one row per sample")
    p.add_argument("--out", default=None, metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.io import atomic_write_text
    from mlplab.runs import predict_csv

    text = predict_csv(args.run_dir, args.csv)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
        n = text.count("\n") - 1
        print(f"{n} predictions written to {args.out}", file=sys.stderr)
    return 0
