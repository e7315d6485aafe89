"""Rosenblatt's perceptron (:mod:`mlplab.perceptron`) as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from mlplab.perceptron import Perceptron as PerceptronRule
from mlplab.sklearn.base import generator

__all__ = ["Perceptron"]


class Perceptron(ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron (:class:`mlplab.perceptron.Perceptron`) as a scikit-learn
    classifier; several classes are handled one-vs-rest.

    Parameters
    ----------
    eta0 : float, default 1.0
        The learning rate η of ``w ← w + η y x`` on a mistake.
    max_iter : int, default 100
        Maximum number of epochs; training stops at the first epoch without a mistake (there
        is no tolerance-based stop, so on data that are not linearly separable every epoch
        runs).
    pocket : bool, default False
        Keep the weights with the best training accuracy (Gallant's pocket).
    shuffle : bool, default True
        Visit the samples in a new random order each epoch.
    random_state : int, RandomState or None

    Attributes
    ----------
    classes_, coef_ (1 or n_classes, n_features), intercept_, n_iter_, n_features_in_,
    result_ (:class:`mlplab.perceptron.PerceptronResult`)
    """

    def __init__(self, eta0=1.0, max_iter=100, *, pocket=False, shuffle=True, random_state=None):
        self.eta0 = eta0
        self.max_iter = max_iter
        self.pocket = pocket
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X, y):
        """Run the perceptron rule on ``(X, y)``; returns ``self``."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ValueError(
                f"Perceptron needs samples of at least 2 classes; the data contain only 1 "
                f"class: {classes.tolist()}"
            )
        ids = np.searchsorted(classes, y)
        rule = PerceptronRule(
            lr=self.eta0,
            epochs=self.max_iter,
            pocket=bool(self.pocket),
            shuffle=bool(self.shuffle),
            rng=generator(self.random_state) if self.shuffle else None,
            compute_bound=False,
        )
        rule.fit(X, ids)
        self.classes_ = classes
        self.coef_ = rule.coef_
        self.intercept_ = rule.intercept_
        self.result_ = rule.result_
        self.n_iter_ = int(rule.result_.epochs)
        return self

    def decision_function(self, X) -> np.ndarray:
        """``z = w·x + b``: (n,) for two classes, (n, n_classes) one-vs-rest."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Z = X @ self.coef_.T + self.intercept_
        return Z[:, 0] if len(self.classes_) == 2 else Z

    def predict(self, X) -> np.ndarray:
        """Class labels: ``step(z)`` for two classes, ``argmax_k z_k`` otherwise."""
        Z = self.decision_function(X)
        if len(self.classes_) == 2:
            return self.classes_[(Z >= 0).astype(np.int64)]
        return self.classes_[np.argmax(Z, axis=1)]
