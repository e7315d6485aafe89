"""How well a playground run is doing: loss and accuracy on both splits, the confusion matrix,
the dead units and the backward view of one point, for the current weights (in eval mode: no
dropout, running statistics)."""

from __future__ import annotations

import numpy as np

from mlplab.core.losses import get_head
from mlplab.core.network import Network
from mlplab.web.data import PlayData
from mlplab.web.frames import json_float, layer_trace
from mlplab.web.perceptron_mode import PerceptronRule

__all__ = ["backward_view", "dead_units", "evaluate_run", "evaluate_split", "predicted_classes"]


def predicted_classes(z: np.ndarray, head: str, task: str) -> np.ndarray | None:
    """Class ids from the output layer's ``z`` (None for regression)."""
    if task == "regression":
        return None
    yhat = get_head(head).output(z)
    if yhat.shape[1] > 1:
        return yhat.argmax(axis=1)
    return (yhat[:, 0] >= 0.5).astype(np.int64)


def evaluate_split(
    model: Network,
    head: str,
    task: str,
    perceptron: PerceptronRule | None,
    X: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
) -> tuple:
    """(loss, accuracy or None, predicted classes or None) of one split in eval mode; for the
    perceptron the loss is its error rate."""
    if len(X) == 0:
        return None, None, None
    if perceptron is not None:
        pred = perceptron.predict(X)
        err = float(np.mean(pred != y))
        return err, 1.0 - err, pred
    z = model.forward(X)
    h = get_head(head)
    loss = h.loss(z, h.validate(t, model.output_dim, dtype=model.dtype))
    pred = predicted_classes(z, head, task)
    acc = None if pred is None else float(np.mean(pred == y))
    return loss, acc, pred


def dead_units(model: Network) -> list[list[bool]]:
    """Per hidden layer: units whose φ′(z) is 0 for every point of the last forward pass — a
    dead ReLU."""
    out = []
    for la in model.layers:
        if la.kind != "activation" or la.z is None:
            continue
        act = la.activation
        if not act.can_die:
            out.append([False] * la.z.shape[1])
            continue
        out.append(np.all(act.df(la.z) == 0, axis=0).tolist())
    return out


def evaluate_run(
    model: Network,
    head: str,
    data: PlayData,
    perceptron: PerceptronRule | None,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> dict:
    """Loss and accuracy on both splits (``train``/``test``: features and targets), dead units
    (training set) and the confusion matrix (test set, else training set):
    ``{"metrics": {...}, "dead": [...], "confusion": {...} or None}``."""
    d = data
    tr_loss, tr_acc, _ = evaluate_split(model, head, d.task, perceptron, *train, d.y_train)
    dead = dead_units(model)  # reads the caches of the training-set forward just run
    te_loss, te_acc, te_pred = evaluate_split(model, head, d.task, perceptron, *test, d.y_test)
    confusion = None
    if d.task != "regression":
        split, y, pred = "test", d.y_test, te_pred
        if pred is None:
            _, _, pred = evaluate_split(model, head, d.task, perceptron, *train, d.y_train)
            split, y = "train", d.y_train
        k = d.n_classes
        m = np.zeros((k, k), dtype=np.int64)
        np.add.at(m, (y, pred), 1)
        confusion = {"split": split, "labels": d.class_names, "matrix": m.tolist()}
    return {
        "metrics": {
            "train_loss": json_float(tr_loss),
            "test_loss": json_float(te_loss),
            "train_acc": json_float(tr_acc),
            "test_acc": json_float(te_acc),
        },
        "dead": dead,
        "confusion": confusion,
    }


def backward_view(
    model: Network,
    data: PlayData,
    point: tuple[float, float],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> dict:
    """The ``probe`` message: z, h and δ = ∂L/∂z of every unit for the data point nearest
    ``point``, from one forward and backward pass in eval mode (read with
    :meth:`Network.trace`); the gradients are cleared again, the weights untouched."""
    x, y = point
    X = np.vstack([data.X_train, data.X_test])
    target = np.array([x, y][: data.dim])
    i = int(np.argmin(np.sum((X - target) ** 2, axis=1)))
    n_train = len(data.X_train)
    split, j = ("train", i) if i < n_train else ("test", i - n_train)
    Xf, t = train if split == "train" else test
    yv = (data.y_train if split == "train" else data.y_test)[j]
    model.zero_grad()
    model.forward(Xf[j : j + 1])
    loss = model.backward(t[j : j + 1])
    blocks = model.trace()
    model.zero_grad()
    return {
        "type": "probe",
        "point": [json_float(v) for v in X[i]],
        "split": split,
        "label": json_float(yv),
        "loss": json_float(loss),
        "layers": layer_trace(blocks),
    }
