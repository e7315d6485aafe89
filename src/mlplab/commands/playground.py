"""``mlplab playground``: the browser lab, served locally (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
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
            "otherwise. Stop it with Ctrl-C."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="pages connected at once (default 64)",
    )
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    from mlplab.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); pick another port"
            ) from None


def run(args) -> int:
    """Check the flags, build the app and serve it until Ctrl-C."""
    from mlplab.errors import ConfigError, check_range

    check_range("--port", args.port, 1, 65535, integer=True)
    check_range("--max-sessions", args.max_sessions, 1, 1000, integer=True)
    try:
        import uvicorn
        from threadpoolctl import threadpool_limits

        from mlplab.web.server import Settings, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the playground needs the web extra ({exc.name} is missing): pip install 'mlplab[web]'"
        ) from None
    _check_port(args.host, args.port)
    loopback = _is_loopback(args.host)
    allowed = ["127.0.0.1", "localhost", "::1", "[::1]"] if loopback else None
    if loopback and args.host not in allowed:
        allowed.append(args.host)
    settings = Settings(max_sessions=args.max_sessions, allowed_hosts=allowed)
    app = create_app(settings)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}/"
    print(f"mlplab playground on {url}  (Ctrl-C to stop)")
    if not loopback:
        print(
            f"warning: bound to {args.host}: anyone who can reach this address can use it",
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
