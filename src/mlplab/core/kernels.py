"""The rule by which a fast kernel refuses what it does not implement.

Fast kernels (``forward_into``/``backward_into`` on layers, ``f_into`` on ReLU, the fused
softmax cross-entropy, ``update_into`` on SGD and Adam) sit next to the reference code they
must equal.  Each is written for one class with a known list of settings; :func:`settings_issue`
compares an object with both, so a subclass that changes the reference, or a setting added to
the reference later, makes the fast step run the reference code instead of ignoring it.
"""

from __future__ import annotations

__all__ = ["settings_issue"]


def settings_issue(obj, base: type, known=(), methods=("forward", "backward")) -> str | None:
    """Why a fast kernel written for ``base`` with the settings ``known`` cannot run ``obj``.

    None when ``obj``'s class keeps ``base``'s reference ``methods`` and its settings — the
    optimizer's ``hyperparameters()``, else the ``spec()`` dict of a layer or activation — name
    nothing outside ``known``; otherwise a short reason.
    """
    kind = type(obj)
    for m in methods:
        if getattr(kind, m) is not getattr(base, m):
            return f"{kind.__name__} overrides {base.__name__}.{m}"
    settings = obj.hyperparameters() if hasattr(obj, "hyperparameters") else obj.spec()
    unknown = sorted(set(settings) - set(known)) if isinstance(settings, dict) else []
    if unknown:
        return f"{kind.__name__} has settings the fast kernel does not implement: {unknown}"
    return None
