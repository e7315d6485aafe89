"""The playground: a browser lab served by ``mlplab playground``.

:mod:`mlplab.web.schemas` (the message protocol), :mod:`mlplab.web.sessions` (one page's data,
network and training, driven by the engine) and :mod:`mlplab.web.server` (FastAPI app, one
WebSocket per page).  The page itself is ``static/`` (HTML, JavaScript, CSS; no build step).
"""
