"""XOR: why one layer is not enough, why two are, and why the nonlinearity matters.

* :func:`hand_built_xor` — the text's two-layer network of step units (section 2.2),
  ``h₁ = x₁ AND NOT x₂``, ``h₂ = NOT x₁ AND x₂``, ``y = h₁ OR h₂``, as an engine
  :class:`~mlplab.core.network.Network` with explicit weights.
* :func:`train_xor` / :func:`xor_success_rates` — 2-H-1 MLPs trained by the engine from many
  seeds; a seed *succeeds* when all four points are classified correctly after a fixed budget.
  The seeds are trained side by side in one block-diagonal network (see :func:`train_xor`),
  which gives the same numbers as training each net alone, only faster.
* :func:`collapse_linear` — with identity activations any depth of dense layers is one affine
  map ``x ↦ W x + b``, ``W = W_L ⋯ W_1``; :func:`linear_collapse_check` measures the difference.
* :func:`best_linear_accuracy` — the best any threshold on a linear function can do, by
  checking every labelling of the points for linear separability (an LP each): 3/4 on XOR.
  :func:`least_squares_xor` — the least-squares linear fit to XOR predicts 0.5 everywhere.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from mlplab.core.layers import ActivationLayer, Dense, Dropout
from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import Callback, fit
from mlplab.errors import ConfigError, DataError, check_choice, check_range

__all__ = [
    "XOR_X",
    "XOR_Y",
    "hand_built_xor",
    "xor_truth_table",
    "train_xor",
    "XorRun",
    "xor_success_rates",
    "collapse_linear",
    "linear_collapse_check",
    "best_linear_accuracy",
    "least_squares_xor",
]

#: The four points of {0, 1}² and their XOR labels.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0], dtype=np.int64)


# ------------------------------------------------------------------------------ hand-built
def hand_built_xor() -> Network:
    """The two-layer step network of the text, with hand-set weights.

    Hidden layer (step units, ``step(z) = 1[z ≥ 0]``)::

        h₁ = step( x₁ − x₂ − ½)     x₁ AND NOT x₂
        h₂ = step(−x₁ + x₂ − ½)     NOT x₁ AND x₂

    Output unit: ``z_out = h₁ + h₂ − ½`` and ``y = step(z_out)`` (h₁ OR h₂).

    The output step is the head's decision rule: the network is ``dense(2) → step → dense(1)``
    with the ``sigmoid_bce`` head, whose ``predict`` is ``1[z_out ≥ 0]`` — exactly the step
    of the output logit (σ(z) ≥ ½ ⇔ z ≥ 0).  So ``net.predict(X)`` is the OR unit's output
    and ``net.forward(X)`` its pre-activation.  (The step units make the network
    untrainable by gradients; it is built, not learned.)
    """
    spec = {
        "input_dim": 2,
        "dtype": "float64",
        "layers": [
            {"type": "dense", "units": 2, "init": "zeros"},
            {"type": "activation", "activation": "step"},
            {"type": "dense", "units": 1, "init": "zeros"},
        ],
        "head": "sigmoid_bce",
    }
    net = Network(spec)
    net.load_state_dict(
        {
            "0.weight": np.array([[1.0, -1.0], [-1.0, 1.0]]),
            "0.bias": np.array([-0.5, -0.5]),
            "2.weight": np.array([[1.0, 1.0]]),
            "2.bias": np.array([-0.5]),
        }
    )
    return net


def xor_truth_table(net: Network, X=XOR_X) -> list[dict]:
    """One row per point: inputs, hidden activations of the first hidden block, output logit
    and predicted class, read from the network's trace."""
    pred = net.predict(X)
    blocks = net.trace()
    h = blocks[0]["h"] if len(blocks) > 1 else None
    z = blocks[-1]["z"][:, 0]
    rows = []
    for i, x in enumerate(np.asarray(X, dtype=np.float64)):
        row = {"x1": float(x[0]), "x2": float(x[1])}
        if h is not None:
            row.update({f"h{j + 1}": float(v) for j, v in enumerate(h[i])})
        row.update({"z_out": float(z[i]), "y": int(pred[i])})
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ trained
class _BlockMask(Callback):
    """Zero the gradient of the output weights outside each net's own block, so the seeds
    packed into one network never exchange anything."""

    def __init__(self, layer: Dense, mask: np.ndarray):
        self.grad = layer.grads["weight"]
        self.mask = mask

    def on_batch_end(self, trainer, batch_loss):
        self.grad *= self.mask


@dataclass
class XorRun:
    """The outcome of one (activation, width) cell: per-seed success and final loss."""

    activation: str
    width: int
    seeds: list[int]
    success: list[bool]
    final_loss: list[float]
    epochs: int
    lr: float
    optimizer: str

    @property
    def rate(self) -> float:
        return float(np.mean(self.success))

    def to_dict(self) -> dict:
        return {**asdict(self), "rate": self.rate, "n_success": int(sum(self.success))}


