"""One module per ``mlplab`` sub-command; see :mod:`mlplab.cli`."""
