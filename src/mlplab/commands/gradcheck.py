"""``mlplab gradcheck``: hand backprop vs torch autograd and central differences, in float64."""

from __future__ import annotations

import json

from mlplab.commands.argtypes import nonnegative_int


def register(sub) -> None:
    """Add the ``gradcheck`` subcommand to the CLI's parser."""
    p = sub.add_parser(
        "gradcheck",
        help="check every gradient against torch autograd and central differences",
        description=(
            "Check, in float64, every activation, every head, every layer type (dropout with a "
            "fixed mask, batch and layer norm in training mode, prelu) and a few whole networks "
            "against torch autograd and central differences. Exits 0 only when all pass."
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of the random test points (default 0)"
    )
    p.add_argument(
        "--no-torch",
        action="store_true",
        help="central differences only (when PyTorch is not installed)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the checks (central differences; torch autograd unless ``--no-torch``), print the
    table or JSON; exit status 0 only when every case passes."""
    if args.no_torch:
        from mlplab.core.gradcheck import run_gradcheck

        report = run_gradcheck(args.seed)
    else:
        try:
            import torch  # noqa: F401
        except ImportError:
            from mlplab.errors import ConfigError

            raise ConfigError(
                "PyTorch is not installed: pip install 'mlplab[torch]', or pass --no-torch"
            ) from None
        from mlplab.backends.torch_gradcheck import run_gradcheck

        report = run_gradcheck(args.seed)
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report)
    return 0 if report["ok"] else 1


def _fmt(x):
    return "—" if x is None else f"{x:.1e}"


def _print_table(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mlplab gradcheck (float64)")
    for col in ("case", "kind", "vs torch", "vs central diff.", "ok"):
        table.add_column(col)
    for c in report["cases"]:
        table.add_row(
            c["name"],
            c["kind"],
            _fmt(c["max_rel_err_torch"]),
            _fmt(c["max_rel_err_fd"]),
            "[green]yes[/]" if c["ok"] else "[red]NO[/]",
        )
    console = Console()
    console.print(table)
    console.print(
        f"max relative error: torch {_fmt(report['max_rel_err_torch'])} "
        f"(tolerance {report['tolerance_torch']:.0e}), central differences "
        f"{_fmt(report['max_rel_err_fd'])} (tolerance {report['tolerance_fd']:.0e}) — "
        + ("[green]all pass[/]" if report["ok"] else "[red]FAILURES[/]")
    )
