"""The playground's perceptron mode: Rosenblatt's mistake-driven rule, one epoch at a time.

The page draws the rule as a network with one step unit; :meth:`PerceptronRule.copy_into`
writes (w, b) into that network's dense layer so the maps and weights show it.
"""

from __future__ import annotations

import numpy as np

from mlplab.core.network import Network

__all__ = ["PerceptronRule"]


class PerceptronRule:
    """Rosenblatt's rule from w = 0, b = 0, points in a fixed order (as
    :class:`mlplab.perceptron.Perceptron` without shuffling).

    Parameters
    ----------
    X : ndarray (n, d)
        Training inputs (the page's features).
    y : ndarray (n,)
        Class ids 0/1.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        from mlplab.perceptron import is_linearly_separable

        separable, _ = is_linearly_separable(X, y)
        self.w = np.zeros(X.shape[1])
        self.b = 0.0
        self.order = np.arange(len(X))  # the data's (already shuffled) order, as Perceptron
        self.mistakes: list[int] = []
        self.separable = bool(separable)

    def notice(self) -> str:
        """What the page should know about these points before the rule starts."""
        if self.separable:
            return (
                "these points are linearly separable in the chosen features: the perceptron "
                "rule will stop once an epoch has no mistake (Novikoff)"
            )
        return (
            "these points are not linearly separable in the chosen features: the perceptron "
            "rule will never settle; its line keeps jumping"
        )

    def epoch(self, X: np.ndarray, y: np.ndarray, lr: float) -> int:
        """One pass: on each mistake (y·z ≤ 0 with y ∈ {−1, +1}) ``w ← w + η y x, b ← b + η y``;
        returns the number of mistakes."""
        s = np.where(y == 1, 1.0, -1.0)
        w, b = self.w, self.b
        mistakes = 0
        for i in self.order:
            z = float(X[i] @ w) + b
            if (z >= 0) != (s[i] > 0):
                w += lr * s[i] * X[i]
                b += lr * s[i]
                mistakes += 1
        self.b = b
        self.mistakes.append(mistakes)
        return mistakes

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class ids (z ≥ 0 → 1) of the rows of X."""
        return (X @ self.w + self.b >= 0).astype(np.int64)

    def copy_into(self, model: Network) -> None:
        """Copy (w, b) into the drawn network (one dense layer, step read as z ≥ 0)."""
        dense = model.dense_layers()[0][1]
        dense.params["weight"][0, :] = self.w
        dense.params["bias"][0] = self.b

    def copy_from(self, model: Network) -> None:
        """Take (w, b) from the drawn network (after the page edited a weight)."""
        dense = model.dense_layers()[0][1]
        self.w = dense.params["weight"][0].astype(np.float64).copy()
        self.b = float(dense.params["bias"][0])
