"""What :class:`~mlplab.sklearn.MLPClassifier` and :class:`~mlplab.sklearn.MLPRegressor`
share: parameters and their validation, the network, the three solvers, the fitted
attributes, the doctor and ONNX export.  The targets (labels or values) are the subclasses'
business (:mod:`mlplab.sklearn.estimators`).
"""

from __future__ import annotations

import numbers
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from mlplab.core.activations import ACTIVATIONS
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import SCHEDULES
from mlplab.core.train import TrainConfig, Trainer
from mlplab.diagnostics import DiagnosticsRecorder, diagnose, probe_record
from mlplab.sklearn.lbfgs import minimize_lbfgs
from mlplab.sklearn.loop import SklearnRules

__all__ = ["MLPBase", "SKLEARN_PARAMS", "MLPLAB_PARAMS", "STOCHASTIC_SOLVERS"]

#: scikit-learn's activation names → mlplab's (mlplab's own names are accepted as they are).
ACTIVATION_ALIASES = {"logistic": "sigmoid"}
STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw")
#: Rows of the training set the doctor probes (activation statistics, dead units).
PROBE_ROWS = 256

#: The parameters of scikit-learn's MLPs, with scikit-learn's constraints; ``activation`` and
#: ``solver`` also take mlplab's names, a dict, or (activation) one per hidden layer.
SKLEARN_PARAMS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"logistic", *ACTIVATIONS}), dict, list, tuple],
    "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS}), dict],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
}
#: mlplab's extra parameters; each default leaves scikit-learn's model and training unchanged.
MLPLAB_PARAMS: dict = {
    "schedule": [None, StrOptions(set(SCHEDULES)), dict],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "norm": [StrOptions({"none", "batch", "layer"})],
    "init": [str],
    "dtype": [StrOptions({"float32", "float64"})],
    "backend": [StrOptions({"numpy", "torch"})],
    "device": [StrOptions({"auto", "cpu", "cuda"})],
    "precision": [StrOptions({"fp32", "bf16"})],
    "doctor": ["boolean"],
}
MLPLAB_DEFAULTS = {
    "schedule": None,
    "dropout": 0.0,
    "norm": "none",
    "init": "xavier_uniform",
    "dtype": "float64",
    "backend": "numpy",
    "device": "auto",
    "precision": "fp32",
    "doctor": True,
}


