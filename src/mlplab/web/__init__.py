"""The playground: a browser lab served by ``mlplab playground``.

:mod:`mlplab.web.schemas` (the message protocol), :mod:`mlplab.web.data` (data sets and CSV
uploads in page coordinates), :mod:`mlplab.web.sessions` (one page's network and training,
driven by the engine; :mod:`~mlplab.web.monitors` and :mod:`~mlplab.web.perceptron_mode` help
it), :mod:`mlplab.web.frames` (what is sent to the page), :mod:`mlplab.web.evaluation` (metrics,
confusion matrix, dead units, backward view), :mod:`mlplab.web.model_files` (imported model
files, checked before use), :mod:`mlplab.web.commandline` (the equivalent ``mlplab train``),
:mod:`mlplab.web.access` (Host check and URL token) and :mod:`mlplab.web.server` (FastAPI app,
one WebSocket per page).  The page itself is
``static/`` (HTML, CSS and ES modules under ``static/js/``; no build step).
"""
