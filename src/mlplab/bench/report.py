"""The bench's report: the Markdown tables and the scaling figure, from a result dict (no
measurement here)."""

from __future__ import annotations

import io

from mlplab.bench.tta import target_key


def _fmt_s(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def render_markdown(result: dict) -> str:
    """The result as Markdown tables (what ``--out`` writes to ``bench.md``)."""
    env = result["environment"]
    lines = [
        f"# mlplab bench ({result['preset']})",
        "",
        f"{env['cpu']}, {env['threads']} threads; numpy {env['numpy']}, torch {env['torch']}, "
        f"scikit-learn {env['sklearn']}; load average before {env['loadavg']}, after "
        f"{result.get('loadavg_after')}.",
    ]
    blas = [p for p in env["thread_pools"] if p["user_api"] == "blas"]
    if blas:
        lines.append(
            "BLAS: "
            + "; ".join(f"{p['internal_api']} {p['version']} ({p['architecture']})" for p in blas)
            + "."
        )
    set_env = {k: v for k, v in env["env"].items() if v is not None}
    lines.append(f"Environment: {set_env or 'no BLAS/OpenMP variables set'}.")
    clock = result["settings"].get("clock", "wall")
    lines.append(
        "Clock: "
        + (
            "wall time."
            if clock == "wall"
            else "process CPU time (all threads together), not wall time."
        )
    )
    if "epoch" in result:
        ep = result["epoch"]
        lines += [
            "",
            f"## Epoch time (s per 60000-image epoch; median [min–max] of {ep['repeats']}, "
            f"alternated; timed on {ep['samples']} images)",
            "",
            "The floor, the step's matrix products alone on NumPy's BLAS, is one more case of "
            "the same alternated rounds; *engine / floor* divides medians by its median.",
            "",
            "| network | batch | system | median | min–max | × mlplab (medians) "
            "| × mlplab (fastest runs) | engine / floor |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in ep["rows"]:
            net = "-".join(map(str, row["sizes"]))
            floor = row.get("gemm_floor_seconds")
            for name, s in row["systems"].items():
                ratio, fast = s["ratio_to_mlplab"], s.get("min_ratio_to_mlplab")
                over = f"{s['median'] / floor:.2f}" if name.startswith("mlplab") and floor else ""
                lines.append(
                    f"| {net} | {row['batch']} | {s['label']} | {s['median']:.3f} | "
                    f"{s['min']:.3f}–{s['max']:.3f} | "
                    f"{'—' if ratio is None else f'{ratio:.2f}'} | "
                    f"{'—' if fast is None else f'{fast:.2f}'} | "
                    f"{over} |"
                )
            if "mlplab_gflops" in row:
                lines.append(
                    f"| {net} | {row['batch']} | engine rate | {row['mlplab_gflops']:.0f} GFLOP/s"
                    " | | | | |"
                )
            if floor:
                fl = row.get("gemm_floor") or {}
                spread = f"{fl['min']:.3f}–{fl['max']:.3f}" if "min" in fl else ""
                lines.append(
                    f"| {net} | {row['batch']} | matrix products alone (the floor) | "
                    f"{floor:.3f} | {spread} | | | 1.00 |"
                )
            if row.get("engine_over_floor_paired") is not None:
                lines.append(
                    f"| {net} | {row['batch']} | engine / floor within each round, median "
                    f"| {row['engine_over_floor_paired']:.2f} | | | | |"
                )
            if row.get("engine_step"):
                lines.append(
                    f"| {net} | {row['batch']} | step the engine ran | {row['engine_step']} "
                    "| | | | |"
                )
    if "peak" in result:
        pk = result["peak"]
        c = pk["ceiling"]
        lines += [
            "",
            "## Matrix-multiply peak (float32, GFLOP/s, best of repeats)",
            "",
            "| n | NumPy BLAS | PyTorch |",
            "|---|---|---|",
        ]
        for n in pk["numpy"]:
            t = pk["torch"].get(n)
            lines.append(f"| {n} | {pk['numpy'][n]:.0f} | {'—' if t is None else f'{t:.0f}'} |")
        lines += [
            "",
            f"Peak {pk['peak']:.0f} GFLOP/s.  The matrix products alone of one step of "
            f"{'-'.join(map(str, c['sizes']))} at batch {c['batch']} run at {c['gflops']:.0f} "
            f"GFLOP/s ({100 * c['fraction_of_peak']:.0f} % of peak): "
            f"{c['seconds_per_epoch']:.3f} s per epoch is the floor for this BLAS.",
        ]
    if "tta" in result:
        tta = result["tta"]
        keys = [target_key(t) for t in tta["targets"]]
        lines += [
            "",
            f"## Time to test accuracy (training seconds; {tta['evals_per_epoch']} checks per "
            f"epoch; at most {tta['max_epochs']} epochs or {tta['max_seconds']:.0f} s)",
            "",
            "| system | "
            + " | ".join(f"to {100 * float(k):.1f} %" for k in keys)
            + " | best acc. | train s | eval s |",
            "|---|" + "---|" * (len(keys) + 3),
        ]
        for s in tta["systems"].values():
            if s is None:
                continue
            cells = []
            for k in keys:
                r = s["reached"][k]
                cells.append(
                    "not reached"
                    if r is None
                    else f"{r['train_seconds']:.2f} s ({r['epochs']:.2f} ep.)"
                )
            label = s["label"] + (f" (median of {s['repeats']} runs)" if s.get("repeats") else "")
            lines.append(
                f"| {label} | "
                + " | ".join(cells)
                + f" | {100 * s['best_accuracy']:.2f} % | {s['train_seconds']:.2f} | "
                f"{s['eval_seconds']:.2f} |"
            )
    if "scaling" in result:
        sc = result["scaling"]
        lines += [
            "",
            f"## Cost against width (784-w-w-10, batch {sc['width_batch']}) and batch "
            f"(784-{'-'.join(map(str, sc['batch_hidden']))}-10)",
            "",
            "| network | batch | s / epoch | GFLOP/s | peak memory MiB |",
            "|---|---|---|---|---|",
        ]
        for p in sc["width"] + sc["batch"]:
            lines.append(
                f"| {'-'.join(map(str, p['sizes']))} | {p['batch']} | "
                f"{p['seconds_per_epoch']:.3f} | {p['gflops']:.0f} | "
                f"{p['peak_memory_mib']:.1f} |"
            )
    if result.get("targets"):
        lines += [
            "",
            "## Targets (issues 9 and 18)",
            "",
            "| target | goal | measured | met | fastest runs | most possible on this BLAS |",
            "|---|---|---|---|---|---|",
        ]
        fmt = lambda x: "" if x is None else f"{x:.3g}"
        for t in result["targets"]:
            v = t["value"]
            shown = "—" if v is None else f"{v:.3g}"
            met = {True: "yes", False: "NO", None: "not measured"}[t["met"]]
            lines.append(
                f"| {t['what']} | {_goal(t)} | {shown} | {met} | {fmt(t.get('fastest_runs'))} "
                f"| {fmt(t.get('most_possible'))} |"
            )
        lines += [
            "",
            "*Measured* and *met* use the medians; *fastest runs* is the same ratio between each "
            "system's fastest run (the least disturbed by other work on the machine).  "
            "*Most possible*: the other system's median epoch divided by the median time of "
            "the step's matrix products alone on NumPy's BLAS (the smallest over the rows), the "
            "speed-up a float32 engine with zero overhead around those products would have.",
        ]
    return "\n".join(lines) + "\n"


def plot_scaling(result: dict) -> bytes:
    """PNG bytes: epoch time and peak memory against width and against batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = result["scaling"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for row, (key, xs, xlabel) in enumerate(
        (
            ("width", [p["width"] for p in sc["width"]], "hidden width w (784-w-w-10)"),
            ("batch", [p["batch"] for p in sc["batch"]], "batch size"),
        )
    ):
        pts = sc[key]
        ax = axes[row][0]
        ax.plot(xs, [p["seconds_per_epoch"] for p in pts], "o-", color="C0")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds per 60000-image epoch", color="C0")
        twin = ax.twinx()
        twin.plot(xs, [p["gflops"] for p in pts], "s--", color="C1")
        twin.set_ylabel("achieved GFLOP/s", color="C1")
        ax.grid(True, which="both", alpha=0.3)
        mem = axes[row][1]
        mem.plot(xs, [p["peak_memory_mib"] for p in pts], "o-", color="C2")
        mem.set_xscale("log", base=2)
        mem.set_xlabel(xlabel)
        mem.set_ylabel("peak memory, MiB (model + training state)")
        mem.grid(True, which="both", alpha=0.3)
    fig.suptitle("mlplab engine: cost against width and batch size (SGD, float32)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _goal(t: dict) -> str:
    """A target's goal as the table shows it."""
    key, goal = t["target"], t["goal"]
    if key == "vs_sklearn":
        gv = t.get("goal_value")
        return f"≥ {100 * goal:.0f} % of most possible" + ("" if gv is None else f" ({gv:.3g})")
    if key in ("engine_floor", "fast_recipe_98"):
        return f"≤ {goal}"
    return f"≥ {goal}"