def generator(random_state) -> np.random.Generator:
    """A fresh NumPy Generator from a scikit-learn ``random_state`` (int, RandomState, None)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral):
        return np.random.default_rng(int(random_state))
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(int(seed))


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """``sample_weight`` as a float64 vector of ``n`` finite, non-negative weights (a scalar
    weighs every row alike), with a positive sum."""
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0) or sw.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return sw


class MLPBase(BaseEstimator):
    """The machinery shared by the two MLP estimators (not an estimator by itself).

    Subclasses provide ``_is_classifier``, ``_encode(y, first_pass, classes)`` → ``(Y, head)``
    for the network, and ``_val_score(Z, Y, sample_weight)`` → scikit-learn's score (accuracy
    or R²) from logits on encoded targets.
    """

    _parameter_constraints: dict = {**SKLEARN_PARAMS, **MLPLAB_PARAMS}
    _is_classifier = False

    def __sklearn_tags__(self):
        """scikit-learn's tags: single and multi-output targets."""
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _store_params(self, values: dict) -> None:
        """``__init__``'s body: store every argument unchanged (scikit-learn's convention)."""
        for name, value in values.items():
            if name != "self":
                setattr(self, name, value)

    # ------------------------------------------------------------------ fitted weights
    @property
    def coefs_(self) -> list:
        """Weight matrices, ``coefs_[i]`` of shape (units in layer i, units in layer i + 1) as
        in scikit-learn: views of the network's Dense weights (which mlplab stores
        transposed, (out, in)), so writing into them changes the model."""
        check_is_fitted(self, "network_")
        return [layer.params["weight"].T for _, layer in self.network_.dense_layers()]

    @coefs_.setter
    def coefs_(self, values) -> None:
        for dst, src in zip(self.coefs_, values, strict=True):
            dst[...] = np.asarray(src)

    @property
    def intercepts_(self) -> list:
        """Bias vectors, ``intercepts_[i]`` of shape (units in layer i + 1,); live views."""
        check_is_fitted(self, "network_")
        return [layer.params["bias"] for _, layer in self.network_.dense_layers()]

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        for dst, src in zip(self.intercepts_, values, strict=True):
            dst[...] = np.asarray(src)

    # ------------------------------------------------------------------ parameters → engine
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
        if any(not isinstance(s, numbers.Integral) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _spec(self, n_in: int, n_out: int, head: str) -> dict:
        hidden = self._hidden_sizes()
        act = self.activation
        acts = list(act) if isinstance(act, (list, tuple)) else [act] * len(hidden)
        acts = [ACTIVATION_ALIASES.get(a, a) if isinstance(a, str) else a for a in acts]
        return mlp_spec(
            [n_in, *hidden, n_out],
            activations=acts,
            head=head,
            init=self.init,
            dropout=self.dropout,
            norm=self.norm,
            dtype=self.dtype,
        )

    def _optimizer(self):
        lr = float(self.learning_rate_init)
        if isinstance(self.solver, dict):
            return {"lr": lr, **self.solver}
        if self.solver == "sgd":
            nesterov = bool(self.nesterovs_momentum and self.momentum > 0)
            return {"name": "sgd", "lr": lr, "momentum": self.momentum, "nesterov": nesterov}
        return {
            "name": self.solver,
            "lr": lr,
            "beta1": float(self.beta_1),
            "beta2": float(self.beta_2),
            "eps": float(self.epsilon),
        }

    def _check_combinations(self) -> None:
        """Settings that are valid one by one but not together."""
        if self.solver == "lbfgs" and self.dropout > 0:
            raise ValueError("solver='lbfgs' needs a deterministic loss: set dropout=0")
        if self.backend == "torch" and self.learning_rate != "constant":
            raise ValueError("backend='torch' supports learning_rate='constant' only")
        if isinstance(self.activation, (list, tuple)) and len(self.activation) != len(
            self._hidden_sizes()
        ):
            raise ValueError("activation as a list needs one entry per hidden layer")

    def _check_solver(self) -> bool:
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # ------------------------------------------------------------------ fitting
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
            from sklearn.utils import column_or_1d

            y = column_or_1d(y, warn=True)
        return X, y

    def _fit(self, X, y, sample_weight=None, *, incremental: bool, classes=None):
        self._validate_params()
        self._check_combinations()
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._validate_xy(X, y, reset=first_pass)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(X))
        Y, head = self._encode(
            y,
            first_pass=first_pass,
            incremental=incremental,
            classes=classes,
            sample_weight=sample_weight,
        )
        if first_pass:
            self._rng = generator(self.random_state)
            n_out = 1 if Y.ndim == 1 else Y.shape[1]
            if head == "softmax_ce":
                n_out = len(self.classes_)
            self.network_ = Network(self._spec(X.shape[1], n_out, head), rng=self._rng)
            self.n_outputs_ = int(self.network_.output_dim)
            self.n_layers_ = len(self._hidden_sizes()) + 2
            self.out_activation_ = {
                "sigmoid_bce": "logistic",
                "multilabel_bce": "logistic",
                "softmax_ce": "softmax",
                "exp_poisson": "exp",
            }.get(head, "identity")
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self._trainer = None
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self.best_loss_ = None
            else:
                self.validation_scores_ = self.best_validation_score_ = None
                self.best_loss_ = np.inf
        elif not incremental:
            self._rng = generator(self.random_state)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._fit_stochastic(X, Y, sample_weight, incremental)
        return self

    def _fit_lbfgs(self, X, Y, sw):
        res = minimize_lbfgs(
            self.network_,
            X,
            Y,
            sample_weight=sw,
            alpha=float(self.alpha),
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=float(self.tol),
            verbose=bool(self.verbose),
        )
        self.n_iter_ = res.n_iter
        self.loss_ = res.loss
        self.loss_curve_ = list(res.curve)
        self.best_loss_ = min(self.loss_curve_, default=res.loss)
        self.validation_scores_ = self.best_validation_score_ = None  # no early stopping here
        history = [{"epoch": i + 1, "train_loss": v} for i, v in enumerate(res.curve)]
        self._diagnose_now(None, history, X, Y, None)
        if res.status != 0:
            self._warn(f"lbfgs failed to converge after {res.n_iter} iteration(s) ({res.message})")

    def _split(self, X, Y, sw):
        """scikit-learn's validation split for early stopping (stratified for single-label
        classification when every class has two rows)."""
        stratify = None
        if self._is_classifier and Y.ndim == 1:
            counts = np.unique(Y, return_counts=True)[1]
            stratify = Y if counts.min() >= 2 else None
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        arrays = (X, Y) if sw is None else (X, Y, sw)
        try:
            parts = train_test_split(
                *arrays, random_state=seed, test_size=self.validation_fraction, stratify=stratify
            )
        except ValueError:
            parts = train_test_split(*arrays, random_state=seed, test_size=self.validation_fraction)
        X_tr, X_val, Y_tr, Y_val = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sw is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        return X_tr, Y_tr, sw_tr, X_val, Y_val, sw_val

    def _make_trainer(self, config: TrainConfig, callbacks):
        kw = dict(schedule=self.schedule, config=config, rng=self._rng, callbacks=callbacks)
        if self.backend == "torch":
            from mlplab.backends.torch import TorchTrainer

            return TorchTrainer(
                self.network_, self._optimizer(), device=self.device, precision=self.precision, **kw
            )
        return Trainer(self.network_, self._optimizer(), **kw)

    def _fit_stochastic(self, X, Y, sw, incremental: bool):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early = bool(self.early_stopping)
        X_val = Y_val = sw_val = None
        if early:
            X, Y, sw, X_val, Y_val, sw_val = self._split(X, Y, sw)
        n = X.shape[0]
        if self.batch_size == "auto":
            bs = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped",
                    stacklevel=3,
                )
            bs = int(np.clip(self.batch_size, 1, n))
        mean_w = 1.0 if sw is None else float(np.mean(sw))
        epochs = 1 if incremental else int(self.max_iter)
        config = TrainConfig(
            epochs=epochs,
            batch_size=bs,
            shuffle=bool(self.shuffle),
            l2=float(self.alpha) / (bs * mean_w) if mean_w > 0 else 0.0,
            early_stopping=None,
        )

        def score():
            return self._val_score(self.network_.forward(X_val), Y_val, sw_val)

        rules = SklearnRules(
            self,
            n_train=n,
            batch_size=bs,
            penalty_fix=self.backend == "numpy" and sw is None,
            score=score if early else None,
            incremental=incremental,
        )
        self.n_iter_ = 0  # per call, as scikit-learn (t_ and loss_curve_ accumulate)
        recorder = None
        if self.doctor and self.backend == "numpy" and not incremental:
            # one gradient check per epoch, activations probed once at the end: enough for
            # the doctor's findings at a few per cent of the fit's cost
            recorder = DiagnosticsRecorder(labels=Y, every=-(-n // bs))
        callbacks = [rules] if recorder is None else [rules, recorder]
        trainer = self._trainer if incremental else None
        if trainer is None:
            trainer = self._make_trainer(config, callbacks)
            self._trainer = trainer
        else:
            trainer.config = TrainConfig(**{**vars(config), "epochs": trainer.epoch + 1})
            trainer.callbacks = callbacks
        kw = {} if sw is None else {"sample_weight": sw}
        trainer.fit(X, Y, **kw)
        trainer.callbacks = []  # they hold this fit's data and a closure: nothing to pickle
        if early and rules.best_state is not None:
            self.network_.load_state_dict(rules.best_state)
        if incremental:
            return
        self._diagnose_now(recorder, trainer.history.records, X, Y, trainer.stop_reason)
        if trainer.stop_reason == "divergence":
            self._warn(
                "Stochastic Optimizer: training diverged (non-finite loss); the weights of the "
                "last finite epoch were kept"
            )
        elif not rules.converged and self.n_iter_ == self.max_iter:
            self._warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet."
            )

    # ------------------------------------------------------------------ the doctor
    def _diagnose_now(self, recorder, history, X, Y, stop_reason) -> None:
        """Keep the doctor's findings on the finished fit (``diagnose()`` returns them)."""
        if not self.doctor:
            self.findings_ = []
            return
        rows = min(PROBE_ROWS, len(X))
        if recorder is not None and recorder.started:
            record = recorder.record
            at_rest = probe_record(self.network_, X[:rows], epoch=self.n_iter_)
            record["activations"] = at_rest["activations"]
            record["probe_size"] = rows
        else:
            record = probe_record(self.network_, X[:rows], Y[:rows], epoch=self.n_iter_)
        self.findings_ = diagnose(record, history, stop_reason=stop_reason)

    def _warn(self, message: str) -> None:
        """A ConvergenceWarning whose text adds the doctor's reasons, when it has any."""
        reasons = [f for f in getattr(self, "findings_", []) if f.severity != "info"]
        if reasons:
            message += " mlplab's doctor: " + " | ".join(
                f"{f.id}: {f.summary}. {f.advice}" for f in reasons
            )
        warnings.warn(message, ConvergenceWarning, stacklevel=5)

    def diagnose(self) -> list:
        """The doctor's findings on the last ``fit`` (list of :class:`mlplab.diagnostics.Finding`,
        errors first; empty when nothing is wrong or with ``doctor=False``): vanishing or
        exploding gradients, saturation, dead ReLUs, divergence, a flat loss."""
        check_is_fitted(self, "network_")
        return list(getattr(self, "findings_", []))

    # ------------------------------------------------------------------ prediction, export
    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.forward(X).astype(np.float64)

    def _export_network(self) -> Network:
        """The network as ONNX should compute it (the regressor folds its target scaling in)."""
        return self.network_

    def to_onnx(self, path, *, opset: int = 17) -> dict:
        """Write the fitted model as ONNX (needs torch).  Outputs ``logits`` and ``output``:
        class probabilities (binary: P(class 1), one column) or predictions in the original
        units of ``y``.  Returns the graph's input/output names and opset."""
        check_is_fitted(self, "network_")
        from mlplab.backends.torch import export_onnx

        return export_onnx(self._export_network(), path, opset=opset)
