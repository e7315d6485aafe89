"""Hyperparameter sweeps over ``mlplab train`` settings, run with Ray Tune.

* :mod:`mlplab.sweep.space` — axes (grid values, random ranges), files, the trial list.
* :mod:`mlplab.sweep.tuning` — the Tune trainable (one run folder per trial) and
  :func:`run_sweep` (ASHA, resume).
* :mod:`mlplab.sweep.results` — the table (CSV/JSON), the best trial, figures.

``mlplab sweep`` (:mod:`mlplab.commands.sweep`) is the command line over these.
"""
