"""The playground server: every kind of bad message gets an error and changes nothing; limits
hold; good messages do what the protocol says."""

from __future__ import annotations

import base64
import json
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx vs httpx2
    from fastapi.testclient import TestClient

from starlette.websockets import WebSocketDisconnect  # noqa: E402

from mlplab.core.network import Network  # noqa: E402
from mlplab.web.schemas import MAX_CSV_BYTES, MAX_LAYERS, MAX_NEURONS  # noqa: E402
from mlplab.web.server import Settings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(Settings(allowed_hosts=["testserver"], max_sessions=8)))


def open_ws(client, **kw):
    """Connect and read the greeting: returns (ws context, hello, state)."""
    ctx = client.websocket_connect("/ws", **kw)
    ws = ctx.__enter__()
    hello = ws.receive_json()
    state = ws.receive_json()
    assert hello["type"] == "hello" and state["type"] == "state"
    return ctx, ws, hello, state


@pytest.fixture
def ws(client):
    ctx, ws, _, _ = open_ws(client)
    yield ws
    ctx.__exit__(None, None, None)


def send(ws, obj):
    ws.send_text(json.dumps(obj))
    return ws.receive_json()


def expect_error(ws, payload, code, *words):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    ws.send_text(text)
    m = ws.receive_json()
    assert m["type"] == "error", m
    assert m["code"] == code, m
    for w in words:
        assert w in m["message"], m["message"]
    return m


def alive(ws):
    """The session still answers after an error and its state is intact."""
    assert send(ws, {"type": "ping"})["type"] == "pong"


def config(**kw):
    base = {"dataset": "xor", "hidden": [4], "activations": ["tanh"], "n_samples": 200}
    base.update(kw)
    return {"type": "config", "config": base}


# ------------------------------------------------------------------ bad messages
def test_page_and_health(client):
    r = client.get("/")
    assert r.status_code == 200 and "mlplab playground" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/main.js">' in r.text
    for name in ("main", "socket", "controls", "network", "output", "panels", "util"):
        js = client.get(f"/static/js/{name}.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/api/health").json()["ok"] is True


def test_malformed_json(ws):
    expect_error(ws, "{not json", "malformed", "malformed JSON")
    expect_error(ws, '{"type": "step", "epochs": NaN}', "malformed", "finite")
    expect_error(ws, "[1, 2]", "malformed", "JSON object")
    alive(ws)


def test_binary_frame(ws):
    ws.send_bytes(b"\x00\x01")
    m = ws.receive_json()
    assert m["type"] == "error" and m["code"] == "malformed" and "binary" in m["message"]
    alive(ws)


def test_unknown_and_missing_type(ws):
    expect_error(ws, {"type": "explode"}, "unknown_type", "'explode'", "config")
    expect_error(ws, {"epochs": 3}, "unknown_type", "None")


def test_missing_and_extra_fields(ws):
    expect_error(ws, {"type": "set_weight", "layer": 0, "row": 0, "col": 0}, "invalid", "value")
    expect_error(ws, {"type": "config"}, "invalid", "config")
    expect_error(ws, {"type": "step", "epochs": 1, "evil": 1}, "invalid", "evil")
    expect_error(ws, {"type": "step", "epochs": 101}, "invalid", "epochs")
    alive(ws)


def test_too_many_layers_and_neurons(ws):
    n = MAX_LAYERS + 1
    expect_error(ws, config(hidden=[2] * n, activations=["tanh"] * n), "invalid", "hidden")
    m = expect_error(ws, config(hidden=[MAX_NEURONS + 1], activations=["tanh"]), "invalid")
    assert f"[1, {MAX_NEURONS}]" in m["message"]
    expect_error(ws, config(hidden=[0], activations=["tanh"]), "invalid", "hidden[0]")
    expect_error(ws, config(hidden=[4, 4], activations=["tanh"]), "invalid", "one activation")
    # the largest network is accepted
    st = send(ws, config(hidden=[MAX_NEURONS] * MAX_LAYERS, activations=["relu"] * MAX_LAYERS))
    assert st["type"] == "state" and st["sizes"][1:-1] == [MAX_NEURONS] * MAX_LAYERS


def test_bad_activation_and_choices(ws):
    expect_error(ws, config(activations=["sigmoidish"]), "invalid", "activations[0]", "relu")
    expect_error(ws, config(dataset="mnist"), "invalid", "dataset")
    expect_error(ws, config(optimizer="lbfgs"), "invalid", "optimizer")
    expect_error(ws, config(features=["x3"]), "invalid", "features[0]")
    expect_error(ws, config(features=["x1", "x1"]), "invalid", "twice")
    expect_error(ws, config(lr=0), "invalid", "lr")
    expect_error(ws, config(lr=1e9), "invalid", "lr")
    expect_error(ws, config(norm="batch", batch_size=1), "invalid", "batch_size")
    # 'step' is in the registry but has no gradient: the engine refuses it with a reason
    expect_error(ws, config(activations=["step"]), "rejected", "step", "perceptron")
    expect_error(ws, config(head="softmax_ce", dataset="plane"), "rejected", "regression")
    alive(ws)


