"""Messages from a page: strictly typed fields, a size limit per message type, large frames
parsed off the event loop, and random messages that always get a typed answer."""

from __future__ import annotations

import json
import threading
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

import mlplab.web.server as server_module  # noqa: E402
from mlplab.web.schemas import (  # noqa: E402
    MAX_SMALL_MESSAGE_BYTES,
    MESSAGE_TYPES,
    PARSE_INLINE_BYTES,
    ProtocolError,
    parse_client_message,
)
from mlplab.web.server import Settings, create_app  # noqa: E402

BIG = 3_000_000


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(Settings(allowed_hosts=["testserver"], rate=1e6, burst=1e6)))


@pytest.fixture(scope="module")
def ws(client):
    with client.websocket_connect("/ws") as w:
        assert w.receive_json()["type"] == "hello" and w.receive_json()["type"] == "state"
        yield w


def answer(ws, payload) -> dict:
    ws.send_text(payload if isinstance(payload, str) else json.dumps(payload))
    return ws.receive_json()


@pytest.mark.parametrize(
    "msg,field",
    [
        ({"type": "step", "epochs": "7"}, "epochs"),
        ({"type": "step", "epochs": True}, "epochs"),
        ({"type": "step", "epochs": 7.0}, "epochs"),
        ({"type": "set_weight", "layer": 0, "row": 0, "col": 0, "value": "1"}, "value"),
        ({"type": "probe", "x": True, "y": 0}, "x"),
        ({"type": "config", "config": {"epochs": "7"}}, "config.epochs"),
        ({"type": "config", "config": {"epochs": True}}, "config.epochs"),
        ({"type": "config", "config": {"discretize": 1}}, "config.discretize"),
        ({"type": "config", "config": {"hidden": [4.0], "activations": ["tanh"]}}, "hidden"),
        ({"type": "config", "config": {"lr": "0.1"}}, "config.lr"),
    ],
)
def test_fields_are_strictly_typed(msg, field):
    with pytest.raises(ProtocolError, match=field) as exc:
        parse_client_message(json.dumps(msg), max_bytes=BIG)
    assert exc.value.code == "invalid"


def test_numbers_of_the_right_type_still_pass():
    m = parse_client_message('{"type": "config", "config": {"lr": 1, "epochs": 7}}', max_bytes=BIG)
    assert m.config.lr == 1.0 and m.config.epochs == 7


def test_each_message_type_has_its_own_size_limit():
    padded = '{"type": "config", "config": {}' + " " * MAX_SMALL_MESSAGE_BYTES + "}"
    with pytest.raises(ProtocolError, match="limit for config") as exc:
        parse_client_message(padded, max_bytes=BIG)
    assert exc.value.code == "too_large"
    csv = "a,b,label\n" + "1,2,0\n" * 20_000  # 120 kB: fine for an upload
    m = parse_client_message(json.dumps({"type": "upload_csv", "text": csv}), max_bytes=BIG)
    assert m.type == "upload_csv"


def test_large_frames_are_parsed_in_a_worker_thread(monkeypatch, ws):
    seen = []
    real = server_module.parse_client_message

    def spy(text, **kw):
        seen.append((len(text), threading.current_thread().name))
        return real(text, **kw)

    monkeypatch.setattr(server_module, "parse_client_message", spy)
    assert answer(ws, {"type": "ping"})["type"] == "pong"
    rows = "a,b,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(3000))
    assert len(rows) > PARSE_INLINE_BYTES
    assert answer(ws, {"type": "upload_csv", "name": "w.csv", "text": rows})["type"] == "state"
    (small, small_thread), (large, large_thread) = seen
    assert small < PARSE_INLINE_BYTES and not small_thread.startswith("mlplab-playground")
    assert large > PARSE_INLINE_BYTES and large_thread.startswith("mlplab-playground")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "epochs",
        "config",
        "layer",
        "row",
        "col",
        "value",
        "x",
        "y",
        "name",
        "text",
        "data",
        "format",
        "hidden",
        "activations",
        "lr",
        "dataset",
        "features",
        "mode",
        "extra",
    ]
)
messages = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(MESSAGE_TYPES), st.text(max_size=8), json_values)},
    optional={},
).flatmap(
    lambda base: st.dictionaries(field_names, json_values, max_size=4).map(
        lambda extra: {**extra, **base}
    )
)
KNOWN = {"hello", "state", "frame", "config", "playing", "probe", "export", "pong", "error"}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(msg=st.one_of(messages, json_values, st.text(max_size=40)))
def test_random_messages_get_a_typed_answer_never_a_server_error(ws, msg):
    payload = msg if isinstance(msg, str) else json.dumps(msg)
    if isinstance(msg, dict) and msg.get("type") == "play":
        payload = json.dumps({"type": "pause"})  # a playing session would stream frames
    out = answer(ws, payload)
    while out["type"] == "playing":  # play/pause/reset acknowledge before their answer
        if isinstance(msg, dict) and msg.get("type") != "reset":
            break
        out = ws.receive_json()
    assert out["type"] in KNOWN, out
    if out["type"] == "error":
        assert out["code"] != "internal", out
        assert out["message"] and "Traceback" not in out["message"]
    assert answer(ws, {"type": "ping"})["type"] == "pong"  # the session still answers
