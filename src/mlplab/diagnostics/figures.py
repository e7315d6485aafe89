"""Figures of a diagnostics record and of an attribution map (PNG bytes, Agg backend).

* :func:`gradient_heatmap` — log10 of the per-weight RMS gradient ``‖∂L/∂W_ℓ‖/√size`` of each
  Dense layer (rows) at each check (columns): vanishing shows as a dark lower band, exploding
  as a bright one.
* :func:`activation_histograms` — per hidden block, the distribution of ``h = φ(z)`` on the probe
  batch at the first and the last probe pass.
* :func:`dead_fraction` — per hidden block and epoch, the fraction of dead units (ReLU family)
  and of saturated (row, unit) pairs (sigmoid/tanh).
* :func:`attribution_figure` — an attribution map beside its input image, or a bar chart of the
  largest feature attributions for tabular inputs.

:func:`write_figures` writes the first three into a run folder, atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mlplab.io import atomic_write_bytes  # noqa: E402

__all__ = [
    "gradient_heatmap",
    "activation_histograms",
    "dead_fraction",
    "attribution_figure",
    "write_figures",
    "FIGURES",
]

#: File names written by :func:`write_figures`.
FIGURES = {
    "gradients": "diagnostics_gradients.png",
    "activations": "diagnostics_activations.png",
    "dead": "diagnostics_dead_units.png",
}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _empty(message: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _png(fig)


def gradient_heatmap(record: dict) -> bytes:
    """Per-layer log10 RMS gradient over the checks of a run."""
    checks = [c for c in record.get("checks", []) if c.get("grad_rms")]
    layers = record.get("layers", [])
    if not checks or not layers:
        return _empty("no gradient checks recorded")
    G = np.array(
        [[np.nan if v is None else v for v in c["grad_rms"]] for c in checks], dtype=float
    ).T  # (layers, checks)
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.log10(np.where(G > 0, G, np.nan))
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(layers)))
    im = ax.imshow(L, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(len(layers)), [la["name"] for la in layers])
    steps = [c["step"] for c in checks]
    ticks = np.linspace(0, len(steps) - 1, min(8, len(steps))).astype(int)
    ax.set_xticks(ticks, [str(steps[t]) for t in ticks])
    ax.set_xlabel("optimizer step")
    ax.set_title("log10 RMS gradient per weight, ‖∂L/∂W‖/√size")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return _png(fig)


def activation_histograms(record: dict) -> bytes:
    """Histograms of ``h`` per hidden block, first vs last probe pass."""
    acts = [a for a in record.get("activations", []) if a.get("blocks")]
    blocks = record.get("blocks", [])
    if not acts or not blocks:
        return _empty("no activation statistics recorded (no probe batch)")
    first, last = acts[0], acts[-1]
    n = len(blocks)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for j, b in enumerate(blocks):
        ax = axes[j // cols][j % cols]
        for a, color, label in ((first, "0.6", "first"), (last, "C0", "last")):
            h = a["blocks"][j].get("hist") if j < len(a["blocks"]) else None
            if not h:
                continue
            edges, counts = np.asarray(h["edges"]), np.asarray(h["counts"], float)
            total = counts.sum() or 1.0
            ax.stairs(
                counts / total,
                edges,
                color=color,
                fill=a is first,
                alpha=0.7,
                label=f"epoch {a['epoch']} ({label})",
            )
        ax.set_title(f"{b['layer']}.{b['activation']}", fontsize=9)
        ax.set_yscale("log")  # the spike of ReLU zeros would flatten everything else
        ax.tick_params(labelsize=7)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("activation h = φ(z) on the probe batch (fraction of values, log)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def dead_fraction(record: dict) -> bytes:
    """Dead-unit fraction (solid) and saturated fraction (dashed) per hidden block vs epoch."""
    acts = [a for a in record.get("activations", []) if a.get("blocks")]
    blocks = record.get("blocks", [])
    if not acts or not blocks:
        return _empty("no activation statistics recorded (no probe batch)")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [a["epoch"] if a["epoch"] is not None else i for i, a in enumerate(acts)]
    drawn = False
    for j, b in enumerate(blocks):
        name = f"{b['layer']}.{b['activation']}"
        for key, style, what in (("dead", "-", "dead units"), ("saturated", "--", "saturated")):
            vals = [a["blocks"][j].get(key) if j < len(a["blocks"]) else None for a in acts]
            if all(v is None for v in vals):
                continue
            ys = [np.nan if v is None else v for v in vals]
            ax.plot(epochs, ys, style, marker="o", ms=3, label=f"{name} {what}")
            drawn = True
    if not drawn:
        plt.close(fig)
        return _empty("no ReLU-family or saturating layers")
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.set_ylabel("fraction")
    ax.set_title("dead units (φ′ = 0 on every probe row) and saturated pairs per layer")
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def attribution_figure(
    attribution, *, image_shape=None, feature_names=None, title: str = "", top: int = 20
) -> bytes:
    """The input beside its attribution map (images) or a bar chart of the top features."""
    a = np.asarray(attribution.attributions, dtype=float)
    x = np.asarray(attribution.input, dtype=float)
    if image_shape is not None and int(np.prod(image_shape)) == a.size:
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
        axes[0].imshow(x.reshape(image_shape), cmap="gray")
        axes[0].set_title("input")
        lim = float(np.max(np.abs(a))) or 1.0
        cmap = "magma" if attribution.method == "saliency" else "RdBu_r"
        vmin = 0.0 if attribution.method == "saliency" else -lim
        im = axes[1].imshow(a.reshape(image_shape), cmap=cmap, vmin=vmin, vmax=lim)
        axes[1].set_title(f"{attribution.method} (target {attribution.target})")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(im, ax=axes[1], fraction=0.046)
    else:
        names = (
            list(feature_names) if feature_names is not None else [f"x{i}" for i in range(a.size)]
        )
        order = np.argsort(-np.abs(a))[:top][::-1]
        fig, ax = plt.subplots(figsize=(6, 0.6 + 0.28 * len(order)))
        colors = ["C3" if a[i] > 0 else "C0" for i in order]
        ax.barh([names[i] for i in order], a[order], color=colors)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel(f"{attribution.method} attribution (target {attribution.target})")
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig)


def write_figures(record: dict, folder) -> list[str]:
    """Write the three diagnostics figures into ``folder``; return their paths."""
    folder = Path(folder)
    out = []
    for key, fn in (
        ("gradients", gradient_heatmap),
        ("activations", activation_histograms),
        ("dead", dead_fraction),
    ):
        path = folder / FIGURES[key]
        atomic_write_bytes(path, fn(record))
        out.append(str(path))
    return out
