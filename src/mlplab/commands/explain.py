"""``mlplab explain DIR --index I``: which inputs one prediction of a trained run depends on."""

from __future__ import annotations

import json
from pathlib import Path

from mlplab.explain import IG_STEPS, IG_TOLERANCE, METHODS, RULES


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="attribution map of one prediction (saliency, gradient x input, Integrated Gradients)",
        description=(
            "Explain one prediction of a trained run: the attribution of each input feature to "
            "F, the logit (or, with --wrt output, the probability) of the target class. "
            "Methods: saliency |dF/dx|, gradxinput x*dF/dx, and ig (Integrated Gradients, "
            "Sundararajan et al. 2017) whose attributions add up to F(x) - F(baseline); the "
            "number of integration steps is raised "
            f"({', '.join(map(str, IG_STEPS))}) until that completeness error is within "
            f"{IG_TOLERANCE:.0%}, and the error is printed. Images are drawn beside the input, "
            "tabular features as a bar chart."
        ),
    )
    p.add_argument("dir", metavar="DIR", help="run folder (from `mlplab train`)")
    p.add_argument("--index", type=int, required=True, metavar="I", help="row of the split")
    p.add_argument(
        "--split",
        default="test",
        choices=["train", "val", "test"],
        help="split the row is taken from (default test)",
    )
    p.add_argument("--method", default="ig", choices=list(METHODS), help="(ig)")
    p.add_argument(
        "--target",
        default=None,
        metavar="CLASS",
        help="class to explain, by id or name (default: the predicted class)",
    )
    p.add_argument(
        "--baseline",
        default="zeros",
        choices=["zeros", "mean"],
        help="IG baseline: all-zero input or the training mean (default zeros)",
    )
    p.add_argument(
        "--wrt",
        default="logit",
        choices=["logit", "output"],
        help="F is the target's logit (default) or its probability / predicted value",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="IG: fixed number of integration points instead of the automatic schedule",
    )
    p.add_argument(
        "--rule",
        default="riemann_trapezoid",
        choices=list(RULES),
        help="IG quadrature rule (default riemann_trapezoid)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="figure path (default DIR/explain_<split><I>_<method>.png)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(func=run)


def _target(arg, class_names, n_out: int, task: str):
    """A class id from an id or a class name."""
    from mlplab.errors import ConfigError

    if arg is None:
        return None
    names = list(class_names or [])
    if arg in names:
        return names.index(arg)
    try:
        k = int(arg)
    except ValueError:
        raise ConfigError(
            f"--target must be a class id or one of {', '.join(names[:20])}; got {arg!r}"
        ) from None
    hi = 1 if task == "binary" else n_out - 1
    if not 0 <= k <= hi:
        raise ConfigError(f"--target must be in [0, {hi}]; got {k}")
    return k


def run(args) -> int:
    from mlplab import runs
    from mlplab.diagnostics.figures import attribution_figure
    from mlplab.errors import ConfigError
    from mlplab.explain import explain
    from mlplab.io import atomic_write_bytes
    from mlplab.runs.workflow import resolved_saved, same_data

    run_dir = runs.RunDir.open(args.dir)
    spec = run_dir.read_spec()
    cfg = runs.RunConfig.from_dict(spec["config"], source=str(run_dir.spec_path))
    model, source = run_dir.load_model()
    ds = same_data(
        resolved_saved(cfg, run_dir),
        spec,
        consequence=f"--index {args.index} would pick another row than the run's own splits hold",
    )
    X, y = getattr(ds, f"X_{args.split}"), getattr(ds, f"y_{args.split}")
    if not 0 <= args.index < len(X):
        raise ConfigError(
            f"--index must be in [0, {len(X) - 1}] for the {args.split} split; got {args.index}"
        )
    if args.method != "ig" and (args.steps is not None or args.baseline != "zeros"):
        raise ConfigError("--steps and --baseline apply to --method ig only")
    x = X[args.index]
    target = _target(args.target, ds.class_names, model.output_dim, ds.task)
    options = {"wrt": args.wrt}
    if args.method == "ig":
        options.update(
            baseline="zeros" if args.baseline == "zeros" else ds.X_train.mean(axis=0),
            steps=args.steps,
            rule=args.rule,
        )
    att = explain(model, x, args.method, target, **options)
    names = ds.class_names
    pred = model.predict(x[None, :])
    label = y[args.index]
    info = {
        "run": str(run_dir.path),
        "weights": source,
        "split": args.split,
        "index": args.index,
        "label": _name(label, names),
        "prediction": _name(pred[0], names),
        "target_name": _name(att.target, names),
        "baseline": args.baseline if args.method == "ig" else None,
    }
    shape = ds.image_shape
    title = (
        f"{ds.name} {args.split}[{args.index}]: label {info['label']}, predicted "
        f"{info['prediction']}; {args.method} of the {args.wrt} of {info['target_name']}"
    )
    out = (
        Path(args.out)
        if args.out
        else run_dir.file(f"explain_{args.split}{args.index}_{args.method}.png")
    )
    atomic_write_bytes(
        out,
        attribution_figure(att, image_shape=shape, feature_names=ds.feature_names, title=title),
    )
    info["figure"] = str(out)
    if args.json:
        print(json.dumps({**info, **att.to_dict()}, allow_nan=False))
        return 0
    _print(info, att, ds.feature_names, shape)
    return 0


def _name(k, names):
    import numpy as np

    if np.ndim(k) > 0:
        return [int(v) for v in np.ravel(k)]
    if isinstance(k, (float, np.floating)) and not float(k).is_integer():
        return float(k)
    k = int(k)
    return names[k] if names is not None and 0 <= k < len(names) else k


def _print(info, att, feature_names, shape) -> None:
    import numpy as np
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False)
    out.print(
        f"[bold]{info['split']}\\[{info['index']}][/]: label {escape(str(info['label']))}, "
        "predicted "
        f"{escape(str(info['prediction']))}; explaining the {att.wrt} of "
        f"{escape(str(info['target_name']))} "
        f"with {att.method} (weights: {info['weights']})"
    )
    s = float(np.sum(att.attributions))
    if att.method == "ig":
        out.print(
            f"F(x) = {att.value:.6g}, F(baseline {info['baseline']}) = {att.baseline_value:.6g}, "
            f"Σ attributions = {s:.6g}"
        )
        ok = att.completeness_relative is not None and att.completeness_relative <= IG_TOLERANCE
        rel = "n/a" if att.completeness_relative is None else f"{att.completeness_relative:.2%}"
        tried = ", ".join(
            f"{t['steps']}: {'n/a' if t['relative'] is None else format(t['relative'], '.2%')}"
            for t in att.tried
        )
        out.print(
            f"completeness error |Σ − (F(x) − F(x′))| = {att.completeness_error:.3g} ({rel}) "
            f"with {att.steps} steps ({att.rule}) — "
            + ("[green]within[/]" if ok else "[red]not within[/]")
            + f" {IG_TOLERANCE:.0%}; tried {tried}"
        )
    else:
        out.print(f"F(x) = {att.value:.6g}; completeness error: n/a (Integrated Gradients only)")
    if shape is None:
        order = np.argsort(-np.abs(att.attributions))[:10]
        top = ", ".join(f"{feature_names[i]} {att.attributions[i]:+.4g}" for i in order)
        out.print(f"largest attributions: {top}", markup=False)
    out.print(f"figure: {info['figure']}", markup=False)
