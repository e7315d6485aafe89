"""Connecting to Ray: a local instance by default, a cluster with an address.

Ray is an optional extra (``pip install 'mlplab[ray]'``); every option that needs it goes
through :func:`require_ray`, which raises a one-line :class:`~mlplab.errors.ConfigError` when
it is missing.  :func:`connect` starts or joins Ray and turns the failures a user can cause (a
mistyped or unreachable address, a missing token) into the same kind of one-line error
instead of Ray's minutes of retries and tracebacks.

Addresses
---------
``None``
    a fresh local Ray instance for this process (``ray.init(address="local")``), bound to
    127.0.0.1, shut down with the executor.  An already running cluster is *not* joined by
    accident: that takes ``auto``.
``"auto"``
    the cluster started on this machine with ``ray start --head`` (Ray finds its address and
    token itself).
``"HOST:PORT"``
    the head node's GCS address as printed by ``ray start --head``.  Ray's token
    authentication is on by default; for an explicit address Ray only sends a token when the
    driver sets ``RAY_AUTH_MODE=token`` and has the token (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``; ``ray get-auth-token`` prints it on
    the head node).  See docs/scale-out.md.
"""

from __future__ import annotations

import os
import socket

from mlplab.errors import ConfigError

__all__ = ["INSTALL_HINT", "ray_available", "require_ray", "check_address", "connect"]

INSTALL_HINT = "pip install 'mlplab[ray]'"


def ray_available() -> bool:
    """True when ``import ray`` (with Tune) would work."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def require_ray(option: str) -> None:
    """Raise ConfigError naming ``option`` and the install command when Ray is missing."""
    if not ray_available():
        raise ConfigError(f"{option} needs Ray, which is not installed: {INSTALL_HINT}")


def check_address(address: str, *, timeout: float = 5.0) -> None:
    """Fail fast on a malformed or unreachable ``HOST:PORT`` (Ray itself retries for minutes).

    ``auto`` and ``local`` are left to Ray.  Raises ConfigError naming ``--address``.
    """
    if address in ("auto", "local"):
        return
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://"):
        raise ConfigError(
            "--address takes the head node's HOST:PORT (Ray Client ray:// addresses are not "
            f"supported); got {address!r}"
        )
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--address must be HOST:PORT of a Ray head node (or auto); got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--address {address} is unreachable ({exc.strerror or exc}); start a head node "
            "with `ray start --head` and give the address it prints"
        ) from None


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Start a local Ray instance (``address`` None) or join a cluster; return True when this
    call started or joined Ray (the caller then calls ``ray.shutdown()``), False when Ray was
    already initialised in this process.

    ``num_cpus`` sets a local instance's CPUs (default: all); with an address the cluster's
    resources decide.  Unless the user set them, ``RAY_USAGE_STATS_ENABLED=0`` (no usage
    report leaves the machine) and, for a local instance, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
    (Ray binds to 127.0.0.1 only).  Raises ConfigError for every failure a user can fix.
    """
    require_ray("--executor ray / mlplab sweep")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:  # a cluster's driver must stay reachable from the other nodes
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return False
    kwargs = {"logging_level": "ERROR", "log_to_driver": False, "include_dashboard": False}
    if address is None:
        try:
            # bound to 127.0.0.1, even when Ray was imported before the variable above was set
            ray.init(address="local", num_cpus=num_cpus, _node_ip_address="127.0.0.1", **kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray's start-up errors have many types
            raise ConfigError(f"could not start a local Ray instance: {_last_line(exc)}") from None
        return True
    if num_cpus is not None:
        raise ConfigError(
            "a CPU count applies to a local Ray instance; with --address the cluster's CPUs decide"
        )
    check_address(address)
    kwargs.pop("include_dashboard")
    try:
        ray.init(address=address, **kwargs)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError, AuthenticationError
        if _is_auth_error(exc):
            raise ConfigError(
                f"the Ray cluster at {address} asks for its token: set RAY_AUTH_MODE=token and "
                "RAY_AUTH_TOKEN (print it on the head node with `ray get-auth-token`); see "
                "docs/scale-out.md"
            ) from None
        raise ConfigError(f"--address {address}: {_last_line(exc)}") from None
    return True


def _is_auth_error(exc: BaseException) -> bool:
    """Whether ``exc`` or anything in its chain is Ray's authentication error."""
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an exception's message (Ray's can span pages)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
