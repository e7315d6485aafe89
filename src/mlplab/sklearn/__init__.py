"""scikit-learn estimators on the mlplab engine: :class:`MLPClassifier`, :class:`MLPRegressor`
(drop-in replacements for ``sklearn.neural_network``'s) and :class:`Perceptron`.

Swap ``from sklearn.neural_network import MLPClassifier`` for
``from mlplab.sklearn import MLPClassifier`` and nothing else changes: the same parameters with
the same defaults, validated the same way at ``fit`` (``InvalidParameterError``), the same
fitted attributes with the same shapes (``coefs_[i]`` is (n_in, n_out)), ``partial_fit`` for
the stochastic solvers only, ``warm_start``, ``sample_weight``, the same stopping rules and
``ConvergenceWarning``.  They pass ``sklearn.utils.estimator_checks`` and work in ``Pipeline``,
``GridSearchCV``, ``clone`` and pickle.

What mlplab adds:

* ``MLPRegressor`` standardises the targets internally (``standardize_targets=True``); the
  predictions are in the original units.  scikit-learn's regressor, trained on raw targets of
  size ~100 for 200 Adam epochs at lr 1e-3, has not got there yet (diabetes: R² < 0).
* The doctor: with ``doctor=True`` (default) the fit records gradient and activation
  statistics; a ``ConvergenceWarning`` then says *why* (dead ReLUs, saturation, divergence,
  a flat loss, vanishing or exploding gradients) and ``est.diagnose()`` returns the findings.
* ``est.to_onnx(path)`` (through torch; checked with onnxruntime in the tests).
* mlplab's activations, dropout, normalisation, initialisers, AdamW, schedules, float32, and the
  torch backend (``backend="torch"``), each off by default.

The loss, decided to match scikit-learn's numbers:

* The L2 penalty is scikit-learn's: ``½ α ‖W‖² / m`` added to the mean loss of each batch of
  ``m`` rows (Dense weights only, not biases), so ``loss_curve_`` and the gradients are the
  same definition (see :mod:`mlplab.sklearn.loop`).  With ``lbfgs`` the whole set is one batch
  and ``m`` is the sum of the sample weights.  With sample weights and a stochastic solver ``m``
  is taken as ``batch_size × mean(w)`` (scikit-learn: the batch's own sum of weights; equal in
  expectation).
* Cross-entropy and ½ squared error as scikit-learn; with several regression outputs mlplab's
  loss sums over them (as its gradient does; scikit-learn reports the mean over outputs but
  follows the gradient of the sum).  The Poisson loss omits the terms constant in the model
  (``y log y − y``).
* Sample weights: the weighted mean ``Σ w·l / Σ w`` per batch, as scikit-learn.

Other differences: Adam adds ``ε`` after the bias correction of the second moment (as torch)
rather than before; biases start at 0 (scikit-learn draws them like the weights); the default
dtype is float64 whatever the dtype of ``X``; sparse input is not accepted; ``t_`` counts
samples as scikit-learn's does; the early-stopping split is stratified for every single-label
classification (scikit-learn: binary only); ``lbfgs`` also records ``loss_curve_`` and
``best_loss_`` (one value per iteration).
"""

from mlplab.sklearn.estimators import MLPClassifier, MLPRegressor
from mlplab.sklearn.perceptron import Perceptron

__all__ = ["MLPClassifier", "MLPRegressor", "Perceptron"]
