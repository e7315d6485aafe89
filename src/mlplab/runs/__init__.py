"""Training runs on disk: settings, run folders, checkpoints that lose nothing, results.

A *run* is one training of one model on one data set, kept in a folder::

    DIR/spec.json        settings (RunConfig), model spec, optimizer, schedule, data summary
    DIR/scaler.npz       the input map x ↦ (x − mean) / scale fitted on the training split, and
                         for regression the target map y ↦ (y − μ) / σ (see below)
    DIR/checkpoint.npz   Trainer.state_dict() after the last finished epoch (atomic, no pickle)
    DIR/model.npz        the final model (mlplab.io.save_network)
    DIR/history.json     one record per epoch; DIR/history.csv the same as a table
    DIR/curves.png       loss and metric per epoch, train vs validation
    DIR/metrics.json     test-split metrics (accuracy and confusion matrix, RMSE/MAE/R², deviance)

An *ensemble run* (``--members K``) keeps K ordinary runs in ``DIR/members/0 … K−1`` (same
settings and data, member m's seeds from ``run_rngs(seed, m)``) and, at the top, spec.json,
scaler.npz, history.json/.csv (every member's epochs, with a ``member`` column), metrics.json
and model.npz: the one MLP whose logits are the mean of the members' logits
(:func:`mlplab.core.ensemble.average_networks`).  Resuming it resumes the unfinished members.

The package has one module per job; this ``__init__`` re-exports their public names:

* :mod:`~mlplab.runs.settings` — :class:`RunConfig`, every setting of a run, validated;
  ``to_dict``/``from_dict``.  (The argparse flags for it live in
  :mod:`mlplab.commands.run_flags`: ``add_data_args``, ``add_model_args``, ``add_train_args``,
  ``config_from_args``, ``given_settings``.)
* :mod:`~mlplab.runs.building` — :func:`load_data`, :func:`model_spec`, :func:`build_model`,
  :func:`optimizer_spec`, :func:`build_trainer`, :func:`run_rngs`, the target map.
* :mod:`~mlplab.runs.folder` — :class:`RunDir`, the files of a run folder;
  :func:`pack_state`/:func:`unpack_state` store nested dicts of arrays without pickle;
  :class:`CheckpointCallback` writes the checkpoint.
* :mod:`~mlplab.runs.workflow` — :func:`prepare_run`, :func:`resume_run`, :func:`execute_run`,
  :func:`finish_run`.
* :mod:`~mlplab.runs.ensembles` — :class:`EnsembleRun` and its workflow.
* :mod:`~mlplab.runs.metrics` — :func:`split_metrics`, :func:`history_csv`, :func:`plot_curves`.
* :mod:`~mlplab.runs.prediction` — :func:`evaluate_run` and :func:`predict_csv` use a finished
  run.

Resuming is exact: a checkpoint holds the weights, the optimizer state, the Generator's
``bit_generator`` state, the counters, the history and the early-stopping memory, so a run
killed at any point and resumed ends with the same weights, bit for bit, as one never stopped.
A checkpoint is written only at epoch boundaries (mid-epoch state cannot be resumed exactly);
an interrupted epoch is recomputed on resume.

Regression targets are standardised for training (``--target-scaling auto``, the default):
with an identity head (``identity_mse``/``identity_mae``) on a regression data set the network
learns ``y_s = (y − μ) / σ`` per output column, μ and σ (population std) from the training
split only; :func:`finish_run` then folds the map into the last Dense layer,
``W ← diag(σ) W``, ``b ← σ ⊙ b + μ``, which is exact for an identity head, so ``model.npz``
predicts raw targets and every user of a finished run works in the original units.  The
checkpoint keeps the standardised-space weights (resume recomputes the same μ, σ from the
same data); :meth:`RunDir.load_model` folds them when it falls back to the checkpoint.  The
losses in the history (``train_loss``, ``val_loss``) are therefore in standardised units
(½·MSE in units of σ², MAE in units of σ); ``val_r2`` is unchanged for one output.
``spec.json`` (``target_scaling``) and ``history.json`` (``target_standardized``) say so.
Counts (Poisson, log link) are never scaled; ``--target-scaling none`` trains on raw targets,
as do runs saved before the setting existed.
"""

from __future__ import annotations

# Every public name of the modules (their __all__), in an order that imports each module after
# the ones it builds on.
from mlplab.runs import building, ensembles, folder, metrics, prediction, settings, workflow
from mlplab.runs.building import *  # noqa: F403
from mlplab.runs.ensembles import *  # noqa: F403
from mlplab.runs.folder import *  # noqa: F403
from mlplab.runs.metrics import *  # noqa: F403
from mlplab.runs.prediction import *  # noqa: F403
from mlplab.runs.settings import *  # noqa: F403
from mlplab.runs.workflow import *  # noqa: F403

__all__ = [
    *settings.__all__,
    *building.__all__,
    *folder.__all__,
    *workflow.__all__,
    *ensembles.__all__,
    *metrics.__all__,
    *prediction.__all__,
]

#: Names that moved to :mod:`mlplab.commands.run_flags`; still reachable as ``mlplab.runs.X``
#: (imported on first use, so that this package does not depend on the command line).
_MOVED_TO_FLAGS = (
    "add_data_args",
    "add_model_args",
    "add_train_args",
    "config_from_args",
    "given_settings",
)


def __getattr__(name: str):
    """``mlplab.runs.add_data_args`` and friends, for code written before the flags moved."""
    if name in _MOVED_TO_FLAGS:
        from mlplab.commands import run_flags

        return getattr(run_flags, name)
    raise AttributeError(f"module 'mlplab.runs' has no attribute {name!r}")
