"""``mlplab perceptron``: Rosenblatt's rule on a data set — mistakes, convergence, Novikoff's
bound, cycles on non-separable data, the pocket variant, one-vs-rest for several classes."""

from __future__ import annotations

import json

from mlplab.errors import ConfigError, DataError


def register(sub) -> None:
    p = sub.add_parser(
        "perceptron",
        help="train Rosenblatt's perceptron; mistakes vs Novikoff's bound, cycles on XOR",
        description=(
            "Train the perceptron (w <- w + lr*y*x on each mistake, points in a fixed order) on "
            "the training split of a data set. Reports mistakes per epoch, convergence (an "
            "epoch without mistakes), Novikoff's bound (R/gamma)^2 with the bias folded in as a "
            "constant input 1 (null when the data are not linearly separable), and a detected "
            "cycle of the weights, which proves the rule never converges."
        ),
    )
    p.add_argument(
        "--dataset",
        default="and",
        metavar="NAME|FILE.csv",
        help="and, or, xor (the four points of the truth table), separable, any other "
        "built-in classification set (e.g. blobs, moons), or a CSV file (default: and)",
    )
    p.add_argument("--target", help="target column of a CSV file")
    p.add_argument("--epochs", type=int, default=1000, help="maximum epochs (default 1000)")
    p.add_argument("--lr", type=float, default=1.0, help="learning rate eta > 0 (default 1)")
    p.add_argument("--margin", type=float, help="margin gamma of the 'separable' set, in (0, 0.5]")
    p.add_argument("--n-samples", type=int, help="number of samples of a generated set")
    p.add_argument("--noise", type=float, help="noise level of a generated set")
    p.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    p.add_argument(
        "--pocket", action="store_true", help="keep the best weights seen (pocket algorithm)"
    )
    p.add_argument("--plot", metavar="FILE", help="write the decision boundary (.png/.svg/.pdf)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlplab.data import load_dataset
    from mlplab.perceptron import Perceptron, margin_of

    model = Perceptron(lr=args.lr, epochs=args.epochs, pocket=args.pocket)
    if args.plot:
        from mlplab.perceptron_plots import plot_format

        plot_format(args.plot)
    name = "xor4" if args.dataset == "xor" else args.dataset
    options = {"margin": args.margin}
    options = {k: v for k, v in options.items() if v is not None}
    ds = load_dataset(
        name,
        seed=args.seed,
        target=args.target,
        n_samples=args.n_samples,
        noise=args.noise,
        **options,
    )
    if ds.task not in ("binary", "multiclass"):
        raise DataError(
            f"the perceptron classifies; data set {args.dataset!r} has task {ds.task!r}"
        )
    if args.plot and ds.n_features != 2:
        raise ConfigError(f"--plot needs 2 input features; {args.dataset!r} has {ds.n_features}")
    X, y = ds.X_train, ds.y_train
    model.fit(X, y)
    r = model.result_
    out = {
        "dataset": args.dataset,
        "n_train": int(len(X)),
        "n_features": int(ds.n_features),
        "classes": [int(c) for c in model.classes_],
        "lr": float(args.lr),
        "max_epochs": int(args.epochs),
        "pocket": bool(args.pocket),
        "converged": r.converged,
        "epochs": r.epochs,
        "mistakes": r.mistakes,
        "mistakes_per_epoch": r.mistakes_per_epoch,
        "bound": r.bound,
        "R": r.R,
        "gamma": r.gamma,
        "separable": r.separable,
        "within_bound": None if r.bound is None else bool(r.mistakes <= r.bound),
        "cycle_detected": r.cycle_detected,
        "cycle_length": r.cycle_length,
        "cycle_start": r.cycle_start,
        "accuracy": r.accuracy,
        "last_accuracy": r.last_accuracy,
        "test_accuracy": model.score(ds.X_test, ds.y_test) if len(ds.X_test) else None,
    }
    if "w_star" in ds.meta and len(model.classes_) == 2:
        # the generator's separator, as a unit vector of the augmented space (x, 1)
        out["generator_gamma"] = margin_of(X, y, ds.meta["w_star"], ds.meta["b_star"])
    if args.plot:
        from mlplab.perceptron_plots import perceptron_figure, save_figure

        fig = perceptron_figure([(f"perceptron on {args.dataset}", model, X, y)], ncols=1)
        save_figure(fig, args.plot)
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out))
    else:
        _summary(out)
    return 0


def _summary(out: dict) -> None:
    from rich.console import Console

    c = Console()
    c.print(
        f"[bold]perceptron[/] on {out['dataset']}: {out['n_train']} points, "
        f"{out['n_features']} features, classes {out['classes']}, lr {out['lr']:g}"
        + (", pocket" if out["pocket"] else "")
    )
    mpe = out["mistakes_per_epoch"]
    shown = ", ".join(map(str, mpe[:15])) + (", …" if len(mpe) > 15 else "")
    c.print(f"mistakes per epoch: {shown}")
    if out["converged"]:
        c.print(f"[green]converged[/] after {out['epochs']} epochs, {out['mistakes']} mistakes")
    else:
        c.print(f"[red]not converged[/] in {out['epochs']} epochs ({out['mistakes']} mistakes)")
    if out["bound"] is not None:
        c.print(
            f"Novikoff: R = {out['R']:.4g} (bias as input 1), γ = {out['gamma']:.4g} "
            f"(max margin), bound (R/γ)² = {out['bound']:.1f}; mistakes / bound = "
            f"{out['mistakes'] / out['bound']:.3f}"
        )
    elif out["separable"] is False:
        c.print("not linearly separable (LP check): no mistake bound")
    if out["cycle_detected"]:
        c.print(
            f"cycle: the weights at the start of epoch {out['cycle_start'] + out['cycle_length']}"
            f" equal those of epoch {out['cycle_start']} (period {out['cycle_length']} "
            "epoch(s)) — it will never converge"
        )
    c.print(
        f"training accuracy {out['accuracy']:.4f}"
        + (f" (last weights {out['last_accuracy']:.4f})" if out["pocket"] else "")
        + (
            f", test accuracy {out['test_accuracy']:.4f}"
            if out["test_accuracy"] is not None
            else ""
        )
    )
    if out.get("plot"):
        c.print(f"plot written to {out['plot']}", markup=False)