def test_rejected_config_keeps_the_session(ws):
    st = send(ws, config(hidden=[3], seed=5))
    weights = st["frame"]["weights"]
    expect_error(ws, config(hidden=[3], seed=5, activations=["nope"]), "invalid")
    m = send(ws, {"type": "export", "format": "json"})
    data = json.loads(m["data"])
    assert data["config"]["hidden"] == [3] and data["config"]["seed"] == 5
    W = np.array(data["weights"]["0.weight"], dtype=np.float32)
    assert base64.b64encode(W.tobytes()).decode() == weights[0]["w"]


def test_too_large_csv_and_bad_csv(ws):
    big = "x1,x2,label\n" + "1.0,2.0,1\n" * (MAX_CSV_BYTES // 10 + 10)
    expect_error(ws, {"type": "upload_csv", "name": "big.csv", "text": big}, "invalid", "MB")
    bad = "a,b,label\n1,2,0\n3,oops,1\n"
    m = expect_error(ws, {"type": "upload_csv", "name": "bad.csv", "text": bad}, "rejected")
    assert "bad.csv, line 3, column 2" in m["message"] and "oops" in m["message"]
    assert m["about"] == "upload_csv"
    four = "a,b,c,label\n1,2,3,0\n"
    expect_error(ws, {"type": "upload_csv", "name": "w.csv", "text": four}, "rejected", "two")
    expect_error(ws, {"type": "upload_csv", "name": "e.csv", "text": ""}, "rejected", "empty")
    alive(ws)


def test_csv_upload_works(ws):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2)) * [3.0, 50.0] + [10.0, 0.0]
    y = (X[:, 0] > 10).astype(int)
    text = "u,v,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y))
    st = send(ws, {"type": "upload_csv", "name": "../../etc/mine.csv", "text": text})
    assert st["type"] == "state" and st["config"]["dataset"] == "csv" and st["task"] == "binary"
    xs = np.array(st["train"]["x"] + st["test"]["x"])
    assert np.allclose(np.abs(xs).max(axis=0), 5.0, atol=1e-3)  # scaled to [-5, 5]
    assert len(xs) == 120
    assert any("mine.csv" in n for n in st["frame"]["notices"])  # no path kept
    # a config change that keeps dataset=csv re-splits the same upload
    cfg = dict(st["config"], train_ratio=0.8)
    st2 = send(ws, {"type": "config", "config": cfg})
    assert len(st2["train"]["x"]) == 96


def test_csv_dataset_without_upload(ws):
    expect_error(ws, config(dataset="csv"), "rejected", "upload")


def test_set_weight_limits(ws):
    send(ws, config(hidden=[4]))
    expect_error(ws, {"type": "set_weight", "layer": 5, "row": 0, "col": 0, "value": 1}, "rejected")
    expect_error(ws, {"type": "set_weight", "layer": 0, "row": 9, "col": 0, "value": 1}, "rejected")
    expect_error(
        ws, {"type": "set_weight", "layer": 0, "row": 0, "col": 0, "value": 1e9}, "invalid", "value"
    )
    f = send(ws, {"type": "set_weight", "layer": 0, "row": 2, "col": 1, "value": 1.5})
    W = np.frombuffer(base64.b64decode(f["weights"][0]["w"]), dtype=np.float32).reshape(4, 2)
    assert W[2, 1] == 1.5
    f = send(ws, {"type": "set_weight", "layer": 1, "row": 0, "col": -1, "value": -0.25})
    assert np.frombuffer(base64.b64decode(f["weights"][1]["b"]), dtype=np.float32)[0] == -0.25


def test_model_import_errors(ws):
    m = {"type": "import_model", "name": "m.npz", "data": "!!!not base64"}
    expect_error(ws, m, "invalid", "base64")
    junk = base64.b64encode(b"PK\x03\x04 this is not a zip").decode()
    m = expect_error(ws, {"type": "import_model", "name": "m.npz", "data": junk}, "rejected")
    assert "m.npz" in m["message"] and m["about"] == "import_model"
    # a valid model file whose shape does not fit the data
    other = Network.from_sizes([2, 3, 5], "relu", head="softmax_ce", rng=0).to_bytes()
    data = base64.b64encode(other).decode()
    send(ws, config())
    expect_error(
        ws, {"type": "import_model", "name": "k.npz", "data": data}, "rejected", "5 output"
    )
    alive(ws)


def test_export_import_round_trip(ws):
    send(ws, config(hidden=[5, 3], activations=["relu", "tanh"], seed=3))
    f = send(ws, {"type": "step", "epochs": 3})
    assert f["type"] == "frame" and f["epoch"] == 3
    m = send(ws, {"type": "export", "format": "model"})
    assert m["filename"].endswith(".npz")
    raw = base64.b64decode(m["data"])
    model = Network.from_bytes(raw)
    assert [la.units for _, la in model.dense_layers()] == [5, 3, 1]
    send(ws, config(hidden=[2], activations=["sigmoid"], seed=3))  # something else
    st = send(ws, {"type": "import_model", "name": "mine.npz", "data": m["data"]})
    assert st["type"] == "state"
    assert st["config"]["hidden"] == [5, 3] and st["config"]["activations"] == ["relu", "tanh"]
    assert st["frame"]["weights"] == f["weights"]


