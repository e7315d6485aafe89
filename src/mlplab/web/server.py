"""The playground's web server: static page, one WebSocket per page, training in threads.

``create_app(settings)`` returns a FastAPI app:

* ``GET /`` — the page (``static/index.html``); ``/static/*`` its script and style sheet.
  Everything ships inside the package; nothing is fetched from the network.
* ``GET /api/health`` — ``{"ok": true, "sessions": n}``.
* ``WS /ws`` — the protocol of :mod:`mlplab.web.schemas`.  Each connection owns one
  :class:`~mlplab.web.sessions.Session`; it lives as long as the socket.

Training runs in a bounded thread pool, so the event loop keeps answering other pages while a
network trains.  Every incoming message is size-checked, rate-limited (token bucket per
connection) and validated; a bad one gets an ``error`` message back and changes nothing — it
never closes another session or the server.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect, WebSocketState

from mlplab import __version__
from mlplab.core.activations import ACTIVATIONS
from mlplab.core.init import init_names
from mlplab.core.optim import SCHEDULES
from mlplab.errors import MlplabError
from mlplab.web.access import LOOPBACK_NAMES, AccessMiddleware, AccessPolicy, host_name
from mlplab.web.schemas import (
    DATASETS,
    FEATURES,
    OPTIMIZERS,
    PARSE_INLINE_BYTES,
    ConfigMsg,
    ExportMsg,
    ImportModelMsg,
    PauseMsg,
    PingMsg,
    PlaygroundConfig,
    PlayMsg,
    ProbeMsg,
    ProtocolError,
    ResetMsg,
    SetWeightMsg,
    StepMsg,
    UploadCsvMsg,
    limits,
    parse_client_message,
)
from mlplab.web.sessions import FEATURE_LABELS, Session

__all__ = ["Settings", "create_app", "SessionManager", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("mlplab.web")


@dataclass
class Settings:
    """Limits of one server.

    Attributes
    ----------
    max_sessions : int
        Pages connected at once; one more gets an error and the socket closes (1013).
    idle_timeout_s : float
        A page that sends nothing for this long is closed (its session freed).
    rate, burst : float
        Token bucket per connection: ``rate`` messages per second, bursts of ``burst``.
    max_message_bytes : int
        Longest accepted frame (a CSV upload or a model import is the largest).
    frame_interval_s : float
        Shortest time between two frames of a playing session.
    step_budget_s : float
        Longest a single ``advance`` may train before it returns a frame.
    workers : int
        Threads that train (shared by all sessions).
    allowed_hosts : list of str or None
        Host names accepted (against DNS rebinding); None: the loopback names.  Never "any":
        see :mod:`mlplab.web.access`.
    any_ip_host : bool
        Also accept IP-literal Host headers (a wildcard bind).
    token : str or None
        Secret every request and WebSocket must carry (``?token=`` or its cookie); None: none
        (loopback).  :func:`mlplab.web.access.access_policy` chooses all three for a bind.
    """

    max_sessions: int = 64
    idle_timeout_s: float = 1800.0
    rate: float = 40.0
    burst: float = 80.0
    max_message_bytes: int = 3_000_000
    frame_interval_s: float = 0.05
    step_budget_s: float = 0.3
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    allowed_hosts: list[str] | None = None
    any_ip_host: bool = False
    token: str | None = None

    def access(self) -> AccessPolicy:
        """The :class:`~mlplab.web.access.AccessPolicy` these settings describe."""
        hosts = LOOPBACK_NAMES if self.allowed_hosts is None else self.allowed_hosts
        return AccessPolicy(
            hosts=frozenset(host_name(h) for h in hosts), any_ip=self.any_ip_host, token=self.token
        )


class Busy(Exception):
    """No session slot is free."""


class SessionManager:
    """Counts and holds the live sessions (one per connected page)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sessions: dict[str, Session | None] = {}
        self._lock = threading.Lock()

    def reserve(self) -> str:
        """A new session id, or :class:`Busy` when every slot is taken."""
        with self._lock:
            if len(self.sessions) >= self.settings.max_sessions:
                raise Busy
            sid = secrets.token_urlsafe(12)
            self.sessions[sid] = None
            return sid

    def attach(self, sid: str, session: Session) -> None:
        """Store the session built for ``sid``."""
        with self._lock:
            self.sessions[sid] = session

    def release(self, sid: str) -> None:
        """Free the slot of ``sid``."""
        with self._lock:
            self.sessions.pop(sid, None)

    def __len__(self) -> int:
        return len(self.sessions)


