"""The model: a stack of layers and a head, built from a plain JSON-serialisable spec.

A spec looks like::

    {"format": "mlplab.spec/1", "input_dim": 784, "dtype": "float32",
     "layers": [{"type": "dense", "units": 256, "init": "he_normal"},
                {"type": "activation", "activation": {"name": "relu"}},
                {"type": "dense", "units": 10, "init": "xavier_uniform"}],
     "head": "softmax_ce"}

:func:`mlp_spec` writes one from layer sizes.  The same spec builds the NumPy model here, a
``torch.nn.Sequential`` with identical parameter names in :mod:`mlplab.backends.torch`, and
the network drawn by the report and the playground.

Parameter names are ``"<layer index>.<name>"`` (``"0.weight"``, ``"0.bias"``, ``"3.running_var"``),
exactly the keys of the equivalent ``torch.nn.Sequential``'s ``state_dict``.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from mlplab.core.activations import get_activation
from mlplab.core.layers import ActivationLayer, BatchNorm, Dense, Dropout, Layer, build_layer
from mlplab.core.losses import Head, check_sample_weight, get_head
from mlplab.errors import CheckpointError, ConfigError, DataError, check_choice, check_range

__all__ = ["Network", "mlp_spec", "SPEC_FORMAT", "DTYPES"]

SPEC_FORMAT = "mlplab.spec/1"
DTYPES = {"float32": np.float32, "float64": np.float64}


def mlp_spec(
    sizes,
    activation="relu",
    *,
    activations=None,
    head: str = "softmax_ce",
    init: str = "auto",
    init_std: float = 1.0,
    bias_init: float = 0.0,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: str = "none",
    dtype: str = "float32",
) -> dict:
    """Spec of an MLP from layer sizes, e.g. ``[784, 256, 256, 10]``.

    Each hidden block is ``dense → [norm] → activation → [dropout]``; the last dense layer
    feeds the head.  ``activations`` gives one activation per hidden layer and overrides
    ``activation``.  ``norm`` is ``none``, ``batch`` or ``layer``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ConfigError(f"sizes must list at least input and output sizes; got {sizes}")
    for i, s in enumerate(sizes):
        check_range(f"sizes[{i}]", s, 1, None, integer=True)
    n_hidden = len(sizes) - 2
    if activations is None:
        activations = [activation] * n_hidden
    activations = list(activations)
    if len(activations) != n_hidden:
        raise ConfigError(
            f"activations must give one activation per hidden layer ({n_hidden}); "
            f"got {len(activations)}"
        )
    check_choice("norm", norm, ["none", "batch", "layer"])
    check_choice("dtype", dtype, list(DTYPES))
    check_range("dropout", dropout, 0.0, 1.0, hi_open=True)
    check_range("input_dropout", input_dropout, 0.0, 1.0, hi_open=True)
    layers: list[dict] = []
    if input_dropout > 0:
        layers.append({"type": "dropout", "p": float(input_dropout)})
    for i, units in enumerate(sizes[1:-1]):
        act = get_activation(activations[i])
        layers.append(
            {
                "type": "dense",
                "units": int(units),
                "init": init,
                "std": float(init_std),
                "bias_init": float(bias_init),
            }
        )
        if norm != "none":
            layers.append({"type": "batchnorm" if norm == "batch" else "layernorm"})
        layers.append({"type": "activation", "activation": act.spec()})
        if dropout > 0:
            layers.append({"type": "dropout", "p": float(dropout)})
    layers.append(
        {
            "type": "dense",
            "units": int(sizes[-1]),
            "init": init,
            "std": float(init_std),
            "bias_init": 0.0,
        }
    )
    return {
        "format": SPEC_FORMAT,
        "input_dim": int(sizes[0]),
        "dtype": dtype,
        "layers": layers,
        "head": get_head(head).name,
    }


def _next_activation(layer_specs, i):
    """The activation that follows dense layer i (identity if the head comes first)."""
    for s in layer_specs[i + 1 :]:
        if s.get("type") == "dense":
            break
        if s.get("type") == "activation":
            return s.get("activation", "identity")
    return "identity"


