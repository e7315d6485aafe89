""":class:`MLPClassifier` and :class:`MLPRegressor`: scikit-learn's MLPs, same parameters and
defaults, on the mlplab engine (see :mod:`mlplab.sklearn` for what differs and why)."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from mlplab.core.network import Network
from mlplab.sklearn.base import MLPBase

__all__ = ["MLPClassifier", "MLPRegressor"]

_HEADS = {
    "squared_error": "identity_mse",
    "absolute_error": "identity_mae",
    "poisson": "exp_poisson",
}


def _finite_or_nan(score_fn, y, pred, sample_weight) -> float:
    if np.issubdtype(np.asarray(pred).dtype, np.floating) and not np.all(np.isfinite(pred)):
        return float("nan")
    return float(score_fn(y, pred, sample_weight=sample_weight))


class MLPClassifier(ClassifierMixin, MLPBase):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` on the mlplab engine.

    Every parameter of ``sklearn.neural_network.MLPClassifier`` exists with its default and
    meaning (``hidden_layer_sizes=(100,)``, ``activation`` identity/logistic/tanh/relu,
    ``solver`` lbfgs/sgd/adam, ``learning_rate`` constant/invscaling/adaptive, ``alpha``,
    ``batch_size``, ``max_iter``, ``tol``, ``n_iter_no_change``, ``early_stopping`` …).
    mlplab adds, each defaulting to no change:

    activation
        also any mlplab activation (``gelu``, ``silu``, ``leaky_relu``, ``elu`` …), a dict
        ``{"name": ..., "alpha": ...}``, or a list with one per hidden layer.
    solver
        also ``adamw`` or a dict (a full mlplab optimizer spec).
    schedule : None or str or dict, default None
        An mlplab learning-rate schedule (``cosine``, ``warmup_cosine``, ``onecycle`` …).
    dropout : float, default 0.0
    norm : {"none", "batch", "layer"}, default "none"
    init : str, default "xavier_uniform"
        scikit-learn's Glorot-uniform weights (biases start at 0).
    dtype : {"float64", "float32"}, default "float64"
    backend : {"numpy", "torch"}, default "numpy"
    device : {"auto", "cpu", "cuda"}, default "auto"
    precision : {"fp32", "bf16"}, default "fp32"
    doctor : bool, default True
        Record diagnostics while fitting; ``diagnose()`` returns the findings and a
        ``ConvergenceWarning`` names them.

    Attributes are scikit-learn's (``classes_``, ``coefs_`` (n_in, n_out) per layer,
    ``intercepts_``, ``n_iter_``, ``t_`` (samples seen), ``loss_``, ``loss_curve_``,
    ``best_loss_``, ``validation_scores_``, ``best_validation_score_``, ``n_layers_``,
    ``n_outputs_``, ``out_activation_``, ``n_features_in_``, ``feature_names_in_``) plus
    ``network_`` (the :class:`mlplab.core.network.Network`) and ``findings_``.
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        schedule=None,
        dropout=0.0,
        norm="none",
        init="xavier_uniform",
        dtype="float64",
        backend="numpy",
        device="auto",
        precision="fp32",
        doctor=True,
    ):
        self._store_params(locals())

    def __sklearn_tags__(self):
        """Multi-label targets are supported, as in scikit-learn."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit to ``X`` (n, d) and labels ``y`` (n,) or a multi-label indicator (n, k);
        ``sample_weight`` (n,) weighs each row's loss (the mean becomes Σ w·l / Σ w)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (every label) is required on the first call
        unless ``y`` is a multi-label indicator.  Stochastic solvers only."""
        if not hasattr(self, "classes_") and classes is None:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode(self, y, *, first_pass: bool, incremental=False, classes=None, sample_weight=None):
        check_classification_targets(y)
        kind = type_of_target(y)
        multilabel = kind == "multilabel-indicator"
        if not multilabel and y.ndim != 1:
            raise ValueError(f"multi-output targets of type {kind!r} are not supported")
        labels = np.arange(y.shape[1]) if multilabel else unique_labels(y)
        if first_pass:
            if classes is not None and not multilabel:
                all_labels = unique_labels(classes)
                if np.setdiff1d(labels, all_labels).size:
                    raise ValueError(f"`y` has classes not in `classes`: {labels.tolist()}")
                labels = all_labels
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes; the data "
                    f"contain only 1 class: {labels.tolist()}"
                )
            self._multilabel = multilabel
            self.classes_ = labels
        else:
            if multilabel != self._multilabel:
                raise ValueError("y must be of the same type (multi-label or not) as before")
            if not incremental and not np.array_equal(labels, self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {labels}"
                )
            if np.setdiff1d(labels, self.classes_).size:
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {labels}."
                )
        if multilabel:
            return (y != 0).astype(np.float64), "multilabel_bce"
        ids = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return ids.astype(np.float64), "sigmoid_bce"
        return ids.astype(np.int64), "softmax_ce"

    def _val_score(self, Z, Y, sample_weight) -> float:
        if self._multilabel or len(self.classes_) == 2:
            pred = (Z >= 0).astype(np.float64)
            pred = pred if self._multilabel else pred[:, 0]
        else:
            pred = np.argmax(Z, axis=1)
        return _finite_or_nan(accuracy_score, Y, pred, sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n, n_classes); for multi-label (n, n_labels), P(label = 1)."""
        z = self._logits(X)
        p = self.network_.head.output(z)
        if self.network_.head.task == "binary":
            return np.hstack([1.0 - p, p])
        return p

    def predict_log_proba(self, X) -> np.ndarray:
        """``log predict_proba(X)``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (n,); for multi-label a 0/1 matrix (n, n_labels)."""
        z = self._logits(X)
        if self._multilabel:
            return (z >= 0).astype(np.int64)
        if len(self.classes_) == 2:
            return self.classes_[(z[:, 0] >= 0).astype(np.int64)]
        return self.classes_[np.argmax(z, axis=1)]


