"""Who may use the playground: the Host check holds on every bind (DNS rebinding), and a bind
beyond loopback needs the random token of the printed URL, for pages and WebSockets alike.

Nothing here binds a non-loopback address: the decision is tested as a function and the checks
through the app object (TestClient)."""

from __future__ import annotations

import socket
import warnings

import pytest

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from starlette.websockets import WebSocketDisconnect  # noqa: E402

from mlplab.web.access import TOKEN_COOKIE, access_policy, host_name  # noqa: E402
from mlplab.web.server import Settings, create_app  # noqa: E402


def test_host_names_are_parsed_without_port_or_brackets():
    assert host_name("LocalHost:8000") == "localhost"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("example.org.") == "example.org"
    assert host_name("10.0.0.5") == "10.0.0.5"


def test_loopback_bind_checks_host_and_needs_no_token():
    p = access_policy("127.0.0.1")
    assert p.token is None
    assert p.host_ok("127.0.0.1:8000") and p.host_ok("localhost:8000") and p.host_ok("[::1]:80")
    assert not p.host_ok("rebound.example:8000") and not p.host_ok("10.0.0.5:8000")
    assert not p.host_ok(None) and not p.host_ok("")


def test_a_bind_beyond_loopback_keeps_the_host_check_and_requires_a_token():
    p = access_policy("192.168.7.5", allow_hosts=["lab.example:8000"])
    assert p.token and len(p.token) >= 32
    assert access_policy("192.168.7.5").token != p.token  # random per start
    for ok in ("192.168.7.5:8000", "lab.example", socket.gethostname(), "localhost"):
        assert p.host_ok(ok), ok
    assert not p.host_ok("rebound.example:8000")  # DNS rebinding: a name we do not answer to
    assert not p.host_ok("10.0.0.9:8000")  # another address: not a wildcard bind
    w = access_policy("0.0.0.0")
    assert w.token and w.host_ok("10.0.0.9:8000") and w.host_ok("[fe80::1]:8000")
    assert not w.host_ok("rebound.example")
    assert p.token_ok(p.token) and not p.token_ok(p.token[:-1] + "x") and not p.token_ok(None)


def client_for(**kw) -> TestClient:
    return TestClient(create_app(Settings(**kw)), base_url="http://lab.example:8000")


def test_default_settings_check_host_too():
    c = client_for()  # no allowed_hosts given: the loopback names only
    assert c.get("/").status_code == 400
    local = TestClient(create_app(Settings()), base_url="http://127.0.0.1:8000")
    assert local.get("/").status_code == 200
    with pytest.raises(WebSocketDisconnect) as exc:
        with c.websocket_connect(
            "ws://lab.example:8000/ws", headers={"origin": "http://lab.example:8000"}
        ):
            pass
    assert exc.value.code == 1008


def test_dns_rebinding_is_refused_even_when_origin_and_host_agree():
    c = client_for(allowed_hosts=["lab.example"], token="s3cret-token")
    with pytest.raises(WebSocketDisconnect) as exc:
        with c.websocket_connect(
            "ws://rebound.example/ws?token=s3cret-token",
            headers={"origin": "http://rebound.example"},
        ):
            pass
    assert exc.value.code == 1008
    assert c.get("http://rebound.example/?token=s3cret-token").status_code == 400


def test_the_token_opens_the_page_then_its_cookie_opens_scripts_and_socket():
    c = client_for(allowed_hosts=["lab.example"], token="s3cret-token")
    for path in ("/", "/static/js/main.js", "/api/health", "/?token=wrong"):
        r = c.get(path)
        assert r.status_code == 403 and "token" in r.text
    with pytest.raises(WebSocketDisconnect):
        with c.websocket_connect("ws://lab.example:8000/ws"):
            pass
    r = c.get("/?token=s3cret-token")
    assert r.status_code == 200 and "mlplab playground" in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}=s3cret-token") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert c.get("/static/js/main.js").status_code == 200  # the client sends the cookie now
    with c.websocket_connect(
        "ws://lab.example:8000/ws", headers={"origin": "http://lab.example:8000"}
    ) as ws:
        assert ws.receive_json()["type"] == "hello"
    fresh = client_for(allowed_hosts=["lab.example"], token="s3cret-token")
    with fresh.websocket_connect("ws://lab.example:8000/ws?token=s3cret-token") as ws:
        assert ws.receive_json()["type"] == "hello"