class Network:
    """An MLP built from a spec.

    Parameters
    ----------
    spec : dict
        See the module docstring, or build one with :func:`mlp_spec`.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (an int is a seed).  Default: seed 0.
    """

    def __init__(self, spec: dict, rng=None):
        if not isinstance(spec, dict):
            raise ConfigError(f"spec must be a dict; got {type(spec).__name__}")
        for key in ("input_dim", "layers", "head"):
            if key not in spec:
                raise ConfigError(f"spec is missing the field {key!r}")
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(0 if rng is None else rng)
        dtype_name = spec.get("dtype", "float32")
        check_choice("spec.dtype", dtype_name, list(DTYPES))
        self.dtype = np.dtype(DTYPES[dtype_name])
        self.head: Head = get_head(spec["head"])
        dim = check_range("spec.input_dim", spec["input_dim"], 1, None, integer=True)
        self.input_dim = dim
        self.layers: list[Layer] = []
        layer_specs = list(spec["layers"])
        if not layer_specs or layer_specs[-1].get("type") != "dense":
            raise ConfigError("spec.layers must end with a dense layer (the head's logits)")
        for i, ls in enumerate(layer_specs):
            layer, dim = build_layer(
                ls,
                dim,
                rng=rng,
                dtype=self.dtype,
                next_activation=_next_activation(layer_specs, i),
                where=f"spec.layers[{i}]",
            )
            self.layers.append(layer)
        self.output_dim = dim
        self.spec = {
            "format": SPEC_FORMAT,
            "input_dim": self.input_dim,
            "dtype": dtype_name,
            "layers": [layer.spec() for layer in self.layers],
            "head": self.head.name,
        }
        self.delta_out: np.ndarray | None = None
        self.deltas: list[np.ndarray | None] = [None] * len(self.layers)
        self.z_out: np.ndarray | None = None

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_sizes(cls, sizes, activation="relu", *, rng=None, **kwargs) -> Network:
        """Short constructor: ``Network.from_sizes([784, 256, 256, 10], "relu")``."""
        return cls(mlp_spec(sizes, activation, **kwargs), rng=rng)

    def copy(self) -> Network:
        """A deep copy (weights, optimizer-free)."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ parameters
    def named_parameters(self) -> dict[str, np.ndarray]:
        """Trainable arrays by name (the live arrays, not copies)."""
        return {f"{i}.{k}": v for i, la in enumerate(self.layers) for k, v in la.params.items()}

    def named_gradients(self) -> dict[str, np.ndarray]:
        """Gradient arrays by parameter name (the live arrays)."""
        return {f"{i}.{k}": v for i, la in enumerate(self.layers) for k, v in la.grads.items()}

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Non-trained arrays by name (batch-norm running statistics)."""
        return {f"{i}.{k}": v for i, la in enumerate(self.layers) for k, v in la.buffers.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters and buffers; the keys of torch's ``state_dict``."""
        out = {k: v.copy() for k, v in self.named_parameters().items()}
        out.update({k: v.copy() for k, v in self.named_buffers().items()})
        return out

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the model, checking that names and shapes match exactly."""
        mine = {**self.named_parameters(), **self.named_buffers()}
        missing = sorted(set(mine) - set(state))
        extra = sorted(set(state) - set(mine))
        if missing or extra:
            raise CheckpointError(
                f"state does not match this spec: missing {missing[:5]}, unexpected {extra[:5]}"
            )
        for k, dst in mine.items():
            src = np.asarray(state[k])
            if src.shape != dst.shape:
                raise CheckpointError(f"state[{k!r}] has shape {src.shape}, spec wants {dst.shape}")
            dst[...] = src

    @property
    def n_parameters(self) -> int:
        """The number of trainable scalars."""
        return int(sum(v.size for v in self.named_parameters().values()))

    def zero_grad(self) -> None:
        """Set every gradient to 0."""
        for layer in self.layers:
            layer.zero_grad()

    @property
    def trainable(self) -> bool:
        """False when a step unit blocks gradient training."""
        return all(
            not isinstance(la, ActivationLayer) or la.activation.differentiable
            for la in self.layers
        )

    # ------------------------------------------------------------------ forward / backward
    def as_input(self, X) -> np.ndarray:
        """``X`` as a 2-D array (n, input_dim) of the model's dtype; DataError otherwise."""
        X = np.asarray(X)
        if X.ndim == 1 and self.input_dim == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise DataError(f"X must have shape (n, {self.input_dim}); got {X.shape}")
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return X

    def forward(self, X, *, training: bool = False, rng=None) -> np.ndarray:
        """Logits ``z_out`` (n, output_dim).  ``training`` turns on dropout and batch statistics."""
        h = self.as_input(X)
        for layer in self.layers:
            h = layer.forward(h, training, rng)
        self.z_out = h
        return h

    def backward(self, y, *, validated: bool = False, weight=None) -> float:
        """Backward pass from the last forward's logits; accumulates gradients, returns the loss.

        ``δ_out`` comes from the head; each layer then turns the δ of its output into the δ of
        its input (for Dense: ``δ_prev = δ W``; for an activation: ``δ ⊙ φ′(z)``).  ``weight``
        (one per row) makes the loss the weighted mean ``Σ w_i l_i / Σ w_i``; with
        ``validated=True`` it is taken as already checked (:func:`check_sample_weight`).
        """
        if self.z_out is None:
            raise ConfigError("backward() needs a forward() first")
        if not self.trainable:
            raise ConfigError(
                "this network contains a 'step' activation, which has no gradient; "
                "gradient training needs differentiable activations"
            )
        z = self.z_out
        if not validated:
            y = self.head.validate(y, self.output_dim, dtype=self.dtype)
            if weight is not None:
                weight = check_sample_weight(weight, z.shape[0])
        loss = self.head.loss(z, y, weight)
        delta = self.head.delta(z, y, weight).astype(self.dtype, copy=False)
        self.delta_out = delta
        for i in range(len(self.layers) - 1, -1, -1):
            self.deltas[i] = delta  # ∂L/∂(output of layer i)
            delta = self.layers[i].backward(delta)
        return loss

    def loss_and_grad(self, X, y, *, training: bool = True, rng=None, sample_weight=None) -> float:
        """Zero the gradients, run forward and backward, return the mean loss (the weighted
        mean ``Σ w_i l_i / Σ w_i`` with ``sample_weight``)."""
        self.zero_grad()
        self.forward(X, training=training, rng=rng)
        return self.backward(y, weight=sample_weight)

    def loss(self, X, y) -> float:
        """Mean loss in eval mode (no dropout, running batch-norm statistics)."""
        z = self.forward(X)
        return self.head.loss(z, self.head.validate(y, self.output_dim, dtype=self.dtype))

    def output(self, X) -> np.ndarray:
        """ŷ: probabilities for classifier heads, values/rates for regression and counts."""
        return self.head.output(self.forward(X))

    def predict(self, X) -> np.ndarray:
        """Class ids (binary, multiclass), 0/1 label rows (multilabel) or predicted values."""
        pred = self.head.predict(self.forward(X))
        if self.head.task == "binary" or (pred.ndim == 2 and pred.shape[1] == 1):
            return pred.reshape(-1)
        return pred

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, K); for a binary head the two columns P(0), P(1)."""
        if self.head.task not in ("binary", "multiclass", "multilabel"):
            raise ConfigError(
                f"predict_proba needs a classifier head; this one is {self.head.name}"
            )
        p = self.output(X)
        if self.head.task == "binary":
            return np.hstack([1 - p, p])
        return p

    def input_gradient(self, X, output_index, *, wrt: str = "logit") -> np.ndarray:
        """``∂F_i/∂x_i`` (n, input_dim) for ``F_i = z_out[i, k_i]`` or ``ŷ[i, k_i]``, eval mode.

        The backward pass starts from ``δ_out = ∂F/∂z_out``: the one-hot row ``e_k`` for
        ``wrt="logit"``; for ``wrt="output"`` the head's output Jacobian applied to it
        (:meth:`Head.output_vjp`: ``ŷ_k (e_k − ŷ)`` for softmax, ``σ′(z_k) e_k`` for sigmoid,
        ``e^{z_k} e_k`` for exp).
        Each layer's ``backward`` then maps δ to the layer below (Dense: ``δ W``), so what
        comes out of layer 0 is ``∂F/∂x``.  Rows are independent (no batch statistics in
        eval mode).  Parameter gradients are left as they were; the forward caches (and so
        :meth:`trace`) hold this pass afterwards.

        Parameters
        ----------
        X : array_like, shape (n, input_dim)
        output_index : int or array of int, shape (n,)
            The output unit ``k_i`` of each row.
        wrt : {"logit", "output"}
        """
        check_choice("wrt", wrt, ["logit", "output"])
        X = self.as_input(X)
        n = X.shape[0]
        try:
            k = np.broadcast_to(np.asarray(output_index), (n,))
        except ValueError:
            raise ConfigError(
                f"output_index must be one int or one per row ({n}); got shape "
                f"{np.shape(output_index)}"
            ) from None
        if k.size and (k.dtype.kind not in "iu" or k.min() < 0 or k.max() >= self.output_dim):
            raise ConfigError(
                f"output_index must hold integers in [0, {self.output_dim - 1}]; "
                f"got {output_index!r}"
            )
        rows = np.arange(n)
        z = self.forward(X)
        delta = np.zeros_like(z)
        delta[rows, k] = 1
        if wrt == "output":  # ∂ŷ_k/∂z_out: the head's output Jacobian applied to e_k
            delta = self.head.output_vjp(z, delta).astype(z.dtype, copy=False)
        saved = {key: g.copy() for key, g in self.named_gradients().items()}
        for layer in reversed(self.layers):
            delta = layer.backward(delta)
        for key, g in self.named_gradients().items():
            g[...] = saved[key]
        return delta

    # ------------------------------------------------------------------ inspection
    def trace(self) -> list[dict]:
        """Per hidden block ℓ of the last pass: ``z`` (pre-activation), ``h`` (activation output),
        ``delta`` (∂L/∂z, after a backward) and the index of its dense layer; the last entry is
        the output block (``z`` = logits, ``h`` = ŷ, ``delta`` = δ_out)."""
        blocks, dense_i = [], None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                dense_i = i
            if isinstance(layer, ActivationLayer):
                blocks.append(
                    {
                        "dense": dense_i,
                        "activation": layer.activation.name,
                        "z": layer.z,
                        "h": layer.out,
                        "delta": self.deltas[i - 1] if i > 0 else None,
                    }
                )
        if self.z_out is not None:
            blocks.append(
                {
                    "dense": dense_i,
                    "activation": self.head.activation,
                    "z": self.z_out,
                    "h": self.head.output(self.z_out),
                    "delta": self.delta_out,
                }
            )
        return blocks

    @property
    def z(self) -> list:
        """Pre-activations of the last pass, one array per block (see :meth:`trace`)."""
        return [b["z"] for b in self.trace()]

    @property
    def h(self) -> list:
        """Activation outputs of the last pass, one array per block."""
        return [b["h"] for b in self.trace()]

    @property
    def delta(self) -> list:
        """δ = ∂L/∂z of the last backward, one array per block."""
        return [b["delta"] for b in self.trace()]

    def dense_layers(self) -> list[tuple[int, Dense]]:
        """``(index, layer)`` of every Dense layer."""
        return [(i, la) for i, la in enumerate(self.layers) if isinstance(la, Dense)]

    def set_dropout_masks(self, masks: dict[int, np.ndarray] | None) -> None:
        """Fix (or with None, release) the dropout masks by layer index."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.fixed_mask = None if masks is None else masks.get(i)

    def has_batchnorm(self) -> bool:
        """True when a layer is batch norm (the loop then never feeds it one row)."""
        return any(isinstance(la, BatchNorm) for la in self.layers)

    def __repr__(self) -> str:
        lines = [
            f"Network(input_dim={self.input_dim}, dtype={self.dtype.name}, "
            f"parameters={self.n_parameters}"
        ]
        for i, layer in enumerate(self.layers):
            lines.append(f"  ({i}) {layer!r}")
        lines.append(f"  head: {self.head!r}")
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------------ serialisation
    def to_bytes(self) -> bytes:
        """Spec and weights in one ``.npz`` byte string (files: :func:`mlplab.io.save_network`)."""
        import io

        buf = io.BytesIO()
        arrays = {f"param/{k}": v for k, v in self.state_dict().items()}
        arrays["__spec__"] = np.frombuffer(json.dumps(self.spec).encode(), dtype=np.uint8)
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "model", spec: dict | None = None):
        """Rebuild a model from :meth:`to_bytes` output.  With ``spec``, check it matches."""
        from mlplab.core.npz import load_npz, npz_errors

        what = "is not a valid mlplab model file"
        members = load_npz(data, source, what)
        with npz_errors(source, what):  # a missing or undecodable spec
            stored = json.loads(bytes(members["__spec__"]).decode())
        state = {k[len("param/") :]: v for k, v in members.items() if k.startswith("param/")}
        if spec is not None and _comparable(spec) != _comparable(stored):
            raise CheckpointError(f"{source} was saved from a different spec than the one given")
        try:
            model = cls(stored)
        except ConfigError as exc:
            raise CheckpointError(f"{source} holds an invalid spec: {exc}") from None
        model.load_state_dict(state)
        return model


def _comparable(spec: dict) -> str:
    try:
        return json.dumps(Network(spec).spec, sort_keys=True)
    except ConfigError:
        return json.dumps(spec, sort_keys=True)
