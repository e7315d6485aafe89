"""``mlplab xor``: one layer cannot, two layers can, and without a nonlinearity depth is
one linear map."""

from __future__ import annotations

import json

from mlplab.errors import ConfigError


def _int_list(text: str, field: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{field} must be comma-separated integers; got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{field} must list positive integers; got {text!r}")
    return values


def register(sub) -> None:
    p = sub.add_parser(
        "xor",
        help="XOR: the perceptron cycles, a hand-built two-layer net solves it, trained nets too",
        description=(
            "XOR in four parts: the perceptron on the four points (no mistake-free epoch, a "
            "weight cycle), the hand-built step network (h1 = x1 AND NOT x2, h2 = NOT x1 AND "
            "x2, y = h1 OR h2) and its truth table, the success rate of trained 2-H-1 MLPs over "
            "seeds per activation and width, and the linear collapse: identity activations "
            "make any depth one affine map, and the best linear classifier gets 3 of 4 points."
        ),
    )
    p.add_argument("--seeds", type=int, default=50, help="seeds per cell (default 50)")
    p.add_argument("--epochs", type=int, default=500, help="full-batch Adam steps (default 500)")
    p.add_argument("--lr", type=float, default=0.1, help="Adam learning rate (default 0.1)")
    p.add_argument("--widths", default="2,3,4,8", help="hidden widths H (default 2,3,4,8)")
    p.add_argument("--activations", default="sigmoid,tanh,relu", help="default sigmoid,tanh,relu")
    p.add_argument("--plot", metavar="FILE", help="write boundaries + hidden views (.png/.svg)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.core.activations import get_activation
    from mlplab.errors import check_range
    from mlplab.perceptron import Perceptron
    from mlplab.xor import (
        XOR_X,
        XOR_Y,
        best_linear_accuracy,
        hand_built_xor,
        least_squares_xor,
        linear_collapse_check,
        train_xor,
        xor_truth_table,
    )

    seeds = check_range("--seeds", args.seeds, 1, 10000, integer=True)
    check_range("--epochs", args.epochs, 1, None, integer=True)
    check_range("--lr", args.lr, 0.0, None, lo_open=True)
    widths = _int_list(args.widths, "--widths")
    activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    if not activations:
        raise ConfigError("--activations must name at least one activation")
    for a in activations:
        if not get_activation(a).differentiable:
            raise ConfigError(f"--activations: {a!r} has no gradient; pick differentiable ones")
    if args.plot:  # fail on a bad file name before the training, not after
        from mlplab.perceptron_plots import plot_format

        plot_format(args.plot)

    perc = Perceptron(epochs=1000, compute_bound=True).fit(XOR_X, XOR_Y).result_
    net = hand_built_xor()
    table = xor_truth_table(net)
    runs = [
        train_xor(a, w, range(seeds), epochs=args.epochs, lr=args.lr)
        for a in activations
        for w in widths
    ]
    collapse = linear_collapse_check()
    best = best_linear_accuracy()
    lsq = least_squares_xor()
    out = {
        "perceptron": {
            "epochs": perc.epochs,
            "mistake_free_epoch": perc.converged,
            "min_mistakes_per_epoch": min(perc.mistakes_per_epoch),
            "separable": perc.separable,
            "cycle_detected": perc.cycle_detected,
            "cycle_length": perc.cycle_length,
            "cycle_start": perc.cycle_start,
        },
        "hand_built": {
            "truth_table": table,
            "exact": all(row["y"] == int(t) for row, t in zip(table, XOR_Y)),
        },
        "trained": {
            "seeds": seeds,
            "epochs": args.epochs,
            "optimizer": "adam",
            "lr": args.lr,
            "success": "all four points classified correctly after the budget",
            "cells": [
                {
                    "activation": r.activation,
                    "width": r.width,
                    "rate": r.rate,
                    "n_success": int(sum(r.success)),
                }
                for r in runs
            ],
        },
        "linear_collapse": {
            "sizes": collapse["sizes"],
            "max_abs_diff": collapse["max_abs_diff"],
        },
        "best_linear_accuracy": best["best_accuracy"],
        "separable_labellings": f"{best['n_separable']}/{best['n_labellings']}",
        "least_squares": {"w": lsq["w"], "b": lsq["b"], "predictions": lsq["predictions"]},
    }
    if args.plot:
        from mlplab.perceptron_plots import save_figure, xor_network_figure

        panels = [("hand-built (step)", net)]
        pick = next((r for r in runs if r.width == 2 and any(r.success)), None)
        pick = pick or next((r for r in runs if any(r.success)), None)
        if pick is not None:
            k = pick.success.index(True)
            _, nets = train_xor(
                pick.activation,
                pick.width,
                [pick.seeds[k]],
                epochs=args.epochs,
                lr=args.lr,
                return_networks=True,
            )
            panels.append((f"{pick.activation} H={pick.width} seed {pick.seeds[k]}", nets[0]))
        save_figure(xor_network_figure(panels), args.plot)
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out))
    else:
        _summary(out, activations, widths)
    return 0


def _summary(out: dict, activations, widths) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console()
    p = out["perceptron"]
    if p["cycle_detected"]:
        c.print(
            f"[bold]perceptron[/] on the four XOR points: {p['epochs']} epochs, never a "
            f"mistake-free epoch (min {p['min_mistakes_per_epoch']} per epoch); weights cycle "
            f"with period {p['cycle_length']} epoch(s) from epoch {p['cycle_start']}"
        )
    else:
        c.print(
            f"[bold]perceptron[/] on XOR: {p['epochs']} epochs, "
            f"mistake-free epoch: {p['mistake_free_epoch']}"
        )
    c.print(
        "[bold]hand-built step network[/]: h1 = x1 AND NOT x2, h2 = NOT x1 AND x2, y = h1 OR h2"
    )
    t = Table()
    for col in ("x1", "x2", "h1", "h2", "z_out", "y"):
        t.add_column(col, justify="right")
    for row in out["hand_built"]["truth_table"]:
        t.add_row(*(f"{row[k]:g}" for k in ("x1", "x2", "h1", "h2", "z_out", "y")))
    c.print(t)
    c.print(
        "truth table exact: " + ("[green]yes[/]" if out["hand_built"]["exact"] else "[red]NO[/]")
    )
    tr = out["trained"]
    c.print(
        f"[bold]trained 2-H-1 nets[/]: share of {tr['seeds']} seeds with all four points right "
        f"(Adam lr {tr['lr']:g}, {tr['epochs']} full-batch steps)"
    )
    t = Table()
    t.add_column("activation")
    for w in widths:
        t.add_column(f"H={w}", justify="right")
    cells = {(d["activation"], d["width"]): d for d in tr["cells"]}
    for a in activations:
        t.add_row(a, *(f"{cells[(a, w)]['rate']:.2f}" for w in widths))
    c.print(t)
    lc = out["linear_collapse"]
    c.print(
        f"linear collapse: identity net {lc['sizes']} vs its single W x + b: "
        f"max |diff| = {lc['max_abs_diff']:.2e}"
    )
    c.print(
        f"best linear classifier on XOR: accuracy {out['best_linear_accuracy']:.2f} "
        f"({out['separable_labellings']} labellings are linearly separable)"
    )
    preds = ", ".join(f"{v:.3f}" for v in out["least_squares"]["predictions"])
    c.print(f"least-squares linear fit predicts: {preds}")
    if out.get("plot"):
        c.print(f"plot written to {out['plot']}", markup=False)
