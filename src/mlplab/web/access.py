"""Who may use a playground server: the Host check (against DNS rebinding) and the URL token.

A page of another site cannot open the playground's WebSocket (the server compares ``Origin``
with ``Host``), but with DNS rebinding a hostile name can be made to point at this machine: the
browser then sends ``Host: hostile.example`` and ``Origin: http://hostile.example``, which
agree.  So every request and WebSocket is also checked against the names this server answers
to (:class:`AccessPolicy`): the loopback names, the bound address, this machine's name and any
``--allow-host``.  A wildcard bind (``0.0.0.0``, ``::``) also accepts IP-literal hosts: a
rebinding attack needs a DNS name, so an address typed by the user is safe.

Bound beyond loopback, anyone on the network can reach the port, so the server also requires
a random token: the URL printed at start carries it as ``?token=…``; the first page load turns
it into a same-site, HTTP-only cookie, which the page's scripts and WebSocket then carry.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

__all__ = [
    "LOOPBACK_NAMES",
    "TOKEN_COOKIE",
    "AccessMiddleware",
    "AccessPolicy",
    "access_policy",
    "host_name",
    "is_loopback",
    "is_wildcard",
]

#: Host names every playground answers to.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: Name of the cookie that carries the token after the first page load.
TOKEN_COOKIE = "mlplab_playground_token"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for the all-interfaces addresses ``0.0.0.0`` and ``::``."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name part of a ``Host`` header, lower case, without port, brackets or final dot."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class AccessPolicy:
    """The Host names (and, beyond loopback, the token) a server accepts.

    Attributes
    ----------
    hosts : frozenset of str
        Accepted ``Host`` names (lower case, no port).
    any_ip : bool
        Also accept any IP-literal ``Host`` (a wildcard bind).
    token : str or None
        The secret every request must carry (query ``token`` or the cookie); None: no token.
    """

    hosts: frozenset[str] = field(default_factory=lambda: frozenset(LOOPBACK_NAMES))
    any_ip: bool = False
    token: str | None = None

    def host_ok(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header may be served."""
        if not header:
            return False
        name = host_name(header)
        return name in self.hosts or (self.any_ip and _is_ip(name))

    def token_ok(self, given: str | None) -> bool:
        """Whether ``given`` is the token (always True when no token is required)."""
        if self.token is None:
            return True
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode())


def access_policy(
    bind: str, allow_hosts: list[str] | tuple[str, ...] = (), token: str | None = None
) -> AccessPolicy:
    """The policy of a server bound to ``bind``.

    Accepted hosts: the loopback names, ``bind`` itself, and ``allow_hosts``; beyond loopback
    also this machine's name (:func:`socket.gethostname`, no DNS lookup).  Beyond loopback a
    token is required: ``token`` or a fresh random one.
    """
    loopback = is_loopback(bind)
    names = {*LOOPBACK_NAMES, host_name(bind) if bind.startswith("[") else bind.lower()}
    if not loopback:
        names.add(socket.gethostname().lower())
    names.update(host_name(h) for h in allow_hosts)
    names.discard("")
    return AccessPolicy(
        hosts=frozenset(names),
        any_ip=is_wildcard(bind),
        token=None if loopback else (token or secrets.token_urlsafe(24)),
    )


class AccessMiddleware:
    """ASGI middleware applying an :class:`AccessPolicy` to every HTTP request and WebSocket.

    A wrong ``Host`` gets 400 (a WebSocket is closed with 1008 before it is accepted); a missing
    or wrong token gets 403 (1008).  A right token in the query sets the cookie.
    """

    def __init__(self, app, policy: AccessPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send):
        """Check the request, then pass it on or refuse it."""
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        if not self.policy.host_ok(headers.get("host")):
            return await self._refuse(scope, send, 400, "Invalid Host header")
        if self.policy.token is None:
            return await self.app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [None])[0]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is simply no cookie
            cookie = SimpleCookie()
        from_cookie = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None
        if self.policy.token_ok(from_query):
            if scope["type"] == "http":
                return await self.app(scope, receive, self._with_cookie(send))
            return await self.app(scope, receive, send)
        if self.policy.token_ok(from_cookie):
            return await self.app(scope, receive, send)
        return await self._refuse(
            scope,
            send,
            403,
            "This playground needs its token: open the URL that mlplab playground printed.",
        )

    def _with_cookie(self, send):
        value = (f"{TOKEN_COOKIE}={self.policy.token}; Path=/; HttpOnly; SameSite=Strict").encode(
            "latin-1"
        )

        async def wrapped(message):
            """Add the cookie to the response's headers."""
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", value)],
                }
            await send(message)

        return wrapped

    @staticmethod
    async def _refuse(scope, send, status: int, text: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