class _Bucket:
    """Token bucket: ``allow()`` spends one token; tokens refill at ``rate`` per second."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.t = time.monotonic()

    def allow(self) -> bool:
        """Spend a token if one is left; False means drop the message."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def options() -> dict:
    """Choices the page offers (from the engine's registries)."""
    return {
        "datasets": DATASETS,
        "features": [{"id": f, "label": FEATURE_LABELS[f]} for f in FEATURES],
        "activations": list(ACTIVATIONS),
        "inits": init_names(),
        "optimizers": OPTIMIZERS,
        "schedules": SCHEDULES,
    }


class Connection:
    """One page: receives, validates and dispatches its messages; plays its session."""

    def __init__(self, ws: WebSocket, sid: str, app_state):
        self.ws = ws
        self.sid = sid
        self.settings: Settings = app_state.settings
        self.pool: ThreadPoolExecutor = app_state.pool
        self.manager: SessionManager = app_state.manager
        self.session: Session | None = None
        self.playing = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.bucket = _Bucket(self.settings.rate, self.settings.burst)
        self.last_rate_error = 0.0

    async def call(self, fn, *args):
        """Run ``fn(*args)`` in the training pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args))

    async def send(self, obj: dict) -> None:
        """Send ``obj`` as strict JSON (no NaN) if the socket is still open."""
        text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
        async with self.send_lock:
            if self.ws.client_state == WebSocketState.CONNECTED:
                await self.ws.send_text(text)

    async def error(self, message: str, code: str = "invalid", about: str | None = None):
        """Send an ``error`` message (``about``: the message type it answers)."""
        await self.send({"type": "error", "code": code, "message": message, "about": about})

    async def run(self) -> None:
        """Greet the page, send its first state, then read messages until it leaves."""
        self.session = await self.call(functools.partial(Session, sid=self.sid))
        self.manager.attach(self.sid, self.session)
        await self.send(
            {
                "type": "hello",
                "session": self.sid,
                "version": __version__,
                "limits": {
                    **limits(),
                    "rate": self.settings.rate,
                    "burst": self.settings.burst,
                    "max_message_bytes": self.settings.max_message_bytes,
                    "idle_timeout_s": self.settings.idle_timeout_s,
                },
                "options": options(),
                "defaults": PlaygroundConfig().model_dump(),
            }
        )
        await self.send(await self.call(self.session.state))
        player = asyncio.create_task(self.player())
        try:
            while True:
                try:
                    message = await asyncio.wait_for(
                        self.ws.receive(), timeout=self.settings.idle_timeout_s
                    )
                except asyncio.TimeoutError:
                    await self.send(
                        {
                            "type": "notice",
                            "message": "closed after "
                            f"{self.settings.idle_timeout_s:g} s without a message",
                        }
                    )
                    await self.ws.close(code=1000)
                    break
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    await self.error("messages must be JSON text frames, not binary", "malformed")
                    continue
                await self.handle(text)
        except WebSocketDisconnect:
            pass
        finally:
            player.cancel()
            self.playing.clear()

    async def handle(self, text: str) -> None:
        """Rate-limit, parse and dispatch one text frame; every failure becomes an error message."""
        if not self.bucket.allow():
            now = time.monotonic()
            if now - self.last_rate_error > 1.0:
                self.last_rate_error = now
                await self.error(
                    f"rate limit: at most {self.settings.rate:g} messages per second "
                    f"(bursts of {self.settings.burst:g}); message dropped",
                    "rate_limit",
                )
            return
        kind = None
        try:
            limit = self.settings.max_message_bytes
            if len(text) <= PARSE_INLINE_BYTES:
                msg = parse_client_message(text, max_bytes=limit)
            else:  # a large frame is parsed in a worker: the loop keeps serving other pages
                msg = await self.call(
                    functools.partial(parse_client_message, max_bytes=limit), text
                )
            kind = msg.type
            await self.dispatch(msg)
        except ProtocolError as exc:
            await self.error(str(exc), exc.code, kind)
        except MlplabError as exc:
            await self.error(str(exc), "rejected", kind)
        except Exception:  # a bug must not take the connection or the server down
            log.exception("playground: error while handling a %s message", kind)
            await self.error(
                f"internal error while handling {kind or 'a message'}", "internal", kind
            )

    async def dispatch(self, msg) -> None:
        """Carry out one validated message and send its answer."""
        s = self.session
        if isinstance(msg, ConfigMsg):
            result = await self.call(s.apply_config, msg.config)
            if result["reset"]:
                await self.send(result["state"])
            else:
                await self.send(
                    {
                        "type": "config",
                        "config": s.config.model_dump(),
                        "cli": await self.call(s.cli),
                    }
                )
        elif isinstance(msg, PlayMsg):
            s.touch()
            self.playing.set()
            await self.send({"type": "playing", "playing": True})
        elif isinstance(msg, PauseMsg):
            s.touch()
            self.playing.clear()
            await self.send({"type": "playing", "playing": False})
        elif isinstance(msg, StepMsg):
            s.touch()
            frame = await self.call(s.advance, msg.epochs, self.settings.step_budget_s)
            frame["playing"] = self.playing.is_set()
            await self.send(frame)
        elif isinstance(msg, ResetMsg):
            self.playing.clear()
            await self.send({"type": "playing", "playing": False})
            await self.send(await self.call(s.reset))
        elif isinstance(msg, SetWeightMsg):
            await self.send(await self.call(s.set_weight, msg.layer, msg.row, msg.col, msg.value))
        elif isinstance(msg, ProbeMsg):
            await self.send(await self.call(s.probe, msg.x, msg.y))
        elif isinstance(msg, UploadCsvMsg):
            await self.send(await self.call(s.upload_csv, msg.name, msg.text))
        elif isinstance(msg, ImportModelMsg):
            await self.send(await self.call(s.import_model, msg.raw_bytes(), msg.name))
        elif isinstance(msg, ExportMsg):
            await self.send(await self.call(_export, s, msg.format))
        elif isinstance(msg, PingMsg):
            s.touch()
            await self.send({"type": "pong", "t": time.time()})

    async def player(self) -> None:
        """While playing: train ``speed`` epochs, send the frame, wait for the next slot."""
        loop = asyncio.get_running_loop()
        while True:
            await self.playing.wait()
            t0 = loop.time()
            try:
                s = self.session
                frame = await self.call(s.advance, s.config.speed, self.settings.step_budget_s)
                if frame["finished"]:
                    self.playing.clear()
                frame["playing"] = self.playing.is_set()
                await self.send(frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("playground: training step failed")
                self.playing.clear()
                await self.error("internal error while training; paused", "internal", "play")
            wait = self.settings.frame_interval_s - (loop.time() - t0)
            await asyncio.sleep(max(wait, 0.0))


def _export(session: Session, fmt: str) -> dict:
    with session.lock:
        stem = f"playground-{session.config.dataset}-epoch{session.epoch}"
        if fmt == "model":
            data = base64.b64encode(session.export_model()).decode("ascii")
            return {"type": "export", "format": "model", "filename": f"{stem}.npz", "data": data}
        text = json.dumps(session.export_json(), allow_nan=False)
        return {"type": "export", "format": "json", "filename": f"{stem}.json", "data": text}


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The playground app with its own session manager and thread pool."""
    settings = settings or Settings()
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="mlplab-playground")

    @asynccontextmanager
    async def lifespan(app):
        """Shut the training pool down when the app stops."""
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="mlplab playground",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.manager = SessionManager(settings)
    app.state.pool = pool
    app.add_middleware(AccessMiddleware, policy=settings.access())

    @app.middleware("http")
    async def _headers(request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/", include_in_schema=False)
    async def index():
        """The page."""
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/api/health")
    async def health():
        """Liveness and the number of open sessions."""
        return JSONResponse({"ok": True, "sessions": len(app.state.manager)})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket):
        """One page's WebSocket: origin check, a session slot, then its :class:`Connection`."""
        if not _same_origin(ws):
            await ws.close(code=1008)
            return
        await ws.accept()
        try:
            sid = app.state.manager.reserve()
        except Busy:
            await ws.send_text(
                json.dumps(
                    {
                        "type": "error",
                        "code": "busy",
                        "message": f"too many sessions (the limit is {settings.max_sessions}); "
                        "close another playground tab or try again later",
                        "about": None,
                    }
                )
            )
            await ws.close(code=1013)
            return
        try:
            await Connection(ws, sid, app.state).run()
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("playground: session %s failed", sid)
        finally:
            app.state.manager.release(sid)

    return app


def _same_origin(ws: WebSocket) -> bool:
    """Refuse WebSockets opened by pages of other sites (cross-site WebSocket hijacking).
    Clients that send no Origin (scripts, tests) are let through."""
    origin = ws.headers.get("origin")
    if not origin:
        return True
    host = ws.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()
