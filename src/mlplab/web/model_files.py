"""Model files in the playground: what an imported mlplab model file may be, and the page
configuration that draws it."""

from __future__ import annotations

from mlplab.core.activations import get_activation
from mlplab.core.network import Network
from mlplab.errors import CheckpointError
from mlplab.web.schemas import FEATURES, MAX_LAYERS, MAX_NEURONS, PlaygroundConfig

__all__ = ["config_from_model"]


def config_from_model(model: Network, config: PlaygroundConfig, dim: int) -> PlaygroundConfig:
    """A copy of ``config`` that describes ``model``'s layers.

    ``dim`` is the number of coordinates of the page's data (1 or 2).  The input features are
    kept when their number matches the model's inputs, else chosen by size (1: x₁, 2: x₁ x₂,
    7: all).  Raises :class:`CheckpointError` if the model has layers the playground does not
    draw or more than it draws.
    """
    hidden, acts, dropout, norm = [], [], 0.0, "none"
    layers = model.spec["layers"]
    for i, ls in enumerate(layers):
        kind = ls["type"]
        if kind == "dense" and i < len(layers) - 1:
            hidden.append(int(ls["units"]))
        elif kind == "activation":
            acts.append(get_activation(ls["activation"]).name)
        elif kind == "dropout":
            if not hidden:
                raise CheckpointError("the model has input dropout, which the playground lacks")
            dropout = float(ls["p"])
        elif kind in ("batchnorm", "layernorm"):
            norm = "batch" if kind == "batchnorm" else "layer"
    if len(hidden) > MAX_LAYERS or any(u > MAX_NEURONS for u in hidden):
        raise CheckpointError(
            f"the model has hidden layers {hidden}; the playground draws at most "
            f"{MAX_LAYERS} layers of {MAX_NEURONS} units"
        )
    n_in = model.input_dim
    feats = list(config.features)
    if n_in != len(feats):
        by_size = {1: ["x1"], 2: ["x1", "x2"], len(FEATURES): list(FEATURES)}
        if n_in not in by_size or (dim == 1 and n_in != 1):
            raise CheckpointError(
                f"the model takes {n_in} inputs but {len(feats)} features are selected; "
                "select that many features first"
            )
        feats = by_size[n_in]
    update = {
        "mode": "mlp",
        "hidden": hidden,
        "activations": acts,
        "features": feats,
        "dropout": dropout,
        "norm": norm,
        "head": model.head.name,
    }
    try:
        return PlaygroundConfig.model_validate({**config.model_dump(), **update})
    except ValueError as exc:
        raise CheckpointError(f"the model does not fit the playground: {exc}") from None