def test_live_change_keeps_weights(ws):
    st = send(ws, config(hidden=[4], seed=1))
    f1 = send(ws, {"type": "step", "epochs": 2})
    m = send(ws, config(hidden=[4], seed=1, lr=0.5, schedule="cosine", l2=0.01))
    assert m["type"] == "config" and m["config"]["lr"] == 0.5  # no reset
    assert "--lr 0.5" in m["cli"]["command"]
    f2 = send(ws, {"type": "step", "epochs": 1})
    assert f2["epoch"] == 3 and f2["lr"] != st["frame"]["lr"]
    assert f2["weights"] != f1["weights"]
    # a change of the network resets
    assert send(ws, config(hidden=[5], seed=1))["type"] == "state"


def test_probe_and_play(ws):
    send(ws, config(hidden=[3], seed=2))
    p = send(ws, {"type": "probe", "x": 100.0, "y": 100.0})
    assert p["type"] == "probe" and len(p["layers"]) == 2 and len(p["layers"][0]["delta"]) == 3
    assert p["point"][0] > 3 and p["point"][1] > 3  # the nearest point to the far corner
    ws.send_text(json.dumps({"type": "play"}))
    assert ws.receive_json() == {"type": "playing", "playing": True}
    epochs = [ws.receive_json()["epoch"] for _ in range(3)]
    assert epochs == sorted(epochs) and epochs[-1] >= 3
    ws.send_text(json.dumps({"type": "pause"}))
    while (m := ws.receive_json())["type"] != "playing":
        assert m["type"] == "frame" and "probe" in m  # the probe follows the training
    assert m["playing"] is False


# ------------------------------------------------------------------ limits
def test_rate_limit():
    client = TestClient(create_app(Settings(allowed_hosts=["testserver"], rate=2.0, burst=3.0)))
    with client.websocket_connect("/ws") as ws:
        ws.receive_json(), ws.receive_json()
        for _ in range(12):
            ws.send_text('{"type": "ping"}')
        got = [ws.receive_json() for _ in range(4)]
        assert [m["type"] for m in got[:3]] == ["pong"] * 3
        assert got[3]["type"] == "error" and got[3]["code"] == "rate_limit"
        assert "2 messages per second" in got[3]["message"]


def test_too_many_sessions():
    client = TestClient(create_app(Settings(allowed_hosts=["testserver"], max_sessions=2)))
    a, wa, _, _ = open_ws(client)
    b, wb, _, _ = open_ws(client)
    with client.websocket_connect("/ws") as wc:
        m = wc.receive_json()
        assert m["type"] == "error" and m["code"] == "busy" and "limit is 2" in m["message"]
        with pytest.raises(WebSocketDisconnect) as exc:
            wc.receive_json()
        assert exc.value.code == 1013
    alive(wa)
    b.__exit__(None, None, None)  # a slot frees up when a page closes
    c, wc2, _, _ = open_ws(client)
    alive(wc2)
    c.__exit__(None, None, None)
    a.__exit__(None, None, None)


def test_message_size_limit():
    client = TestClient(create_app(Settings(allowed_hosts=["testserver"], max_message_bytes=1000)))
    with client.websocket_connect("/ws") as ws:
        ws.receive_json(), ws.receive_json()
        expect_error(ws, {"type": "ping", "pad": "x" * 2000}, "too_large", "limit is 1000")
        alive(ws)


def test_idle_timeout():
    client = TestClient(create_app(Settings(allowed_hosts=["testserver"], idle_timeout_s=0.3)))
    with client.websocket_connect("/ws") as ws:
        ws.receive_json(), ws.receive_json()
        m = ws.receive_json()
        assert m["type"] == "notice" and "without a message" in m["message"]
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_cross_origin_refused_and_host_check():
    app = create_app(Settings(allowed_hosts=["testserver"]))
    client = TestClient(app)
    with pytest.raises(WebSocketDisconnect) as exc:
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}):
            pass
    assert exc.value.code == 1008
    ctx, ws, _, _ = open_ws(client, headers={"origin": "http://testserver"})
    alive(ws)
    ctx.__exit__(None, None, None)
    bad_host = TestClient(app, base_url="http://rebound.example")
    assert bad_host.get("/").status_code == 400


def test_one_bad_session_does_not_hurt_another(client):
    a, wa, _, _ = open_ws(client)
    b, wb, _, _ = open_ws(client)
    for payload in ("{", '{"type": 1}', json.dumps(config(hidden=[999]))):
        wa.send_text(payload)
        assert wa.receive_json()["type"] == "error"
    f = send(wb, {"type": "step", "epochs": 2})
    assert f["type"] == "frame" and f["epoch"] == 2
    a.__exit__(None, None, None)
    b.__exit__(None, None, None)
