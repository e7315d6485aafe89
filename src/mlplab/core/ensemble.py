"""Averaging the logits of K networks is itself one MLP: a wider one whose weights are
block-diagonal.

Member m computes ``z_m = W_out^m h_m + b_out^m`` from its own hidden units ``h_m``.  Put the
members' hidden units side by side: the first dense layer stacks the members' weight rows (each
block of units reads the same input), every later hidden layer is block-diagonal (block m only
sees block m), and the output layer concatenates the members' output weights divided by K with
the mean of their biases.  Its logits are ``Σ_m W_out^m h_m / K + mean_m b_out^m`` — the mean
of the members' logits.  Element-wise layers (activations, dropout) and batch normalisation
(one affine map per unit) act on each block as they acted on the member.

>>> import numpy as np
>>> from mlplab.core.network import Network
>>> a, b = (Network.from_sizes([3, 4, 2], "tanh", rng=s, dtype="float64") for s in (0, 1))
>>> both = average_networks([a, b])
>>> X = np.ones((1, 3))
>>> bool(np.allclose(both.forward(X), (a.forward(X) + b.forward(X)) / 2))
True
>>> both.spec["layers"][0]["units"]
8
"""

from __future__ import annotations

import copy

import numpy as np

from mlplab.core.network import Network
from mlplab.errors import ConfigError

__all__ = ["average_networks"]

#: Layer kinds that act on each unit (or each unit's own statistics) alone.
_PER_UNIT = {"dense", "activation", "dropout", "batchnorm"}


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols), blocks[0].dtype)
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r += b.shape[0]
        c += b.shape[1]
    return out


def average_networks(models: list[Network]) -> Network:
    """One :class:`Network` whose logits are the mean of the logits of ``models``.

    The members must share one spec (layer kinds, widths, activations, head, dtype); only
    dense, activation (without parameters), dropout and batch-norm layers are allowed —
    layer norm mixes the units of a layer and PReLU's slope is shared by them, so neither
    splits into blocks.  Raises :class:`~mlplab.errors.ConfigError` otherwise.
    """
    models = list(models)
    if not models:
        raise ConfigError("average_networks needs at least one network; got none")
    first = models[0]
    k = len(models)
    for i, m in enumerate(models[1:], start=1):
        if m.spec != first.spec:
            raise ConfigError(f"models[{i}] has another spec than models[0]; members must match")
    for j, la in enumerate(first.spec["layers"]):
        kind = la.get("type")
        if kind not in _PER_UNIT or (kind == "activation" and first.layers[j].params):
            raise ConfigError(
                f"layer {j} ({kind}) does not split into per-member blocks; averaging needs "
                f"dense, activation (without parameters), dropout and batchnorm layers only"
            )
    dense = [j for j, la in enumerate(first.layers) if la.spec()["type"] == "dense"]
    last = dense[-1]
    spec = copy.deepcopy(first.spec)
    for j in dense[:-1]:
        spec["layers"][j]["units"] = first.spec["layers"][j]["units"] * k
    merged = Network(spec)
    for j, layer in enumerate(merged.layers):
        parts = [m.layers[j] for m in models]
        if j in dense:
            W = [p.params["weight"] for p in parts]
            b = [p.params["bias"] for p in parts]
            if j == last:  # average the logits: concatenate the inputs' blocks, weights / K
                w_out = np.concatenate(W, axis=1) if j != dense[0] else np.sum(W, axis=0)
                layer.params["weight"][...] = w_out / k
                layer.params["bias"][...] = np.mean(b, axis=0)
            elif j == dense[0]:  # every block reads the whole input
                layer.params["weight"][...] = np.concatenate(W, axis=0)
                layer.params["bias"][...] = np.concatenate(b)
            else:
                layer.params["weight"][...] = _block_diag(W)
                layer.params["bias"][...] = np.concatenate(b)
        elif layer.params or layer.buffers:  # batch norm: one entry per unit
            for name, arr in layer.params.items():
                arr[...] = np.concatenate([p.params[name] for p in parts])
            for name, arr in layer.buffers.items():
                if arr.ndim == 0:
                    arr[...] = max(int(p.buffers[name]) for p in parts)
                else:
                    arr[...] = np.concatenate([p.buffers[name] for p in parts])
    return merged
