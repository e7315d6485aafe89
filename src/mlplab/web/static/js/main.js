/* mlplab playground — the page only draws; the network trains in mlplab's engine on the server.
 *
 * One WebSocket (/ws) carries JSON messages (see mlplab/web/schemas.py). The page keeps the
 * whole configuration in its URL (#key=value&...), sends it on load and whenever a control
 * changes, and draws what the server sends: "state" once per run, "frame" while training.
 * Everything is drawn on <canvas>; nothing is loaded from the network.
 *
 * This module receives the messages and calls the views: socket.js (the connection),
 * controls.js, network.js, output.js, panels.js and util.js (shared state and helpers).
 */
import { $, el, fmt, pct, S } from "./util.js";
import { connect, send } from "./socket.js";
import { addNotice, drawCharts, drawConfusion, drawDoctor, drawProbe, showToast } from "./panels.js";
import { buildControls, download, readHash, setPlaying, showCli, syncControls, writeHash } from "./controls.js";
import { bindOutput, drawOutput } from "./output.js";
import { bindNetwork, drawNet, hideTip, layoutNet, showTip, weightsOf } from "./network.js";

function onMessage(m) {
  switch (m.type) {
    case "hello": return onHello(m);
    case "state": return onState(m);
    case "frame": return onFrame(m);
    case "config":
      S.config = m.config; S.serverConfig = JSON.parse(JSON.stringify(m.config));
      syncControls(); writeHash(); showCli(m.cli); return;
    case "playing": return setPlaying(m.playing);
    case "probe": S.probe = m; drawProbe(); drawNet(); drawOutput(); return;
    case "export": return download(m);
    case "notice": addNotice(m.message); showToast(m.message, true); return;
    case "error": return onError(m);
    default: return;
  }
}

function onHello(m) {
  S.hello = m; S.limits = m.limits; S.options = m.options; S.defaults = m.defaults;
  buildControls();
  bindNetwork();
  bindOutput();
  window.addEventListener("resize", () => { if (S.state) { layoutNet(); drawAll(); } });
  const fromUrl = readHash(m.defaults);
  if (fromUrl) {
    S.config = fromUrl;
    send({ type: "config", config: S.config });
  }
}

function onState(m) {
  S.state = m;
  S.config = m.config;
  S.serverConfig = JSON.parse(JSON.stringify(m.config));
  S.probe = null;
  $("#csv-error").classList.add("hidden");
  $("#model-error").classList.add("hidden");
  syncControls();
  writeHash();
  showCli(m.cli);
  $("#data-note").textContent = m.dataset_note || "";
  $("#n-params").textContent = m.n_parameters;
  $("#probe").innerHTML = "";
  $("#probe").appendChild(el("p", { class: "hint" }, "Click the output map: the nearest data point is sent forward and backward once (no update), and every unit's δ is drawn as a ring."));
  layoutNet();
  onFrame(m.frame);
}

function onFrame(f) {
  S.frame = f;
  if (f.full_history) S.history = f.history.slice();
  else S.history.push(...f.history);
  if (S.history.length > 6000) S.history = S.history.filter((_, i) => i % 2 === 0 || i > 3000);
  if (f.playing !== undefined) setPlaying(f.playing);
  if (f.probe) S.probe = f.probe;
  for (const n of f.notices || []) addNotice(n);
  $("#epoch").textContent = String(f.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
  const mt = f.metrics || {};
  $("#m-test-loss").textContent = fmt(mt.test_loss);
  $("#m-train-loss").textContent = fmt(mt.train_loss);
  $("#m-test-acc").textContent = pct(mt.test_acc);
  $("#m-train-acc").textContent = pct(mt.train_acc);
  const status = { converged: "Converged: an epoch without a mistake.", diverged: "Diverged — lower the learning rate.", horizon: "Reached the epoch limit — raise Epochs to go on." };
  $("#status-line").textContent = f.finished ? status[f.finished] : (S.state && S.state.perceptron && !S.state.perceptron.separable ? "Not linearly separable: the perceptron never settles." : "");
  S.mapCache.clear();
  scheduleDraw();
}

let drawPending = false;
/** Draw at most once per animation frame: when frames arrive faster than the page can
 * draw them, only the newest is drawn (the history keeps every epoch). */
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawAll(); });
}

function onError(m) {
  const msg = m.message || "error";
  if (m.about === "upload_csv") {
    const e = $("#csv-error"); e.textContent = msg; e.classList.remove("hidden");
  } else if (m.about === "import_model") {
    const e = $("#model-error"); e.textContent = msg; e.classList.remove("hidden");
  } else {
    showToast(msg);
  }
  if (m.about === "config" && S.serverConfig) {
    // the server kept its configuration: show that one again
    S.config = JSON.parse(JSON.stringify(S.serverConfig));
    syncControls(); writeHash(); layoutNet(); drawNet();
  }
}

function drawAll() {
  if (!S.state || !S.frame) return;
  if (S.hover && S.tipAt && !S.editing) {
    // keep the tooltip's numbers live while training or after an edit
    const h = S.hover;
    const ok = h.kind === "link" ? h.link.layer < S.frame.weights.length : S.layout && h.c < S.layout.columns.length && h.i < S.layout.columns[h.c].length;
    if (ok) {
      if (h.kind === "link") { const w = weightsOf(h.link.layer); if (h.link.row < w.shape[0] && h.link.col < w.shape[1]) h.link.w = w._W[h.link.row * w.shape[1] + h.link.col]; }
      showTip(S.tipAt[0], S.tipAt[1], h);
    } else { S.hover = null; hideTip(); }
  }
  drawNet();
  drawOutput();
  drawCharts();
  drawConfusion();
  drawDoctor();
  if (S.probe) drawProbe();
}

function receive(m) {
  try { onMessage(m); } catch (e) { console.error(e); showToast("page error: " + e.message); }
}

document.addEventListener("DOMContentLoaded", () => connect(receive, () => setPlaying(false)));
