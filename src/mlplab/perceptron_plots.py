"""Figures for the perceptron and XOR: decision boundaries and the hidden layer's view.

Every function returns a :class:`matplotlib.figure.Figure` built with the Agg backend (no
display needed); :func:`save_figure` writes one atomically (PNG, SVG or PDF by the suffix).

* :func:`plot_perceptron` — one panel: the regions a fitted :class:`~mlplab.perceptron.Perceptron`
  assigns, its line ``w·x + b = 0`` (two classes), the points.
* :func:`perceptron_figure` / :func:`perceptron_gallery` — panels side by side; the gallery is
  the 2×2 of AND, OR, XOR and a separable set.
* :func:`xor_network_figure` — for each given 2-H-1 network a row: the input-space decision
  regions, and the four points as the hidden layer sees them, ``h = φ(W₁x + b₁)``, where the
  output unit's line ``w₂·h + b₂ = 0`` separates them (for H = 2; for H > 2 the hidden vectors
  are projected on their first two principal axes and no line is drawn).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlplab.errors import ConfigError  # noqa: E402
from mlplab.io import atomic_write_bytes  # noqa: E402

__all__ = [
    "save_figure",
    "plot_format",
    "plot_perceptron",
    "perceptron_figure",
    "perceptron_gallery",
    "xor_network_figure",
]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def plot_format(path) -> str:
    """The image format of ``path`` from its suffix; ConfigError unless .png, .svg or .pdf."""
    fmt = _FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"plot file must end in {', '.join(_FORMATS)}; got {str(path)!r}")
    return fmt


def save_figure(fig: Figure, path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` atomically; the format follows the suffix (.png/.svg/.pdf)."""
    path = Path(path)
    fmt = plot_format(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _grid(X: np.ndarray, steps: int = 200, pad: float = 0.25):
    lo, hi = X.min(0), X.max(0)
    span = np.maximum(hi - lo, 1e-9)
    lo, hi = lo - pad * span, hi + pad * span
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return gx, gy, np.column_stack([gx.ravel(), gy.ravel()])


def _class_ids(y, classes) -> np.ndarray:
    return np.searchsorted(classes, np.asarray(y).reshape(-1))


def _regions(ax, gx, gy, ids_grid, k: int) -> None:
    cmap = ListedColormap([_COLORS[c % len(_COLORS)] for c in range(k)])
    ax.contourf(gx, gy, ids_grid, levels=np.arange(-0.5, k), cmap=cmap, alpha=0.18)


def _points(ax, X, ids, k: int, labels=None) -> None:
    for c in range(k):
        sel = ids == c
        if np.any(sel):
            ax.scatter(
                X[sel, 0],
                X[sel, 1],
                s=46 if len(X) <= 16 else 12,
                color=_COLORS[c % len(_COLORS)],
                edgecolors="black",
                linewidths=0.5,
                label=None if labels is None else str(labels[c]),
                zorder=3,
            )


def plot_perceptron(ax, model, X, y, title: str = "") -> None:
    """Draw a fitted perceptron's decision regions and line on ``ax`` (2-D inputs only)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ConfigError(f"a decision-boundary plot needs 2 input features; got {X.shape[1:]}")
    classes = model.classes_
    k = len(classes)
    gx, gy, G = _grid(X)
    ids_grid = _class_ids(model.predict(G), classes).reshape(gx.shape)
    _regions(ax, gx, gy, ids_grid, k)
    if k == 2:
        (w1, w2), b = model.coef_[0], model.intercept_[0]
        xs = np.array([gx.min(), gx.max()])
        if abs(w2) > 1e-12 * max(abs(w1), 1.0):
            ax.plot(xs, -(w1 * xs + b) / w2, color="black", lw=1.2)
        elif abs(w1) > 0:
            ax.axvline(-b / w1, color="black", lw=1.2)
    _points(ax, X, _class_ids(y, classes), k, classes)
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    r = getattr(model, "result_", None)
    if r is not None:
        state = "converged" if r.converged else ("cycles" if r.cycle_detected else "no conv.")
        title = f"{title}\n{state} · {r.mistakes} mistakes · acc {r.accuracy:.2f}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x1", fontsize=8)
    ax.set_ylabel("x2", fontsize=8)
    ax.tick_params(labelsize=7)


def perceptron_figure(panels, *, ncols: int = 2) -> Figure:
    """One panel per ``(title, model, X, y)``, ``ncols`` per row."""
    panels = list(panels)
    if not panels:
        raise ConfigError("perceptron_figure needs at least one panel")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (title, model, X, y) in zip(axes.ravel(), panels):
        plot_perceptron(ax, model, X, y, title)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    return fig


def perceptron_gallery(*, seed: int = 0, epochs: int = 100, margin: float = 0.1) -> Figure:
    """The 2×2 panel: the perceptron on AND, OR, XOR (the four points) and a separable set."""
    from mlplab.data import load_dataset
    from mlplab.perceptron import Perceptron

    panels = []
    for name, title in [("and", "AND"), ("or", "OR"), ("xor4", "XOR"), ("separable", "")]:
        opts = {"margin": margin} if name == "separable" else {}
        ds = load_dataset(name, seed=seed, **opts)
        model = Perceptron(epochs=epochs, compute_bound=False).fit(ds.X_train, ds.y_train)
        panels.append((title or f"separable (γ = {margin})", model, ds.X_train, ds.y_train))
    return perceptron_figure(panels)


def _hidden_view(ax, net, X, ids) -> None:
    net.forward(X)
    blocks = net.trace()
    if len(blocks) < 2:
        raise ConfigError("the network has no hidden layer to show")
    h = np.asarray(blocks[0]["h"], dtype=np.float64)
    H = h.shape[1]
    one_hidden = len(blocks) == 2
    if H == 2:
        P, axes_names = h, ("h1", "h2")
    else:
        hc = h - h.mean(0)
        _, _, Vt = np.linalg.svd(hc, full_matrices=False)
        P = hc @ Vt[:2].T if Vt.shape[0] >= 2 else np.column_stack([hc @ Vt[0], 0 * hc[:, 0]])
        axes_names = ("PC1 of h", "PC2 of h")
    _points(ax, P, ids, 2, ["0", "1"])
    lo, hi = P.min(0), P.max(0)
    span = np.maximum(hi - lo, 0.5)
    ax.set_xlim(lo[0] - 0.3 * span[0], hi[0] + 0.3 * span[0])
    ax.set_ylim(lo[1] - 0.3 * span[1], hi[1] + 0.3 * span[1])
    # points that land (almost) on the same spot share one label
    groups: list[tuple[np.ndarray, list[str]]] = []
    for i, pt in enumerate(P):
        name = f"({X[i, 0]:g},{X[i, 1]:g})"
        for anchor, names in groups:
            if np.all(np.abs(pt - anchor) <= 0.04 * span):
                names.append(name)
                break
        else:
            groups.append((pt, [name]))
    for (px, py), names in groups:
        ax.annotate(
            " ".join(names), (px, py), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    if H == 2 and one_hidden:
        last = net.dense_layers()[-1][1]
        w, b = last.params["weight"][0].astype(float), float(last.params["bias"][0])
        gx, gy = np.meshgrid(np.linspace(*ax.get_xlim(), 150), np.linspace(*ax.get_ylim(), 150))
        side = (w[0] * gx + w[1] * gy + b >= 0).astype(int)
        _regions(ax, gx, gy, side, 2)
        ax.contour(gx, gy, w[0] * gx + w[1] * gy + b, levels=[0.0], colors="black", linewidths=1.2)
    ax.set_xlabel(axes_names[0], fontsize=8)
    ax.set_ylabel(axes_names[1], fontsize=8)
    ax.tick_params(labelsize=7)


def xor_network_figure(nets, X=None, y=None) -> Figure:
    """One row per ``(title, net)``: input-space decision regions, then the hidden view.

    ``net`` is an engine :class:`~mlplab.core.network.Network` with 2 inputs and one binary
    output (``sigmoid_bce`` head); ``X, y`` default to the four XOR points.
    """
    from mlplab.xor import XOR_X, XOR_Y

    X = XOR_X if X is None else np.asarray(X, dtype=np.float64)
    y = XOR_Y if y is None else np.asarray(y)
    nets = list(nets)
    if not nets:
        raise ConfigError("xor_network_figure needs at least one network")
    fig = Figure(figsize=(8.4, 3.9 * len(nets)), layout="constrained")
    axes = fig.subplots(len(nets), 2, squeeze=False)
    ids = (np.asarray(y) == 1).astype(int)
    for (title, net), (ax_in, ax_h) in zip(nets, axes):
        gx, gy, G = _grid(X, pad=0.35)
        pred = np.asarray(net.predict(G)).reshape(gx.shape)
        _regions(ax_in, gx, gy, pred, 2)
        _points(ax_in, X, ids, 2, ["0", "1"])
        acc = float(np.mean(np.asarray(net.predict(X)).reshape(-1) == y))
        ax_in.set_title(f"{title}: input space (acc {acc:.2f})", fontsize=9)
        ax_in.set_xlabel("x1", fontsize=8)
        ax_in.set_ylabel("x2", fontsize=8)
        ax_in.tick_params(labelsize=7)
        _hidden_view(ax_h, net, X, ids)
        ax_h.set_title(f"{title}: hidden layer's view", fontsize=9)
    return fig
