"""What the playground sends to the page: maps, curves, weights and traces, encoded compactly.

The server sends JSON.  Large arrays travel as base64: weights as float32, maps quantised to
uint8 over a stated range (the page turns a byte ``q`` back into ``lo + q/255·(hi − lo)``).
Scalars that JSON cannot hold (NaN, ±inf) become ``null`` (:func:`json_float`).

The output map is evaluated on a ``GRID × GRID`` square of cell centres (or ``GRID_1D`` points
for 1-D data); each hidden unit's map takes every other cell (every fourth point in 1-D).
"""

from __future__ import annotations

import base64
import math

import numpy as np

from mlplab.core.losses import get_head
from mlplab.core.network import Network
from mlplab.web.data import EXTENT, PlayData

__all__ = [
    "GRID",
    "GRID_1D",
    "b64",
    "grid_points",
    "json_float",
    "layer_trace",
    "neuron_maps",
    "neuron_subset",
    "output_map",
    "quantize",
    "weights_payload",
]

#: Output map resolution (GRID × GRID); neuron maps take every other point (GRID/2 square).
GRID = 40
#: Points of the 1-D output curve; neuron curves take every fourth.
GRID_1D = 160


def grid_points(dim: int) -> np.ndarray:
    """Centres of the map's cells, row-major from the top-left (x right, y up); for 1-D data,
    ``GRID_1D`` evenly spaced points across ``[−EXTENT, EXTENT]``."""
    if dim == 1:
        return np.linspace(-EXTENT, EXTENT, GRID_1D)[:, None]
    c = -EXTENT + (np.arange(GRID) + 0.5) * (2 * EXTENT / GRID)
    xx, yy = np.meshgrid(c, c[::-1])
    return np.column_stack([xx.ravel(), yy.ravel()])


def neuron_subset(values: np.ndarray, dim: int) -> np.ndarray:
    """The neuron-map subset of grid values (n_grid, k) → (n_small, k)."""
    if dim == 1:
        return values[::4]
    return values.reshape(GRID, GRID, -1)[::2, ::2].reshape(-1, values.shape[-1])


def b64(a: np.ndarray) -> str:
    """The bytes of array ``a`` (C order) in base64."""
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def quantize(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Quantise to uint8 over [lo, hi]."""
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.round((a - lo) / span * 255.0), 0, 255).astype(np.uint8)


def json_float(v) -> float | None:
    """A float JSON can hold (None for NaN/inf), rounded to 6 decimals."""
    if v is None:
        return None
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


def weights_payload(model: Network) -> list[dict]:
    """Each dense layer's shape, weights and biases (float32, base64)."""
    return [
        {
            "shape": list(la.params["weight"].shape),
            "w": b64(la.params["weight"].astype(np.float32)),
            "b": b64(la.params["bias"].astype(np.float32)),
        }
        for _, la in model.dense_layers()
    ]


def output_map(z: np.ndarray, head: str, data: PlayData, *, hard: bool = False) -> dict:
    """The network's output on the grid, encoded for the page.

    ``z`` are the output layer's pre-activations on :func:`grid_points`; ``hard`` draws the sign
    of ``z`` (the perceptron's step unit).  The ``kind`` says how to read it: ``score`` (a value
    in [−1, 1] per cell), ``value`` (a regression value over ``lo … hi``), ``class`` (arg-max
    class and its confidence) or ``curve`` (1-D data: one value per point).
    """
    if hard:
        score = np.where(z[:, 0] >= 0, 1.0, -1.0)
        return {"kind": "score", "data": b64(quantize(score, -1.0, 1.0)), "hard": True}
    yhat = get_head(head).output(z).astype(np.float64)
    if data.task == "regression":
        lo, hi = data.y_range()
        if data.dim == 1:
            return {"kind": "curve", "y": [json_float(v) for v in yhat[:, 0]], "lo": lo, "hi": hi}
        return {"kind": "value", "data": b64(quantize(yhat[:, 0], lo, hi)), "lo": lo, "hi": hi}
    if yhat.shape[1] == 1 or (data.task == "binary" and yhat.shape[1] == 2):
        p1 = yhat[:, -1]
        score = np.clip(2 * p1 - 1, -1, 1)
        if data.dim == 1:
            return {
                "kind": "curve",
                "y": [json_float(v) for v in np.clip(p1, 0, 1)],
                "lo": 0,
                "hi": 1,
            }
        return {"kind": "score", "data": b64(quantize(score, -1.0, 1.0))}
    k = yhat.argmax(axis=1).astype(np.uint8)
    conf = np.clip(yhat.max(axis=1), 0, 1)
    return {
        "kind": "class",
        "data": b64(k),
        "conf": b64(quantize(conf, 1.0 / yhat.shape[1], 1.0)),
    }


def neuron_maps(blocks: list[dict], dim: int) -> list[dict]:
    """Per hidden layer of a :meth:`Network.trace` on the grid: uint8 maps (units × cells) of
    h / max|h| and the scales."""
    maps = []
    for b in blocks[:-1]:
        h = neuron_subset(np.asarray(b["h"], dtype=np.float64), dim)
        scale = np.maximum(np.abs(h).max(axis=0), 1e-9)
        maps.append(
            {
                "data": b64(quantize((h / scale).T, -1.0, 1.0)),
                "scale": [json_float(s) for s in scale],
            }
        )
    return maps


def layer_trace(blocks: list[dict]) -> list[dict]:
    """z, h and δ of every layer for the first row of a :meth:`Network.trace` (the probe)."""
    return [
        {
            "activation": b["activation"],
            "z": [json_float(v) for v in np.asarray(b["z"])[0]],
            "h": [json_float(v) for v in np.asarray(b["h"])[0]],
            "delta": [json_float(v) for v in np.asarray(b["delta"])[0]],
        }
        for b in blocks
    ]
