"""scikit-learn's epoch rules for the stochastic solvers, as one training callback.

:class:`SklearnRules` runs inside :class:`mlplab.core.train.Trainer` and does, after every
epoch, what ``sklearn.neural_network``'s ``_fit_stochastic`` does:

* **the L2 penalty of the last batch.**  The trainer adds ``½ λ ‖W‖²`` with a fixed
  ``λ = α / batch_size``; scikit-learn divides by the size of *each* batch.  For a last batch
  of ``m < batch_size`` rows the callback adds the difference ``(α/m − α/batch_size)·W`` to
  the weight gradients before the optimizer step and the matching penalty to the epoch's
  training loss, so ``loss_curve_`` is scikit-learn's number;
* **the stopping rule**: without early stopping an epoch counts as "no improvement" when its
  training loss is above ``best_loss − tol``; with early stopping when the validation score
  (accuracy or R²) is below ``best_score + tol``, and the weights of the best score are kept.
  Training stops once the count exceeds ``n_iter_no_change`` — unless ``learning_rate`` is
  ``adaptive`` (SGD), which divides the learning rate by 5 instead and stops only once it is
  at most 1e-6;
* **invscaling** (SGD): after each epoch ``lr = learning_rate_init / (t + 1) ** power_t``, ``t``
  the number of training samples seen so far;
* ``verbose``: the same progress lines as scikit-learn.

The counters live on the estimator (``best_loss_``, ``best_validation_score_``,
``_no_improvement_count``) so that a ``warm_start`` fit continues them as scikit-learn does.
"""

from __future__ import annotations

import numpy as np

from mlplab.core.train import Callback

__all__ = ["SklearnRules"]


class SklearnRules(Callback):
    """The per-epoch bookkeeping of a scikit-learn stochastic fit.

    Parameters
    ----------
    est : the estimator being fitted (reads its parameters, writes its fitted attributes).
    n_train : int
        Rows of the training part (after the validation split).
    batch_size : int
        The batch size the trainer uses.
    penalty_fix : bool
        Apply the last-batch penalty correction (NumPy engine, unweighted fit).
    score : callable or None
        ``score()`` → the validation score of the current weights (early stopping), else None.
    incremental : bool
        One epoch of ``partial_fit``: no stopping, as scikit-learn.
    """

    def __init__(self, est, *, n_train, batch_size, penalty_fix, score, incremental):
        self.est = est
        self.n = int(n_train)
        self.bs = int(batch_size)
        self.last_m = self.n - (self.n - 1) // self.bs * self.bs
        self.n_batches = -(-self.n // self.bs)
        self.fix = penalty_fix and self.last_m != self.bs and float(est.alpha) > 0
        self.score = score
        self.incremental = incremental
        self.converged = False
        self.best_state = None
        self._batch = 0
        self._extra = 0.0

    def on_epoch_begin(self, trainer) -> None:
        """Reset the batch counter and the penalty correction of this epoch."""
        self._batch = 0
        self._extra = 0.0

    def on_batch_end(self, trainer, batch_loss: float) -> None:
        """On the last (short) batch, make the penalty ``½ α ‖W‖² / m`` for its ``m`` rows."""
        self._batch += 1
        if not self.fix or self._batch != self.n_batches:
            return
        c = float(self.est.alpha) * (1.0 / self.last_m - 1.0 / self.bs)
        for _, layer in trainer.model.dense_layers():
            W = layer.params["weight"]
            layer.grads["weight"] += W.dtype.type(c) * W
            # its share of the epoch's mean loss: ½ c ‖W‖² · m / n
            self._extra += 0.5 * c * float(np.sum(W * W)) * self.last_m / self.n

    def on_epoch_end(self, trainer) -> None:
        """Record the epoch as scikit-learn does and apply its stopping and lr rules."""
        est = self.est
        rec = trainer.history.last()
        rec["train_loss"] = float(rec["train_loss"]) + self._extra
        loss = rec["train_loss"]
        est.n_iter_ += 1
        est.t_ += self.n
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        tol = float(est.tol)
        if self.score is not None:
            val = float(self.score())
            rec["val_score"] = val
            est.validation_scores_.append(val)
            if est.verbose:
                print(f"Validation score: {val:f}")
            if val < est.best_validation_score_ + tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if val > est.best_validation_score_:
                est.best_validation_score_ = val
                self.best_state = trainer.model.state_dict()
        else:
            if loss > est.best_loss_ - tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        sgd = est.solver == "sgd"
        opt = trainer.optimizer
        if sgd and est.learning_rate == "invscaling":
            opt.base_lr = float(est.learning_rate_init) / (est.t_ + 1) ** float(est.power_t)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.score is not None else "Training loss"
            msg = (
                f"{what} did not improve more than tol={tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if sgd and est.learning_rate == "adaptive" and opt.base_lr > 1e-6:
                opt.base_lr /= 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"{msg} Setting learning rate to {opt.base_lr:f}")
            else:
                if est.verbose:
                    print(f"{msg} Stopping.")
                self.converged = True
                trainer.stop = True
        if self.incremental:
            trainer.stop = True
