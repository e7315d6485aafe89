"""``mlplab sweep``: a hyperparameter sweep over ``mlplab train`` settings on Ray Tune.

Every trial is an ordinary run folder under ``DIR/trials/``; the results are a table
(``DIR/results.csv`` and ``.json``), the best trial (``DIR/best.json``) and one figure per swept
setting (``DIR/figures/``).  See :mod:`mlplab.sweep` and docs/scale-out.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DESCRIPTION = """\
Train one model per point of a parameter space, each into an ordinary run folder (the same
checkpoints, resume and metrics as `mlplab train`), on a local Ray instance or a Ray cluster
(--address), and tabulate the results. Every `mlplab train` flag given here is a fixed setting
of all trials. Examples:
  mlplab sweep --dataset moons --epochs 5 --grid lr=1e-3,1e-2 --grid hidden=64,256x256 --seeds 3
  mlplab sweep --dataset moons --sample lr=1e-4:1e-1:log --sample dropout=0:0.5 --trials 20 --asha
  mlplab sweep --space sweep.yaml --out runs/sweep1   ...   mlplab sweep --resume runs/sweep1
"""


def register(sub) -> None:
    from mlplab import runs

    p = sub.add_parser(
        "sweep",
        help="a hyperparameter sweep of mlplab train runs on Ray Tune (grid, random, ASHA)",
        description=DESCRIPTION,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("space")
    g.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="grid values of a train setting (list settings: 256x256); repeatable",
    )
    g.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="random-search axis: LO:HI, LO:HI:log, LO:HI:int or choices A,B; repeatable",
    )
    g.add_argument(
        "--trials", type=int, metavar="N", help="random draws of the --sample axes (default 10)"
    )
    g.add_argument(
        "--seeds", type=int, metavar="N", help="run every point with seeds --seed … --seed+N-1"
    )
    g.add_argument("--space", metavar="FILE", help="a JSON or YAML sweep file (see docs)")
    g.add_argument(
        "--metric", default=None, help="per-epoch metric to compare and for ASHA (default val_loss)"
    )
    g.add_argument("--mode", choices=["min", "max"], help="default: min for losses, else max")
    g.add_argument("--asha", action="store_true", help="stop bad trials early (ASHA)")
    for flag, default, metavar, text in (
        ("--sample-seed", 0, "S", "seed of the random draws (default 0)"),
        ("--grace-period", 1, "E", "ASHA: epochs every trial gets (default 1)"),
        ("--reduction-factor", 3, "F", "ASHA: keep 1/F of the trials at each rung (default 3)"),
    ):
        g.add_argument(flag, type=int, default=default, metavar=metavar, help=text)
    r = p.add_argument_group("where")
    r.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster HOST:PORT, or auto for the one started on this machine "
        "(default: a local Ray instance)",
    )
    r.add_argument(
        "--cpus", type=int, metavar="N", help="CPUs of the local Ray instance (default: all)"
    )
    r.add_argument(
        "--cpus-per-trial",
        type=float,
        default=1.0,
        metavar="C",
        help="CPUs Ray reserves per trial (default 1)",
    )
    r.add_argument("--out", metavar="DIR", help="sweep folder (default runs/sweep-<time>)")
    r.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    runs.add_data_args(p)
    runs.add_model_args(p)
    runs.add_train_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.cluster import require_ray
    from mlplab.errors import ConfigError, check_range
    from mlplab.io import atomic_write_json

    check_range("--cpus-per-trial", args.cpus_per_trial, 0, None, lo_open=True)
    if args.cpus is not None:
        check_range("--cpus", args.cpus, 1, None, integer=True)
    if args.address is not None and args.cpus is not None:
        raise ConfigError(
            "--cpus sets a local Ray instance's CPUs; with --address the cluster's CPUs decide"
        )
    if args.resume:
        sweep_dir = Path(args.resume)
        spec = _read_spec(sweep_dir)
        given = _space_flags(args)
        if given:
            raise ConfigError(f"--resume keeps the sweep's saved space; drop {', '.join(given)}")
    else:
        spec = build_spec(args)
        sweep_dir = Path(args.out or _default_out())
        if (sweep_dir / "sweep.json").exists():
            raise ConfigError(
                f"--out {sweep_dir} already holds a sweep; continue it with --resume {sweep_dir}"
            )
    require_ray("mlplab sweep")
    if args.address is not None:
        from mlplab.cluster import check_address

        check_address(args.address)
    from rich.console import Console

    from mlplab.sweep.results import write_results
    from mlplab.sweep.tuning import run_sweep

    console = Console(stderr=True, highlight=False)
    if not args.resume:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(sweep_dir / "sweep.json", spec)
    n = len(spec["trials"])
    console.print(f"sweep {sweep_dir}: {n} trials, metric {spec['metric']} ({spec['mode']})"
                  + (", ASHA" if spec.get("asha") else ""))  # fmt: skip
    try:
        info = run_sweep(sweep_dir, spec, address=args.address, num_cpus=args.cpus,
                         cpus_per_trial=args.cpus_per_trial,
                         progress=not args.json)  # fmt: skip
    except KeyboardInterrupt:
        print(f"mlplab sweep: interrupted; continue with `mlplab sweep --resume {sweep_dir}`",
              file=sys.stderr)  # fmt: skip
        return 130
    res = write_results(sweep_dir, spec)
    best = res["best"]
    if args.json:
        print(json.dumps({"sweep": str(sweep_dir), **info, "results": res["paths"],
                          "best": best}, default=str))  # fmt: skip
    else:
        _print_table(console, res["rows"], spec, best, info, res["paths"])
    return 1 if info["errors"] else 0


def _default_out() -> str:
    return str(Path("runs") / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")


def _space_flags(args) -> list[str]:
    """The space-defining flags given (not allowed with --resume)."""
    from mlplab import runs

    given = [f for f, v in (("--grid", args.grid), ("--sample", args.sample),
                            ("--trials", args.trials), ("--seeds", args.seeds),
                            ("--space", args.space), ("--metric", args.metric),
                            ("--asha", args.asha)) if v]  # fmt: skip
    given += [runs.flag(k) for k in runs.given_settings(args)]
    return given


def _read_spec(sweep_dir: Path) -> dict:
    from mlplab.errors import ConfigError
    from mlplab.sweep.tuning import SWEEP_FORMAT

    try:
        spec = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"--resume {sweep_dir}: no readable sweep.json there") from None
    if spec.get("format") != SWEEP_FORMAT:
        raise ConfigError(f"--resume {sweep_dir}: sweep.json is not an mlplab sweep")
    return spec


def build_spec(args) -> dict:
    """The sweep.json dict from the command line (and --space file): axes, trials, metric."""
    from mlplab import runs
    from mlplab.errors import ConfigError, check_range
    from mlplab.sweep.space import (
        axis_from_spec,
        expand,
        load_space_file,
        parse_axis,
        parse_value,
        setting_name,
        trial_config,
    )
    from mlplab.sweep.tuning import SWEEP_FORMAT, metric_mode

    data = load_space_file(args.space) if args.space else {}
    base = {}
    for key, value in (data.get("settings") or {}).items():
        name = setting_name(key, "settings")
        base[name] = parse_value(name, value)
    base.update(runs.given_settings(args))
    axes = [axis_from_spec(setting_name(k, "grid"), v, sample=False)
            for k, v in (data.get("grid") or {}).items()]  # fmt: skip
    axes += [axis_from_spec(setting_name(k, "sample"), v, sample=True)
             for k, v in (data.get("sample") or {}).items()]  # fmt: skip
    axes += [parse_axis(t) for t in args.grid]
    axes += [parse_axis(t, sample=True) for t in args.sample]
    seeds = args.seeds if args.seeds is not None else data.get("seeds")
    trials = args.trials if args.trials is not None else data.get("trials")
    first_seed = int(base.pop("seed", 0)) if seeds is not None else 0
    expanded = expand(axes, seeds=seeds, first_seed=first_seed, trials=trials,
                      sample_seed=args.sample_seed)  # fmt: skip
    epochs = set()
    for t in expanded:  # every trial's settings are checked before anything runs
        epochs.add(trial_config(base, t["settings"]).epochs)
    metric = args.metric or data.get("metric") or "val_loss"
    if not (metric.startswith("train_") or metric.startswith("val_")):
        raise ConfigError(f"--metric must be a per-epoch metric (train_… or val_…), got {metric!r}")
    mode = args.mode or data.get("mode") or metric_mode(metric)
    asha = None
    if args.asha or data.get("asha"):
        check_range("--grace-period", args.grace_period, 1, None, integer=True)
        check_range("--reduction-factor", args.reduction_factor, 2, None, integer=True)
        asha = {"max_epochs": max(epochs), "grace_period": args.grace_period,
                "reduction_factor": args.reduction_factor}  # fmt: skip
    return {
        "format": SWEEP_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "mlplab " + " ".join(sys.argv[1:]),
        "base": base,
        "axes": [a.to_dict() for a in axes],
        "seeds": seeds,
        "metric": metric,
        "mode": mode,
        "asha": asha,
        "trials": expanded,
    }


def _print_table(console, rows, spec, best, info, paths) -> None:
    from rich.table import Table

    metric = spec["metric"]
    swept = [a["name"] for a in spec["axes"]] + (["seed"] if spec.get("seeds") else [])
    tests = [k for k in ("test_accuracy", "test_r2", "test_rmse") if any(k in r for r in rows)]
    table = Table(title=f"sweep: {metric} ({spec['mode']})")
    for col in ["trial", *swept, "status", "epochs", metric, *tests, "seconds"]:
        table.add_column(col)
    fmt = lambda v: "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    for r in rows:
        table.add_row(*[fmt(r.get(c)) for c in ["trial", *swept, "status", "epochs", metric,
                                                 *tests, "seconds"]])  # fmt: skip
    console.print(table)
    bt, bs = best["best_trial"], best["best_setting"]
    if bt:
        console.print(f"best trial {bt['trial']}: {metric} {bt[metric]:.4g} ({bt['run']})")
    if bs:
        shown = ", ".join(f"{k}={v}" for k, v in bs.items() if k not in ("mean", "seeds"))
        console.print(f"best setting (mean of {bs['seeds']} seed(s)): {shown}: {bs['mean']:.4g}")
    stopped = f", {len(info['stopped'])} stopped by ASHA" if info["stopped"] else ""
    figures = Path(paths["csv"]).parent / "figures"
    console.print(
        f"{info['ran']} trial(s) run, {info['skipped']} already done{stopped}; "
        f"table {paths['csv']}, figures in {figures}"
    )
    for tid, err in info["errors"].items():
        console.print(f"[red]{tid} raised: {err}[/]")
