"""``mlplab playground``: the browser lab, served locally (FastAPI + uvicorn)."""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import sys
import threading
import webbrowser


def register(sub) -> None:
    """Add the ``playground`` sub-command to ``sub``."""
    p = sub.add_parser(
        "playground",
        help="serve the browser playground (watch a network learn)",
        description=(
            "Serve the playground on http://HOST:PORT/. Training runs in mlplab's engine on "
            "this machine; the page only draws. It binds 127.0.0.1 unless --host says "
            "otherwise; bound beyond loopback it prints a URL with a random token, which "
            "every page and socket must carry. Stop it with Ctrl-C."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host name (repeatable; the bound address, localhost and this "
        "machine's name are always accepted)",
    )
    p.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="pages connected at once (default 64)",
    )
    p.set_defaults(func=run)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def check_host(host: str) -> None:
    """Refuse (ConfigError naming ``--host``) a value that is neither an IP address nor a host
    name; checked by syntax alone, so nothing is looked up."""
    from mlplab.errors import ConfigError

    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    dotted_digits = all(label.isdigit() for label in labels)
    if not host or len(host) > 253 or dotted_digits or not all(_LABEL.match(x) for x in labels):
        raise ConfigError(
            f"--host {host!r}: not an IP address or host name (for example 127.0.0.1, ::1, "
            "0.0.0.0 or localhost)"
        )


def _check_bind(host: str, port: int) -> None:
    """Try to listen on (host, port): a name that does not resolve or an address this machine
    lacks is a ``--host`` error; a port in use or not allowed is a ``--port`` error."""
    from mlplab.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host}: cannot resolve it ({exc})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(
                    f"--host {host}: not an address of this machine ({exc.strerror})"
                ) from None
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); pick another port"
            ) from None


def settings_for(host: str, allow_hosts: list[str], max_sessions: int):
    """The server settings for a bind to ``host``: the Host names it answers to, and a fresh
    token unless it is loopback (:func:`mlplab.web.access.access_policy`)."""
    from mlplab.web.access import access_policy
    from mlplab.web.server import Settings

    policy = access_policy(host, allow_hosts)
    return Settings(
        max_sessions=max_sessions,
        allowed_hosts=sorted(policy.hosts),
        any_ip_host=policy.any_ip,
        token=policy.token,
    )


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to print: this machine's name for a wildcard bind, the token in the query."""
    from mlplab.web.access import is_wildcard

    shown = socket.gethostname() if is_wildcard(host) else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def run(args) -> int:
    """Check the flags, build the app and serve it until Ctrl-C."""
    from mlplab.errors import ConfigError, check_range

    check_host(args.host)
    check_range("--port", args.port, 1, 65535, integer=True)
    check_range("--max-sessions", args.max_sessions, 1, 1000, integer=True)
    try:
        import uvicorn
        from threadpoolctl import threadpool_limits

        from mlplab.web.server import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the playground needs the web extra ({exc.name} is missing): pip install 'mlplab[web]'"
        ) from None
    _check_bind(args.host, args.port)
    settings = settings_for(args.host, args.allow_host, args.max_sessions)
    app = create_app(settings)
    url = page_url(args.host, args.port, settings.token)
    print(f"mlplab playground on {url}  (Ctrl-C to stop)")
    if settings.token:
        print(
            f"warning: bound to {args.host}: anyone who can reach it and has this URL (with "
            "its token) can use it",
            file=sys.stderr,
        )
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    threadpool_limits(1)  # many small matrices in parallel threads: no nested BLAS threads
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    uvicorn.Server(config).run()
    return 0