def _single_net(activation: str, width: int, seed: int) -> Network:
    """The 2-H-1 network a seed starts from (default init of the activation)."""
    return Network.from_sizes(
        [2, width, 1], activation, head="sigmoid_bce", dtype="float64", rng=seed
    )


def train_xor(
    activation: str = "tanh",
    width: int = 2,
    seeds=range(50),
    *,
    epochs: int = 500,
    lr: float = 0.1,
    optimizer: str = "adam",
    return_networks: bool = False,
):
    """Train one 2-H-1 network per seed on the four XOR points with the engine.

    Every seed's network is initialised exactly as ``Network.from_sizes([2, H, 1], act,
    head="sigmoid_bce", dtype="float64", rng=seed)`` would be, then all S of them are packed
    into one network ``2 → S·H → S`` (multilabel BCE head: a sum of S independent sigmoid +
    BCE losses): hidden units ``kH … kH+H−1`` and output ``k`` belong to seed ``k``, the output
    weights outside those blocks start at 0 and their gradients are masked to 0 before each
    step.  Adam and SGD act element-wise, so each block follows the same trajectory as its
    net trained alone (full batch of the four points, no shuffling), up to rounding.

    Returns
    -------
    XorRun, or (XorRun, list of Network) with ``return_networks``: the trained single nets.
    """
    check_choice("optimizer", optimizer, ["adam", "sgd", "momentum", "nesterov"])
    width = check_range("width", width, 1, None, integer=True)
    epochs = check_range("epochs", epochs, 1, None, integer=True)
    check_range("lr", lr, 0.0, None, lo_open=True)
    seeds = [check_range("seed", s, 0, None, integer=True) for s in seeds]
    if not seeds:
        raise ConfigError("seeds must list at least one seed")
    S, H = len(seeds), width
    singles = [_single_net(activation, H, s) for s in seeds]
    packed = Network(
        mlp_spec([2, S * H, S], activation, head="multilabel_bce", init="zeros", dtype="float64")
    )
    W1 = np.vstack([n.state_dict()["0.weight"] for n in singles])  # (S·H, 2)
    b1 = np.concatenate([n.state_dict()["0.bias"] for n in singles])  # (S·H,)
    mask = np.kron(np.eye(S), np.ones((1, H)))  # (S, S·H) block diagonal
    W2 = mask * np.concatenate([n.state_dict()["2.weight"] for n in singles], axis=1)
    b2 = np.concatenate([n.state_dict()["2.bias"] for n in singles])
    packed.load_state_dict({"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2})
    Y = np.repeat(XOR_Y[:, None], S, axis=1).astype(np.float64)  # (4, S)
    out_layer = packed.layers[-1]
    fit(
        packed,
        XOR_X,
        Y,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=len(XOR_X),
        shuffle=False,
        callbacks=[_BlockMask(out_layer, mask)],
        rng=0,
    )
    Z = packed.forward(XOR_X)  # (4, S) logits
    success = [bool(np.all((Z[:, k] >= 0) == (XOR_Y == 1))) for k in range(S)]
    y = XOR_Y[:, None].astype(np.float64)
    losses = [float(packed.head.loss(Z[:, k : k + 1], y)) for k in range(S)]
    run = XorRun(activation, H, seeds, success, losses, epochs, float(lr), optimizer)
    if not return_networks:
        return run
    state = packed.state_dict()
    nets = []
    for k, net in enumerate(singles):
        rows = slice(k * H, (k + 1) * H)
        net.load_state_dict(
            {
                "0.weight": state["0.weight"][rows],
                "0.bias": state["0.bias"][rows],
                "2.weight": state["2.weight"][k : k + 1, rows],
                "2.bias": state["2.bias"][k : k + 1],
            }
        )
        nets.append(net)
    return run, nets


def xor_success_rates(
    activations=("sigmoid", "tanh", "relu"),
    widths=(2, 3, 4, 8),
    seeds=50,
    *,
    epochs: int = 500,
    lr: float = 0.1,
    optimizer: str = "adam",
) -> list[XorRun]:
    """:func:`train_xor` for every (activation, width), seeds ``0 … seeds−1``."""
    seeds = check_range("seeds", seeds, 1, None, integer=True)
    return [
        train_xor(a, w, range(seeds), epochs=epochs, lr=lr, optimizer=optimizer)
        for a in activations
        for w in widths
    ]


# ------------------------------------------------------------------------------ linear collapse
def collapse_linear(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """The single affine map of a network whose activations are all the identity.

    With ``h_ℓ = W_ℓ h_{ℓ−1} + b_ℓ`` for ℓ = 1 … L (the last one the logits)::

        z_out = W x + b,   W = W_L ⋯ W_2 W_1,
                           b = W_L(⋯(W_2 b_1 + b_2)⋯) + b_L

    (two layers: ``W₂W₁x + (W₂b₁ + b₂)``, the text's section 2.3).  Dropout is the identity in
    evaluation mode.  Returns ``W`` of shape (output_dim, input_dim) and ``b`` (output_dim,),
    in float64.

    Raises
    ------
    ConfigError
        If the network holds a non-identity activation or a normalisation layer.
    """
    W = np.eye(net.input_dim)
    b = np.zeros(net.input_dim)
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            Wl = layer.params["weight"].astype(np.float64)
            bl = layer.params["bias"].astype(np.float64)
            W, b = Wl @ W, Wl @ b + bl
        elif isinstance(layer, ActivationLayer):
            if layer.activation.name != "identity":
                raise ConfigError(
                    f"layer {i} has activation {layer.activation.name!r}; only a network with "
                    "identity activations collapses to one linear map"
                )
        elif not isinstance(layer, Dropout):
            raise ConfigError(
                f"layer {i} ({type(layer).__name__}) is not affine in the input; "
                "collapse_linear takes dense, identity and dropout layers only"
            )
    return W, b


def linear_collapse_check(
    sizes=(2, 16, 16, 16, 1), *, rng=0, n_points: int = 256, head: str = "identity_mse"
) -> dict:
    """Build a float64 network with identity activations, collapse it and compare outputs.

    Returns ``{"sizes", "depth", "max_abs_diff", "W", "b"}`` where ``max_abs_diff`` is
    ``max |net.forward(X) − (X Wᵀ + b)|`` over ``n_points`` standard-normal inputs.
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    sizes = list(sizes)
    net = Network(mlp_spec(sizes, "identity", head=head, dtype="float64"), rng=rng)
    for _, layer in net.dense_layers():  # random biases too, so b is really exercised
        layer.params["bias"][...] = rng.normal(size=layer.params["bias"].shape)
    X = rng.normal(size=(n_points, sizes[0]))
    W, b = collapse_linear(net)
    diff = float(np.max(np.abs(net.forward(X) - (X @ W.T + b))))
    return {
        "sizes": sizes,
        "depth": len(sizes) - 1,
        "max_abs_diff": diff,
        "W": W.tolist(),
        "b": b.tolist(),
    }


def _separable_labelling(Xa: np.ndarray, s: np.ndarray) -> bool:
    """LP feasibility of ``s_i (w·x_i + b) ≥ 1`` (``Xa`` already holds the constant column)."""
    from scipy.optimize import linprog

    k = Xa.shape[1]
    res = linprog(
        np.zeros(k),
        A_ub=-(s[:, None] * Xa),
        b_ub=-np.ones(len(Xa)),
        bounds=[(None, None)] * k,
        method="highs",
    )
    if res.status not in (0, 2):
        raise DataError(f"the separability LP failed: {res.message}")
    return res.status == 0


def best_linear_accuracy(X=XOR_X, y=XOR_Y, *, max_points: int = 16) -> dict:
    """The best training accuracy of any rule ``1[w·x + b ≥ 0]`` on ``(X, y)``, by brute force.

    Every one of the 2ⁿ labellings of the n points is tested for linear separability (an LP);
    the best accuracy is the largest agreement of a separable labelling with ``y``.  (A
    threshold rule with ties at 0 realises exactly the strictly separable labellings, since
    finitely many points leave room to shift ``b``.)

    Returns ``{"best_accuracy", "n_labellings", "n_separable", "best_labellings",
    "inseparable_labellings"}``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    n = len(X)
    check_range("number of points", n, 1, max_points, integer=True, error=DataError)
    if len(y) != n:
        raise DataError(f"X has {n} rows but y has {len(y)}")
    target = y == np.max(y)
    Xa = np.hstack([X, np.ones((n, 1))])
    best, best_lab, n_sep, bad = -1, [], 0, []
    for lab in itertools.product([0, 1], repeat=n):
        lab_arr = np.array(lab, dtype=bool)
        if lab_arr.all() or not lab_arr.any():
            ok = True  # constant labellings: w = 0, b = ±1
        else:
            ok = _separable_labelling(Xa, np.where(lab_arr, 1.0, -1.0))
        if not ok:
            bad.append(list(lab))
            continue
        n_sep += 1
        agree = int(np.sum(lab_arr == target))
        if agree > best:
            best, best_lab = agree, [list(lab)]
        elif agree == best:
            best_lab.append(list(lab))
    return {
        "best_accuracy": best / n,
        "n_labellings": 2**n,
        "n_separable": n_sep,
        "best_labellings": best_lab,
        "inseparable_labellings": bad,
    }


def least_squares_xor() -> dict:
    """Least-squares fit of ``y ≈ w₁x₁ + w₂x₂ + b`` to XOR: ``w = 0, b = ½`` — the
    prediction is 0.5 at every point, so thresholding it cannot beat chance."""
    Xa = np.hstack([XOR_X, np.ones((4, 1))])
    coef, *_ = np.linalg.lstsq(Xa, XOR_Y.astype(np.float64), rcond=None)
    pred = Xa @ coef
    return {"w": coef[:2].tolist(), "b": float(coef[2]), "predictions": pred.tolist()}
