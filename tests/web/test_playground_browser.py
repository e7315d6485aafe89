"""The playground in a real browser: Debian's Chromium driven by Playwright, against a server
started in this process.  Screenshots go to artifacts/playground/ (git-ignored)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "playground"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

# a quick run: XOR, two tanh layers, Adam (the URL of the page is its whole state)
XOR = (
    "#dataset=xor&hidden=8,8&activations=tanh,tanh&optimizer=adam&lr=0.03&speed=4"
    "&n_samples=400&show_test=1"
)


@pytest.fixture(scope="module")
def server():
    uvicorn = pytest.importorskip("uvicorn")
    from mlplab.web.server import Settings, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(allowed_hosts=["127.0.0.1"]))
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    errors, requests = [], []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("request", lambda r: requests.append(r.url))
    yield pg
    context.close()
    assert not errors, errors
    host = urlsplit(server).netloc
    assert all(urlsplit(u).netloc in (host, "") for u in requests), "the page left the server"


def open_page(page, server, hash_="", expect="mlplab"):
    """Load the page and wait until the server's state for the URL's configuration is drawn."""
    page.goto(server + hash_)
    page.wait_for_function(
        "s => document.querySelector('#cli').textContent.includes(s)", arg=expect
    )
    return page


def epoch(page) -> int:
    return int(page.inner_text("#epoch").replace(",", ""))


def number(page, sel) -> float:
    return float(re.sub(r"[^0-9.eE+-]", "", page.inner_text(sel)))


def canvas(page, sel) -> str:
    return page.eval_on_selector(sel, "c => c.toDataURL()")


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_train_xor_to_95_percent(page, server):
    open_page(page, server, XOR, "--hidden 8,8")
    loss0 = number(page, "#m-test-loss")
    map0, net0 = canvas(page, "#out-map"), canvas(page, "#net")
    shot(page, "xor-start")
    page.click("#btn-play")
    page.wait_for_function(
        "() => parseFloat(document.querySelector('#m-test-acc').textContent) > 95",
        timeout=45_000,
    )
    page.click("#btn-play")  # pause
    page.wait_for_selector("#btn-play[aria-label=play]")
    assert number(page, "#m-test-loss") < 0.5 * loss0
    assert canvas(page, "#out-map") != map0 and canvas(page, "#net") != net0
    assert epoch(page) > 0
    # hover a hidden unit: its formula and enlarged map appear
    box = page.locator("#net").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 5)
    shot(page, "xor-trained")


def test_switch_a_layer_activation(page, server):
    open_page(page, server, XOR, "--hidden 8,8")
    page.select_option("select[data-layer='1']", "relu")
    page.wait_for_function(
        "() => document.querySelector('#cli').textContent.includes('--activations tanh,relu')"
    )
    assert "activations=tanh%2Crelu" in page.url
    assert page.eval_on_selector("select[data-layer='1']", "s => s.value") == "relu"
    page.click("#btn-step")
    page.wait_for_function("() => document.querySelector('#epoch').textContent.endsWith('1')")
    shot(page, "activation-switched")


def test_upload_csv_and_a_bad_one(page, server, tmp_path):
    open_page(page, server)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 2))
    y = np.where(X[:, 0] ** 2 + X[:, 1] ** 2 < 1.0, "in", "out")
    good = tmp_path / "rings.csv"
    good.write_text("a,b,label\n" + "".join(f"{u:.4f},{v:.4f},{c}\n" for (u, v), c in zip(X, y)))
    page.set_input_files("#in-csv", str(good))
    page.wait_for_function(
        "() => document.querySelector('#data-note').textContent.includes('scaled')"
    )
    assert "selected" in page.get_attribute("button[data-dataset=csv]", "class")
    assert "dataset=csv" in page.url
    page.click("#btn-step")
    page.wait_for_function("() => document.querySelector('#epoch').textContent.endsWith('1')")
    shot(page, "csv-uploaded")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,in\n3,n/a,out\n")
    page.set_input_files("#in-csv", str(bad))
    err = page.locator("#csv-error")
    err.wait_for(state="visible")
    assert "bad.csv, line 3, column 2" in err.inner_text() and "n/a" in err.inner_text()
    shot(page, "csv-bad-upload")
    # the earlier upload is still the session's data
    assert "rings.csv" in page.inner_text("#data-note") or "scaled" in page.inner_text("#data-note")


def test_url_state_round_trips(page, browser, server):
    url = server + XOR.replace("seed=0", "") + "&seed=11&lr=0.02&l2=0.001&schedule=cosine"
    open_page(page, server, url[len(server) :], "--seed 11")
    for k in range(1, 4):
        page.click("#btn-step")
        page.wait_for_function(
            f"() => document.querySelector('#epoch').textContent.endsWith('{k}')"
        )
    link, loss = page.url, page.inner_text("#m-train-loss")
    assert "seed=11" in link and "schedule=cosine" in link
    other = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        other.goto(link)
        other.wait_for_function(
            "() => document.querySelector('#cli').textContent.includes('--seed 11')"
        )
        assert other.input_value("#in-lr") == "0.02"
        assert other.input_value("#sel-schedule") == "cosine"
        assert other.input_value("#in-l2") == "0.001"
        for k in range(1, 4):
            other.click("#btn-step")
            other.wait_for_function(
                f"() => document.querySelector('#epoch').textContent.endsWith('{k}')"
            )
        assert other.inner_text("#m-train-loss") == loss  # seeded: the same run
        other.screenshot(path=str(ARTIFACTS / "url-round-trip.png"), full_page=True)
    finally:
        other.close()


def test_export_and_reimport_a_model(page, server, tmp_path):
    open_page(page, server, XOR, "--hidden 8,8")
    for k in range(1, 3):
        page.click("#btn-step")
        page.wait_for_function(
            f"() => document.querySelector('#epoch').textContent.endsWith('{k}')"
        )
    params = page.inner_text("#n-params")
    with page.expect_download() as dl:
        page.click("#btn-export-model")
    model_file = tmp_path / dl.value.suggested_filename
    dl.value.save_as(model_file)
    assert model_file.suffix == ".npz"
    with page.expect_download() as dl:
        page.click("#btn-export-json")
    json_file = tmp_path / dl.value.suggested_filename
    dl.value.save_as(json_file)
    assert '"0.weight"' in json_file.read_text()

    from mlplab.io import load_network

    model = load_network(model_file)
    assert [la.units for _, la in model.dense_layers()] == [8, 8, 1]
    # change the network, then bring the exported one back
    page.click("#btn-del-layer")
    page.wait_for_function("() => document.querySelector('#n-layers').textContent.startsWith('1 ')")
    assert page.inner_text("#n-params") != params
    page.set_input_files("#in-model", str(model_file))
    page.wait_for_function("() => document.querySelector('#n-layers').textContent.startsWith('2 ')")
    assert page.inner_text("#n-params") == params
    assert any("imported" in t for t in page.locator("#notices li").all_inner_texts())
    shot(page, "model-reimported")
    # a file that is not a model: a clear error next to the button
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model at all")
    page.set_input_files("#in-model", str(junk))
    err = page.locator("#model-error")
    err.wait_for(state="visible")
    assert "junk.npz" in err.inner_text() and "not a valid mlplab model file" in err.inner_text()


def test_edit_a_bias_by_clicking_a_unit(page, server):
    open_page(page, server, XOR, "--hidden 8,8")
    box = page.locator("#net").bounding_box()
    tip = page.locator("#tooltip")
    found = None
    for dx in range(0, int(box["width"]), 6):  # along the row of each column's first unit
        page.mouse.move(box["x"] + dx, box["y"] + 34)
        if tip.is_visible() and tip.inner_text().startswith("h1[0] = tanh("):
            found = (box["x"] + dx, box["y"] + 34)
            break
    assert found, "no hidden unit under the scanned row"
    page.mouse.click(*found)
    editor = page.locator("#weight-editor")
    editor.wait_for(state="visible")
    editor.fill("2.5")
    editor.press("Enter")
    page.mouse.move(found[0] + 1, found[1])
    page.wait_for_function(
        "() => document.querySelector('#tip-text').textContent.split('\\n')[0].endsWith('+ 2.50)')"
    )
    shot(page, "bias-edited")
