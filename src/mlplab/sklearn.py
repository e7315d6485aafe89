"""scikit-learn estimators on the mlplab engine: :class:`MLPClassifier`, :class:`MLPRegressor`,
:class:`Perceptron`.

They follow scikit-learn's conventions (parameters stored unmodified by ``__init__``,
``get_params``/``set_params``, ``fit``/``predict``/``score``, fitted attributes ending in ``_``,
``n_features_in_`` and ``feature_names_in_``) and pass ``sklearn.utils.estimator_checks``
(``tests/test_sklearn.py`` runs every check).  So they work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and the rest.

Beyond scikit-learn's own MLP they offer any mlplab activation (one name, or one per hidden
layer), dropout, batch/layer normalisation, every initializer, SGD/Adam/AdamW, learning-rate
schedules, float32 or float64, and training on PyTorch (``backend="torch"``, with ``device``
and ``precision``), which runs the same loop as the NumPy engine (see
:mod:`mlplab.backends.torch`).

Differences from ``sklearn.neural_network.MLPClassifier`` worth knowing:

* ``alpha`` means what it means in scikit-learn, ``½ α ‖W‖² / batch_size`` added to each
  batch's mean loss (it becomes :class:`~mlplab.core.train.TrainConfig`'s ``l2 = α /
  batch_size``; scikit-learn divides by the size of each batch, so a smaller last batch of an
  epoch is penalised a little more there).
* The default network is small, one hidden layer of 16 units, initialised Glorot-uniform as in
  scikit-learn; the default dtype is float64.
* ``early_stopping`` monitors the validation *loss* (patience ``n_iter_no_change``, minimum
  improvement ``tol``) and restores the best epoch's weights; ``validation_scores_`` still
  records the validation accuracy (element-wise for multi-label) or R² per epoch.
* No ``lbfgs`` solver.

Random numbers come from a ``numpy.random.Generator`` built from ``random_state``
(an int seeds it; a ``RandomState`` gives it a seed; ``None`` seeds it from the operating
system).  Nothing touches NumPy's global random state.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import replace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from mlplab.core.network import Network, mlp_spec
from mlplab.core.train import Callback, TrainConfig, Trainer

__all__ = ["MLPClassifier", "MLPRegressor", "Perceptron"]

_SOLVERS = ("sgd", "adam", "adamw", "momentum", "nesterov")
_REGRESSION_LOSSES = {
    "squared_error": "identity_mse",
    "absolute_error": "identity_mae",
    "poisson": "exp_poisson",
}


def _generator(random_state) -> np.random.Generator:
    """A fresh NumPy Generator from a scikit-learn ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral):
        return np.random.default_rng(int(random_state))
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(int(seed))


class _TolStop(Callback):
    """scikit-learn's stopping rule on the training loss: stop once the epoch loss has failed
    to drop below ``best − tol`` for more than ``n_iter_no_change`` epochs in a row."""

    def __init__(self, tol: float, n_iter_no_change: int):
        self.tol = float(tol)
        self.n_iter_no_change = int(n_iter_no_change)
        self.best = np.inf
        self.count = 0
        self.converged = False

    def on_epoch_end(self, trainer) -> None:
        loss = trainer.history.last().get("train_loss", np.inf)
        if loss > self.best - self.tol:
            self.count += 1
        else:
            self.count = 0
        self.best = min(self.best, loss)
        if self.count > self.n_iter_no_change:
            self.converged = True
            trainer.stop = True