class MLPRegressor(RegressorMixin, MLPBase):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` on the mlplab engine.

    The parameters of :class:`MLPClassifier` (scikit-learn's, then mlplab's), plus

    loss : {"squared_error", "poisson", "absolute_error"}, default "squared_error"
        ``absolute_error`` is mlplab's addition.
    standardize_targets : bool, default True
        Train on ``(y − mean) / std`` (per output, weighted by ``sample_weight``) and map the
        predictions back, so ``predict`` is in the original units.  Turn it off for
        scikit-learn's behaviour; ignored for ``loss="poisson"`` (counts stay counts).
        ``loss_``/``loss_curve_`` are then the loss of the standardised problem.
    """

    _is_classifier = False
    _parameter_constraints: dict = {
        **MLPBase._parameter_constraints,
        "loss": [StrOptions(set(_HEADS))],
        "standardize_targets": ["boolean"],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        standardize_targets=True,
        schedule=None,
        dropout=0.0,
        norm="none",
        init="xavier_uniform",
        dtype="float64",
        backend="numpy",
        device="auto",
        precision="fp32",
        doctor=True,
    ):
        self._store_params(locals())

    def fit(self, X, y, sample_weight=None):
        """Fit to ``X`` (n, d) and targets ``y`` (n,) or (n, k); ``sample_weight`` (n,)
        weighs each row's loss."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)`` (stochastic solvers only).  The target scaling is fixed
        by the first call's ``y``."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode(self, y, *, first_pass: bool, incremental=False, classes=None, sample_weight=None):
        Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float64)
        if first_pass:
            mean, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
            if self.standardize_targets and self.loss != "poisson":
                mean = np.average(Y, axis=0, weights=sample_weight)
                std = np.sqrt(np.average((Y - mean) ** 2, axis=0, weights=sample_weight))
                scale = np.where(std > 0, std, 1.0)
            self.target_mean_, self.target_scale_ = mean, scale
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} output(s); the model has {self.n_outputs_}")
        return (Y - self.target_mean_) / self.target_scale_, _HEADS[self.loss]

    def _val_score(self, Z, Y, sample_weight) -> float:
        pred = self.network_.head.output(Z).astype(np.float64)
        return _finite_or_nan(r2_score, Y, pred, sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predictions in the units of ``y``: (n,) for one output, else (n, n_outputs)."""
        z = self._logits(X)
        out = self.network_.head.output(z) * self.target_scale_ + self.target_mean_
        return out.ravel() if out.shape[1] == 1 else out

    def _export_network(self) -> Network:
        net = self.network_.copy()
        _, last = net.dense_layers()[-1]
        last.params["weight"] *= self.target_scale_[:, None].astype(net.dtype)
        last.params["bias"][...] = last.params["bias"] * self.target_scale_ + self.target_mean_
        return net
