"""Test-wide settings.

Hypothesis profiles: ``ci`` (chosen by ``.ci/run`` through ``HYPOTHESIS_PROFILE=ci``) draws a
fixed sequence of examples, so a CI run is reproducible and a submission is not failed by an
example no earlier run drew; ``default`` (``make test`` on a developer's machine) draws new
random examples on every run, which is how new failing cases are found — each one found is
then pinned with ``@example`` (see ``tests/core/test_network.py``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