class _MLPBase(BaseEstimator):
    """The shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(16,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        schedule="constant",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        nesterovs_momentum=True,
        dropout=0.0,
        norm="none",
        init="xavier_uniform",
        dtype="float64",
        backend="numpy",
        device="auto",
        precision="fp32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.schedule = schedule
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.dropout = dropout
        self.norm = norm
        self.init = init
        self.dtype = dtype
        self.backend = backend
        self.device = device
        self.precision = precision

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # ------------------------------------------------------------------ parameters → engine
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}"
            ) from None
        for s in sizes:
            if not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"hidden_layer_sizes must hold integers >= 1; got {sizes!r}")
        return [int(s) for s in sizes]

    def _spec(self, n_in: int, n_out: int, head: str) -> dict:
        hidden = self._hidden_sizes()
        act = self.activation
        per_layer = isinstance(act, (list, tuple))
        return mlp_spec(
            [n_in, *hidden, n_out],
            "relu" if per_layer else act,
            activations=list(act) if per_layer else None,
            head=head,
            init=self.init,
            dropout=self.dropout,
            norm=self.norm,
            dtype=self.dtype,
        )

    def _optimizer(self):
        lr = self.learning_rate_init
        solver = self.solver
        if isinstance(solver, dict):
            return {"lr": lr, **solver}
        if solver not in _SOLVERS:
            raise ValueError(
                f"solver must be one of {', '.join(_SOLVERS)} or a dict; got {solver!r}"
            )
        if solver == "sgd":
            return {
                "name": "sgd",
                "lr": lr,
                "momentum": self.momentum,
                "nesterov": bool(self.nesterovs_momentum and self.momentum > 0),
            }
        return {"name": solver, "lr": lr}

    def _config(self, n: int, epochs: int, early: bool) -> TrainConfig:
        bs = self.batch_size
        if isinstance(bs, str) and bs == "auto":
            bs = min(200, n)
        elif not isinstance(bs, numbers.Integral) or bs < 1:
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1; got {bs!r}")
        bs = int(min(bs, n))
        for field, value in (
            ("max_iter", self.max_iter),
            ("n_iter_no_change", self.n_iter_no_change),
        ):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{field} must be an integer >= 1; got {value!r}")
        if not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise ValueError(f"tol must be a number >= 0; got {self.tol!r}")
        return TrainConfig(
            epochs=epochs,
            batch_size=bs,
            shuffle=bool(self.shuffle),
            l2=float(self.alpha) / bs,
            early_stopping=int(self.n_iter_no_change) if early else None,
            restore_best=True,
            min_delta=float(self.tol),
        )

    def _make_trainer(self, model: Network, config: TrainConfig, rng):
        if self.backend == "numpy":
            return Trainer(model, self._optimizer(), schedule=self.schedule, config=config, rng=rng)
        if self.backend == "torch":
            from mlplab.backends.torch import TorchTrainer

            return TorchTrainer(
                model,
                self._optimizer(),
                schedule=self.schedule,
                config=config,
                rng=rng,
                device=self.device,
                precision=self.precision,
            )
        raise ValueError(f"backend must be 'numpy' or 'torch'; got {self.backend!r}")

    # ------------------------------------------------------------------ targets (subclasses)
    def _validate_xy(self, X, y, reset: bool):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            multi_output=True,
            dtype=(np.float64, np.float32),
            y_numeric=not self._is_classifier,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; it is used as 1-D",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y.ravel()
        return X, y

    def _validate_x(self, X):
        check_is_fitted(self, "network_")
        return validate_data(self, X, reset=False, dtype=(np.float64, np.float32))

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train for up to ``max_iter`` epochs (more epochs on the same network with
        ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        continuing = bool(self.warm_start) and hasattr(self, "network_")
        X, y = self._validate_xy(X, y, reset=not continuing)
        return self._fit(X, y, continuing=continuing, incremental=False)

    def _fit(self, X, y, *, continuing: bool, incremental: bool, classes=None):
        y_enc, head, n_out = self._encode_targets(y, continuing=continuing, classes=classes)
        n = X.shape[0]
        if not continuing:
            self._rng = _generator(self.random_state)
            self.network_ = Network(self._spec(X.shape[1], n_out, head), rng=self._rng)
            self.loss_curve_ = []
            self._trainer = None
        early = bool(self.early_stopping) and not incremental
        X_val = y_val = None
        if early:
            X, y_enc, X_val, y_val = self._validation_split(X, y_enc)
            n = X.shape[0]
        epochs_now = 1 if incremental else int(self.max_iter)
        config = self._config(n, epochs_now, early)
        trainer = self._trainer
        if trainer is None:
            trainer = self._make_trainer(self.network_, config, self._rng)
            self._trainer = trainer
        trainer.config = replace(config, epochs=trainer.epoch + epochs_now)
        trainer.best, trainer.wait, trainer.stop_reason = None, 0, None
        stopper = None if early else _TolStop(self.tol, self.n_iter_no_change)
        trainer.callbacks = [] if stopper is None else [stopper]
        start = len(trainer.history)
        trainer.fit(X, y_enc, X_val, y_val)
        new = trainer.history.records[start:]
        if trainer.stop_reason == "divergence":
            warnings.warn(
                "training diverged (non-finite loss); the weights of the last finite epoch "
                "were kept — lower learning_rate_init",
                ConvergenceWarning,
                stacklevel=3,
            )
            new = [r for r in new if not r.get("diverged")]
        self.loss_curve_ = list(self.loss_curve_) + [float(r["train_loss"]) for r in new]
        self.n_iter_ = int(trainer.epoch)
        self.t_ = int(trainer.step)
        metric = "val_accuracy" if self._is_classifier else "val_r2"
        if early:
            self.validation_scores_ = [float(r[metric]) for r in new]
            self.best_validation_score_ = (
                float(np.nanmax(self.validation_scores_)) if self.validation_scores_ else None
            )
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(min(self.loss_curve_)) if self.loss_curve_ else None
        done = (stopper is not None and stopper.converged) or trainer.stop_reason is not None
        if not incremental and not done:
            warnings.warn(
                f"stopped after max_iter={self.max_iter} epochs without converging (tol "
                f"{self.tol}, n_iter_no_change {self.n_iter_no_change})",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _validation_split(self, X, y):
        frac = self.validation_fraction
        if not isinstance(frac, numbers.Real) or not 0 < frac < 1:
            raise ValueError(f"validation_fraction must be in (0, 1); got {frac!r}")
        n_val = int(np.ceil(frac * X.shape[0]))
        if n_val < 1 or X.shape[0] - n_val < 1:
            raise ValueError(
                f"early_stopping needs at least 2 samples to split off a validation set; "
                f"got {X.shape[0]}"
            )
        stratify = None
        if self._is_classifier and y.ndim == 1:
            counts = np.bincount(y.astype(np.int64))
            if counts[counts > 0].min() >= 2 and n_val >= len(counts):
                stratify = y
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        X_tr, X_val, y_tr, y_val = train_test_split(
            X, y, test_size=n_val, random_state=seed, stratify=stratify
        )
        return X_tr, y_tr, X_val, y_val

    def partial_fit(self, X, y, **kwargs):
        """One epoch over ``(X, y)`` on the current network (built on the first call)."""
        continuing = hasattr(self, "network_")
        X, y = self._validate_xy(X, y, reset=not continuing)
        return self._fit(X, y, continuing=continuing, incremental=True, **kwargs)

    def _logits(self, X) -> np.ndarray:
        X = self._validate_x(X)
        return self.network_.forward(X).astype(np.float64)


class MLPClassifier(ClassifierMixin, _MLPBase):
    """Multi-layer perceptron classifier on the mlplab engine.

    Binary targets use a sigmoid + binary cross-entropy head, several classes softmax +
    cross-entropy, a 2-D 0/1 indicator ``y`` (multi-label) one sigmoid + BCE per label.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (16,)
        Units per hidden layer.
    activation : str, dict or sequence, default "relu"
        Any mlplab activation (``relu``, ``tanh``, ``gelu``, ``silu``, ``leaky_relu``,
        ``prelu``, ``elu``, ``sigmoid``, ``hardswish`` …) or ``{"name": ..., "alpha": ...}``;
        a list gives one per hidden layer.
    solver : {"adam", "sgd", "adamw", "momentum", "nesterov"} or dict, default "adam"
        ``sgd`` uses ``momentum`` and ``nesterovs_momentum``; a dict is a full mlplab optimizer
        spec (``{"name": "adamw", "weight_decay": 0.05}``).
    alpha : float, default 1e-4
        L2 penalty ``½ α ‖W‖² / batch_size`` on the Dense weights, added to each batch's mean
        loss (scikit-learn's convention).
    batch_size : int or "auto", default "auto"
        ``auto`` = min(200, n_samples).
    learning_rate_init : float, default 1e-3
    schedule : str or dict, default "constant"
        An mlplab schedule (``cosine``, ``step``, ``warmup_cosine``, ``onecycle`` …).
    max_iter : int, default 200
        Maximum number of epochs.
    tol, n_iter_no_change : float, int
        Stop when the training loss (or, with early stopping, the validation loss) has not
        improved by ``tol`` for ``n_iter_no_change`` epochs.
    shuffle : bool, default True
    random_state : int, RandomState or None
    warm_start : bool, default False
        ``fit`` continues the previous network and optimizer state.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified) and stop on its loss; the best epoch's
        weights are restored.
    validation_fraction : float, default 0.1
    momentum, nesterovs_momentum : float, bool
        For ``solver="sgd"``.
    dropout : float, default 0.0
        After each hidden activation.
    norm : {"none", "batch", "layer"}, default "none"
    init : str, default "xavier_uniform"
        An mlplab initializer.  The default is scikit-learn's Glorot-uniform
        ``U(±√(6/(fan_in + fan_out)))``; ``auto`` picks He for ReLU-like units and Xavier for
        tanh/sigmoid.
    dtype : {"float64", "float32"}, default "float64"
    backend : {"numpy", "torch"}, default "numpy"
    device : {"auto", "cpu", "cuda"}, default "auto"
        Torch backend only.
    precision : {"fp32", "bf16"}, default "fp32"
        Torch backend only; bf16 needs ``dtype="float32"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_, feature_names_in_
    n_outputs_ : int
    network_ : mlplab.core.network.Network
        The trained model (save it with ``network_.save(path)``).
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation accuracy per epoch with early stopping.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run (cumulative with ``warm_start`` and ``partial_fit``).
    t_ : int
        Optimizer steps taken.
    """

    _is_classifier = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _encode_targets(self, y, *, continuing: bool, classes=None):
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            labels = np.arange(y.shape[1])
            if continuing and not (self._multilabel and np.array_equal(labels, self.classes_)):
                raise ValueError("y has other labels than the data this model was trained on")
            self._multilabel = True
            self.classes_ = labels
            self.n_outputs_ = y.shape[1]
            return (y != 0).astype(np.float64), "multilabel_bce", y.shape[1]
        if y.ndim != 1:
            raise ValueError(f"multi-output targets of type {kind!r} are not supported")
        if continuing:
            if self._multilabel:
                raise ValueError("this model was trained on multi-label targets")
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} not seen in the first fit; "
                    f"with warm_start or partial_fit the classes must stay {self.classes_.tolist()}"
                )
        else:
            labels = unique_labels(y) if classes is None else unique_labels(classes)
            if classes is not None:
                unknown = np.setdiff1d(unique_labels(y), labels)
                if unknown.size:
                    raise ValueError(f"y contains labels {unknown.tolist()} not in classes")
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes; "
                    f"the data contain only 1 class: {labels.tolist()}"
                )
            self._multilabel = False
            self.classes_ = labels
            self.n_outputs_ = 1
        ids = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return ids.astype(np.float64), "sigmoid_bce", 1
        return ids.astype(np.int64), "softmax_ce", len(self.classes_)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``.  ``classes`` (all labels) is required on the first call,
        unless ``y`` is a multi-label indicator matrix."""
        if not hasattr(self, "network_") and classes is None and np.ndim(y) == 1:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if hasattr(self, "network_"):
            classes = None
        return super().partial_fit(X, y, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities: (n, n_classes); for multi-label (n, n_labels), P(label = 1)."""
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


class MLPRegressor(RegressorMixin, _MLPBase):
    """Multi-layer perceptron regressor on the mlplab engine (single or multi-output).

    Takes the parameters of :class:`MLPClassifier` plus ``loss``:

    loss : {"squared_error", "absolute_error", "poisson"}, default "squared_error"
        The head: identity + ½ squared error, identity + absolute error, or exp + Poisson
        NLL (counts, ``y ≥ 0``; predictions are rates ``e^z``).

    Attributes are those of :class:`MLPClassifier` without ``classes_``;
    ``validation_scores_`` holds the validation R² per epoch.
    """

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(16,),
        activation="relu",
        *,
        loss="squared_error",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        schedule="constant",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        nesterovs_momentum=True,
        dropout=0.0,
        norm="none",
        init="xavier_uniform",
        dtype="float64",
        backend="numpy",
        device="auto",
        precision="fp32",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            schedule=schedule,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            dropout=dropout,
            norm=norm,
            init=init,
            dtype=dtype,
            backend=backend,
            device=device,
            precision=precision,
        )
        self.loss = loss

    def _encode_targets(self, y, *, continuing: bool, classes=None):
        if self.loss not in _REGRESSION_LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(_REGRESSION_LOSSES)}; got {self.loss!r}"
            )
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and y2.shape[1] != self.network_.output_dim:
            raise ValueError(
                f"y has {y2.shape[1]} output(s); the model was trained with "
                f"{self.network_.output_dim}"
            )
        if not continuing:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = y2.shape[1]
        return y2.astype(np.float64), _REGRESSION_LOSSES[self.loss], y2.shape[1]

    def predict(self, X) -> np.ndarray:
        """Predictions (n,) for a 1-D training target, else (n, n_outputs)."""
        z = self._logits(X)
        out = self.network_.head.output(z)
        return out.ravel() if self._y_1d else out


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
        from mlplab.perceptron import Perceptron as _Rule

        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ValueError(
                f"Perceptron needs samples of at least 2 classes; the data contain only 1 "
                f"class: {classes.tolist()}"
            )
        ids = np.searchsorted(classes, y)
        rule = _Rule(
            lr=self.eta0,
            epochs=self.max_iter,
            pocket=bool(self.pocket),
            shuffle=bool(self.shuffle),
            rng=_generator(self.random_state) if self.shuffle else None,
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
