/* mlplab playground — the page only draws; the network trains in mlplab's engine on the server.
 *
 * One WebSocket (/ws) carries JSON messages (see mlplab/web/schemas.py). The page keeps the
 * whole configuration in its URL (#key=value&...), sends it on load and whenever a control
 * changes, and draws what the server sends: "state" once per run, "frame" while training.
 * Everything is drawn on <canvas> by this file; nothing is loaded from the network.
 */
"use strict";
(function () {
  // ------------------------------------------------------------------ constants and state
  const ORANGE = [245, 147, 34];
  const BLUE = [8, 119, 189];
  const WHITE = [232, 234, 235];
  const PALETTE = ["#f59322", "#0877bd", "#2ca02c", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2"];
  const PALETTE_RGB = PALETTE.map(hexRgb);
  const LAYER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99"];
  const DATASET_LABELS = {
    circle: "Circle", xor: "XOR", gauss: "Gauss", spiral: "Spiral", moons: "Moons", blobs: "Blobs",
    spiral3: "Spiral ×3", plane: "Plane (reg.)", gauss_bump: "Bump (reg.)", sin: "sin x (1-D)", csv: "CSV",
  };
  const FEATURES_1D = ["x1", "x1sq", "sinx1"];

  const S = {
    ws: null, hello: null, limits: null, options: null, defaults: null,
    config: null, state: null, frame: null, history: [], playing: false,
    layout: null, hover: null, editing: null, sendTimer: null, probe: null,
    mapCache: new Map(),
  };
  const $ = (sel) => document.querySelector(sel);

  // ------------------------------------------------------------------ utilities
  function hexRgb(h) { return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); }
  function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }
  function rgb(c, a) { return a === undefined ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${a})`; }
  /** TF Playground's diverging scale: −1 orange, 0 light grey, +1 blue. */
  function diverging(v) {
    v = Math.max(-1, Math.min(1, v));
    return v < 0 ? mix(WHITE, ORANGE, -v) : mix(WHITE, BLUE, v);
  }
  /** The diverging scale for the 256 values of a uint8 map (q ↦ v = q/127.5 − 1). */
  const LUT = (() => {
    const t = new Uint8Array(256 * 3);
    for (let q = 0; q < 256; q++) t.set(diverging(q / 127.5 - 1), 3 * q);
    return t;
  })();
  function b64bytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function b64floats(s) { return new Float32Array(b64bytes(s).buffer); }
  function bytesB64(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    digits = digits === undefined ? 3 : digits;
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
    return v.toFixed(digits);
  }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function setupCanvas(cv, w, h) {
    const dpr = window.devicePixelRatio || 1;
    w = w || cv.clientWidth; h = h || cv.clientHeight;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
      cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    }
    const ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ------------------------------------------------------------------ messages
  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/ws");
    S.ws = ws;
    ws.onopen = () => setConn("connected", false);
    ws.onclose = () => { setConn("disconnected — reload the page to start again", true); setPlaying(false); };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      try { onMessage(m); } catch (e) { console.error(e); showToast("page error: " + e.message); }
    };
  }
  function setConn(text, bad) { const c = $("#conn"); c.textContent = text; c.classList.toggle("bad", bad); }
  function send(obj) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj));
  }
  function sendConfig() {
    clearTimeout(S.sendTimer);
    S.sendTimer = setTimeout(() => send({ type: "config", config: S.config }), 60);
  }

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

  let toastTimer = null;
  function showToast(text, info) {
    const t = $("#toast");
    t.textContent = text;
    t.classList.toggle("info", !!info);
    t.classList.remove("hidden");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.add("hidden"), 6000);
  }
  function addNotice(text) {
    const li = el("li", {}, text);
    const ul = $("#notices");
    ul.insertBefore(li, ul.firstChild);
    while (ul.children.length > 30) ul.removeChild(ul.lastChild);
  }
  function setPlaying(p) {
    S.playing = p;
    const b = $("#btn-play");
    b.classList.toggle("playing", p);
    b.setAttribute("aria-label", p ? "pause" : "play");
  }

  // ------------------------------------------------------------------ URL state
  function writeHash() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(S.config)) {
      p.set(k, Array.isArray(v) ? v.join(",") : typeof v === "boolean" ? (v ? "1" : "0") : String(v));
    }
    history.replaceState(null, "", "#" + p.toString());
  }
  function readHash(defaults) {
    if (location.hash.length < 2) return null;
    const p = new URLSearchParams(location.hash.slice(1));
    const cfg = JSON.parse(JSON.stringify(defaults));
    for (const [k, v] of p.entries()) {
      if (!(k in defaults)) continue;
      const d = defaults[k];
      if (Array.isArray(d)) {
        const parts = v === "" ? [] : v.split(",");
        cfg[k] = k === "hidden" ? parts.map(Number) : parts;
      } else if (typeof d === "boolean") cfg[k] = v === "1" || v === "true";
      else if (typeof d === "number") cfg[k] = Number(v);
      else cfg[k] = v;
    }
    return cfg;
  }

  // ------------------------------------------------------------------ controls
  function fillSelect(sel, values, labels) {
    sel.innerHTML = "";
    values.forEach((v, i) => sel.appendChild(el("option", { value: v }, labels ? labels[i] : v)));
  }
  function buildControls() {
    const o = S.options;
    fillSelect($("#sel-optimizer"), o.optimizers, o.optimizers.map((n) => ({ sgd: "SGD", momentum: "SGD + momentum", nesterov: "Nesterov", adam: "Adam", adamw: "AdamW" }[n] || n)));
    fillSelect($("#sel-schedule"), o.schedules);
    fillSelect($("#sel-init"), o.inits);
    const ds = $("#datasets");
    ds.innerHTML = "";
    for (const name of o.datasets) {
      const b = el("button", { "data-dataset": name, title: DATASET_LABELS[name] || name });
      const cv = el("canvas", { width: 56, height: 56 });
      b.appendChild(cv);
      b.appendChild(el("span", {}, DATASET_LABELS[name] || name));
      b.addEventListener("click", () => {
        if (name === "csv" && !(S.state && S.state.config.dataset === "csv")) { $("#in-csv").click(); return; }
        setKey("dataset", name);
      });
      ds.appendChild(b);
      drawDatasetIcon(cv, name);
    }
    document.querySelectorAll("[data-key]").forEach((input) => {
      const ev = input.type === "range" ? "input" : "change";
      input.addEventListener(ev, () => {
        const k = input.dataset.key;
        let v;
        if (input.type === "checkbox") v = input.checked;
        else if (input.type === "number" || input.type === "range") {
          v = Number(input.value);
          if (input.value === "" || Number.isNaN(v)) { syncControls(); return; }
        } else v = input.value;
        setKey(k, v);
      });
    });
    $("#btn-play").addEventListener("click", () => send({ type: S.playing ? "pause" : "play" }));
    $("#btn-step").addEventListener("click", () => send({ type: "step", epochs: 1 }));
    $("#btn-reset").addEventListener("click", () => send({ type: "reset" }));
    $("#btn-regen").addEventListener("click", () => setKey("seed", Math.floor(Math.random() * 1000000)));
    $("#btn-add-layer").addEventListener("click", () => {
      if (S.config.hidden.length >= S.limits.max_layers) return;
      const last = S.config.activations[S.config.activations.length - 1] || "tanh";
      S.config.hidden = S.config.hidden.concat([4]);
      S.config.activations = S.config.activations.concat([last]);
      sendConfig();
    });
    $("#btn-del-layer").addEventListener("click", () => {
      if (!S.config.hidden.length) return;
      S.config.hidden = S.config.hidden.slice(0, -1);
      S.config.activations = S.config.activations.slice(0, -1);
      sendConfig();
    });
    $("#in-csv").addEventListener("change", onCsvFile);
    $("#in-model").addEventListener("change", onModelFile);
    $("#btn-export-model").addEventListener("click", () => send({ type: "export", format: "model" }));
    $("#btn-export-json").addEventListener("click", () => send({ type: "export", format: "json" }));
    $("#btn-copy-cli").addEventListener("click", () => copyText($("#cli").textContent));
    $("#btn-copy-url").addEventListener("click", () => copyText(location.href));
    const net = $("#net");
    net.addEventListener("mousemove", onNetMove);
    net.addEventListener("mouseleave", () => { S.hover = null; hideTip(); drawNet(); });
    net.addEventListener("click", onNetClick);
    const map = $("#out-map");
    map.addEventListener("click", onMapClick);
    const we = $("#weight-editor");
    we.addEventListener("keydown", (e) => {
      if (e.key === "Enter") commitEdit();
      else if (e.key === "Escape") cancelEdit();
    });
    we.addEventListener("blur", cancelEdit);
    window.addEventListener("resize", () => { if (S.state) { layoutNet(); drawAll(); } });
  }

  function setKey(k, v) {
    S.config[k] = v;
    if (k === "mode" && v === "perceptron") S.config.head = "auto";
    if (k === "dataset") S.config.head = "auto";
    syncControls();
    sendConfig();
  }

  function syncControls() {
    const c = S.config;
    if (!c) return;
    document.querySelectorAll("[data-key]").forEach((input) => {
      const v = c[input.dataset.key];
      if (input.type === "checkbox") input.checked = !!v;
      else if (document.activeElement !== input || input.type === "range") input.value = v;
    });
    if (S.state) fillSelect($("#sel-head"), S.state.heads, S.state.heads.map((h) => h === "auto" ? `auto (${S.state.head})` : h));
    $("#sel-head").value = c.head;
    $("#ratio-val").textContent = Math.round(c.train_ratio * 100) + "%";
    $("#noise-val").textContent = Math.round(c.noise * 100);
    $("#batch-val").textContent = c.batch_size;
    $("#samples-val").textContent = c.n_samples;
    $("#classes-val").textContent = c.n_classes;
    $("#speed-val").textContent = c.speed + " ep/frame";
    $("#row-classes").classList.toggle("hidden", c.dataset !== "blobs");
    document.querySelectorAll("#datasets button").forEach((b) => b.classList.toggle("selected", b.dataset.dataset === c.dataset));
    const perc = c.mode === "perceptron";
    $("#n-layers").textContent = perc ? "perceptron: one step unit" : `${c.hidden.length} hidden layer${c.hidden.length === 1 ? "" : "s"}`;
    $("#btn-add-layer").classList.toggle("hidden", perc);
    $("#btn-del-layer").classList.toggle("hidden", perc);
    for (const id of ["#sel-optimizer", "#sel-schedule", "#sel-head", "#sel-init", "#sel-norm", "#in-dropout", "#in-l1", "#in-l2", "#in-wd", "#in-batch"]) {
      const f = $(id);
      f.disabled = perc;
      const box = f.closest(".field") || f.closest(".slider");
      if (box) box.classList.toggle("off", perc);
    }
    $("#lbl-test-loss").textContent = perc ? "Test error" : "Test loss";
    $("#lbl-train-loss").textContent = perc ? "Training error" : "Training loss";
  }

  function showCli(cli) {
    if (!cli) return;
    $("#cli").textContent = cli.command;
    const ul = $("#cli-notes");
    ul.innerHTML = "";
    for (const n of cli.notes) ul.appendChild(el("li", {}, n));
  }
  function copyText(t) {
    if (navigator.clipboard) navigator.clipboard.writeText(t).then(() => showToast("copied", true), () => showToast("copy failed"));
  }

  async function onCsvFile(ev) {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f) return;
    const err = $("#csv-error");
    err.classList.add("hidden");
    if (f.size > S.limits.max_csv_bytes) {
      err.textContent = `${f.name} is ${(f.size / 1e6).toFixed(2)} MB; the limit is ${(S.limits.max_csv_bytes / 1e6).toFixed(1)} MB`;
      err.classList.remove("hidden");
      return;
    }
    const text = await f.text();
    send({ type: "upload_csv", name: f.name, text });
  }
  async function onModelFile(ev) {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f) return;
    const err = $("#model-error");
    err.classList.add("hidden");
    if (f.size > S.limits.max_model_bytes) {
      err.textContent = `${f.name} is too large (limit ${(S.limits.max_model_bytes / 1e6).toFixed(1)} MB)`;
      err.classList.remove("hidden");
      return;
    }
    send({ type: "import_model", name: f.name, data: bytesB64(await f.arrayBuffer()) });
  }
  function download(m) {
    const blob = m.format === "model"
      ? new Blob([b64bytes(m.data)], { type: "application/octet-stream" })
      : new Blob([m.data], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: m.filename });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }

  // ------------------------------------------------------------------ dataset icons
  function rng(seed) { let s = seed; return () => { s = (s * 1664525 + 1013904223) % 4294967296; return s / 4294967296; }; }
  function drawDatasetIcon(cv, name) {
    const ctx = cv.getContext("2d");
    const W = 56, r = rng(7);
    ctx.fillStyle = "#f4f4f4"; ctx.fillRect(0, 0, W, W);
    const P = (x, y, c) => { ctx.fillStyle = c; ctx.beginPath(); ctx.arc(28 + x * 4.4, 28 - y * 4.4, 1.5, 0, 2 * Math.PI); ctx.fill(); };
    const n = 70;
    for (let i = 0; i < n; i++) {
      const u = r() * 2 - 1, v = r() * 2 - 1, t = r();
      switch (name) {
        case "circle": { const a = t * 6.28; const inner = i % 2 === 0; const rad = inner ? r() * 2.5 : 3.5 + r() * 1.5; P(rad * Math.cos(a), rad * Math.sin(a), inner ? PALETTE[1] : PALETTE[0]); break; }
        case "xor": P(u * 5.5, v * 5.5, u * v >= 0 ? PALETTE[1] : PALETTE[0]); break;
        case "gauss": { const c = i % 2 ? 2 : -2; P(c + u * 1.3, c + v * 1.3, i % 2 ? PALETTE[1] : PALETTE[0]); break; }
        case "spiral": { const k = i % 2; const s = t * 5; const a = t * 11 + k * Math.PI; P(s * Math.sin(a), s * Math.cos(a), PALETTE[k]); break; }
        case "moons": { const k = i % 2; const a = t * Math.PI; P(k ? 3 * (1 - Math.cos(a)) - 1.5 : 3 * Math.cos(a) - 1.5, k ? 3 * (0.5 - Math.sin(a)) - 0.7 : 3 * Math.sin(a) - 0.7, PALETTE[k]); break; }
        case "blobs": { const k = i % 3; const a = 2 * Math.PI * k / 3; P(4 * Math.cos(a) + u, 4 * Math.sin(a) + v, PALETTE[k]); break; }
        case "spiral3": { const k = i % 3; const a = 4 * k + t * 4; P(5 * t * Math.sin(a), 5 * t * Math.cos(a), PALETTE[k]); break; }
        case "plane": { const x = u * 5.5, y = v * 5.5; P(x, y, rgb(diverging((x + y) / 8))); break; }
        case "gauss_bump": { const x = u * 5.5, y = v * 5.5; P(x, y, rgb(diverging(2 * Math.exp(-(x * x + y * y) / 12) - 1))); break; }
        case "sin": { const x = u * 6; P(x, 3 * Math.sin(x) + (r() - 0.5) * 0.6, PALETTE[1]); break; }
        default: break;
      }
    }
    if (name === "csv") {
      ctx.fillStyle = "#999"; ctx.font = "bold 13px sans-serif"; ctx.textAlign = "center"; ctx.fillText("CSV", 28, 24);
      ctx.font = "10px sans-serif"; ctx.fillText("upload", 28, 40);
    }
  }

  // ------------------------------------------------------------------ network layout
  function inputFeatures() {
    const all = S.state.dim === 1 ? FEATURES_1D : S.options.features.map((f) => f.id);
    return all;
  }
  function featureLabel(id) { return (S.options.features.find((f) => f.id === id) || { label: id }).label; }

  function layoutNet() {
    const cv = $("#net");
    const st = S.state;
    const feats = inputFeatures();
    const sizes = st.sizes; // [n_in, h1, ..., n_out]
    const cols = [feats.length, ...sizes.slice(1)];
    const nCols = cols.length;
    const maxUnits = Math.max(...cols);
    cv.style.height = Math.max(300, Math.min(560, maxUnits * 52 + 30)) + "px";
    const W = cv.clientWidth, H = cv.clientHeight;
    const usable = H - 16;
    const pitch = Math.min(52, usable / maxUnits);
    const size = Math.max(4, Math.min(34, Math.floor(pitch * 0.78)));
    const padL = 40 + size / 2, padR = 36 + size / 2;
    const xs = cols.map((_, c) => nCols === 1 ? W / 2 : padL + c * (W - padL - padR) / (nCols - 1));
    const columns = cols.map((n, c) => {
      const colPitch = Math.min(52, usable / Math.max(n, 1));
      const top = 8 + (c === nCols - 1 ? (usable - colPitch * n) / 2 : 0);
      return Array.from({ length: n }, (_, i) => ({ x: xs[c], y: top + colPitch * (i + 0.5) }));
    });
    S.layout = { W, H, xs, columns, size, feats, cols };
    // layer controls above the hidden columns
    const box = $("#layer-ctls");
    box.innerHTML = "";
    if (S.config.mode === "perceptron") return;
    const acts = S.options.activations;
    S.config.hidden.forEach((units, l) => {
      const div = el("div", { class: "layer-ctl" });
      div.style.left = xs[l + 1] + "px";
      const pm = el("div", { class: "pm" });
      const plus = el("button", { class: "round small", title: "add a unit", "aria-label": `add unit to layer ${l + 1}` }, "+");
      const minus = el("button", { class: "round small", title: "remove a unit", "aria-label": `remove unit from layer ${l + 1}` }, "−");
      plus.addEventListener("click", () => changeUnits(l, +1));
      minus.addEventListener("click", () => changeUnits(l, -1));
      pm.append(plus, minus);
      const sel = el("select", { "data-layer": String(l), "aria-label": `activation of layer ${l + 1}` });
      fillSelect(sel, acts);
      sel.value = S.config.activations[l];
      sel.addEventListener("change", () => {
        const a = S.config.activations.slice(); a[l] = sel.value;
        S.config.activations = a; sendConfig();
      });
      div.append(pm, el("span", {}, `${units} unit${units === 1 ? "" : "s"}`), sel);
      box.appendChild(div);
    });
  }
  function changeUnits(l, d) {
    const h = S.config.hidden.slice();
    h[l] = Math.max(1, Math.min(S.limits.max_neurons, h[l] + d));
    S.config.hidden = h;
    sendConfig();
  }

  // ------------------------------------------------------------------ maps
  /** An offscreen canvas with one map (values v ∈ [−1, 1] as uint8) in the diverging scale. */
  function mapImage(key, bytes, offset, n) {
    if (S.mapCache.has(key)) return S.mapCache.get(key);
    const cv = document.createElement("canvas");
    cv.width = n; cv.height = n;
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(n, n);
    const px = img.data;
    for (let i = 0; i < n * n; i++) {
      const q = 3 * bytes[offset + i];
      px[4 * i] = LUT[q]; px[4 * i + 1] = LUT[q + 1]; px[4 * i + 2] = LUT[q + 2]; px[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    S.mapCache.set(key, cv);
    return cv;
  }
  function featureValues(id, n) {
    // the feature on the small grid (cell centres, x right, y up), normalised to [−1, 1]
    const E = S.state.extent;
    const out = new Float32Array(S.state.dim === 1 ? n : n * n);
    let mx = 1e-9;
    const f = { x1: (a) => a, x2: (a, b) => b, x1sq: (a) => a * a, x2sq: (a, b) => b * b, x1x2: (a, b) => a * b, sinx1: (a) => Math.sin(a), sinx2: (a, b) => Math.sin(b) }[id];
    if (S.state.dim === 1) {
      for (let i = 0; i < n; i++) { const v = f(-E + 2 * E * i / (n - 1), 0); out[i] = v; mx = Math.max(mx, Math.abs(v)); }
    } else {
      for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
        const x = -E + (c + 0.5) * 2 * E / n, y = E - (r + 0.5) * 2 * E / n;
        const v = f(x, y); out[r * n + c] = v; mx = Math.max(mx, Math.abs(v));
      }
    }
    for (let i = 0; i < out.length; i++) out[i] /= mx;
    return out;
  }
  function smallN() { return S.state.dim === 1 ? Math.floor(S.state.grid / 4) : S.state.grid / 2; }
  /** Map (2-D) or curve (1-D) of unit i in column c: {canvas} or {curve: Float32Array}. */
  function unitMap(c, i) {
    const n = smallN();
    if (c === 0) {
      const key = "f" + S.layout.feats[i];
      if (S.state.dim === 1) return { curve: featureValues(S.layout.feats[i], n) };
      if (!S.mapCache.has(key)) {
        const v = featureValues(S.layout.feats[i], n);
        const bytes = new Uint8Array(v.length);
        for (let k = 0; k < v.length; k++) bytes[k] = Math.round((v[k] + 1) * 127.5);
        mapImage(key, bytes, 0, n);
      }
      return { canvas: S.mapCache.get(key) };
    }
    const layer = S.frame.neurons[c - 1];
    if (!layer) return null;
    const cells = S.state.dim === 1 ? n : n * n;
    const key = `n${c}_${i}`;
    if (!layer._bytes) layer._bytes = b64bytes(layer.data);
    if (S.state.dim === 1) {
      const out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = layer._bytes[i * cells + k] / 127.5 - 1;
      return { curve: out };
    }
    return { canvas: mapImage(key, layer._bytes, i * cells, n) };
  }
  function drawUnitMap(ctx, m, x, y, s, dim) {
    if (!m) return;
    if (m.canvas) {
      ctx.imageSmoothingEnabled = s > 20;
      ctx.drawImage(m.canvas, x, y, s, s);
    } else if (m.curve) {
      ctx.fillStyle = "#fff"; ctx.fillRect(x, y, s, s);
      ctx.strokeStyle = "#0877bd"; ctx.lineWidth = Math.max(1, s / 20);
      ctx.beginPath();
      m.curve.forEach((v, k) => { const px = x + s * k / (m.curve.length - 1), py = y + s / 2 - v * s * 0.45; k ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
      ctx.stroke();
    }
  }

  // ------------------------------------------------------------------ network drawing
  function weightsOf(l) {
    const w = S.frame.weights[l];
    if (!w._W) { w._W = b64floats(w.w); w._b = b64floats(w.b); }
    return w;
  }
  /** Links between columns c and c+1: [{x0,y0,x1,y1,w,layer,row,col}] */
  function links(c) {
    const L = S.layout, out = [];
    const w = weightsOf(c);
    const [rows, ncols] = w.shape;
    const from = L.columns[c], to = L.columns[c + 1];
    const s = L.size / 2;
    for (let j = 0; j < rows; j++) {
      for (let i = 0; i < from.length; i++) {
        let col = i;
        if (c === 0) { col = S.config.features.indexOf(L.feats[i]); if (col < 0) continue; }
        if (col >= ncols) continue;
        out.push({ x0: from[i].x + s, y0: from[i].y, x1: to[j].x - s, y1: to[j].y, w: w._W[j * ncols + col], layer: c, row: j, col, fromUnit: i });
      }
    }
    return out;
  }
  function drawNet() {
    if (!S.state || !S.frame || !S.layout) return;
    const cv = $("#net");
    const { ctx, w: W } = setupCanvas(cv);
    if (Math.abs(W - S.layout.W) > 1) layoutNet();
    const L = S.layout, s = L.size;
    const nLinks = L.cols.slice(0, -1).reduce((a, n, c) => a + n * L.cols[c + 1], 0);
    const curvy = nLinks < 1500;
    const thin = Math.min(1, s / 22);
    // links: one path per (sign, width bucket), so a 10 × 64 network is a few dozen strokes
    const buckets = new Map();
    const trace = (k) => {
      ctx.moveTo(k.x0, k.y0);
      if (curvy) { const mx = (k.x0 + k.x1) / 2; ctx.bezierCurveTo(mx, k.y0, mx, k.y1, k.x1, k.y1); } else ctx.lineTo(k.x1, k.y1);
    };
    for (let c = 0; c < L.columns.length - 1; c++) {
      for (const k of links(c)) {
        const key = (k.w >= 0 ? "+" : "-") + Math.round(Math.min(Math.abs(k.w), 6) * 2);
        if (!buckets.has(key)) buckets.set(key, []);
        buckets.get(key).push(k);
      }
    }
    for (const [key, ks] of buckets) {
      const a = Number(key.slice(1)) / 2;
      ctx.strokeStyle = rgb(key[0] === "+" ? BLUE : ORANGE, curvy ? 0.75 : 0.45);
      ctx.lineWidth = Math.max(0.4, (0.6 + a * 1.3) * thin);
      ctx.beginPath();
      for (const k of ks) trace(k);
      ctx.stroke();
    }
    if (S.hover && S.hover.kind === "link") {
      const k = S.hover.link;
      ctx.strokeStyle = rgb(k.w >= 0 ? BLUE : ORANGE, 1);
      ctx.lineWidth = 4;
      ctx.beginPath(); trace(k); ctx.stroke();
    }
    // units
    const probe = S.probe;
    const dead = S.frame.dead || [];
    for (let c = 0; c < L.columns.length; c++) {
      const col = L.columns[c];
      const isInput = c === 0, isOut = c === L.columns.length - 1;
      let deltaScale = 1e-12;
      if (probe && c > 0 && probe.layers[c - 1]) for (const d of probe.layers[c - 1].delta) deltaScale = Math.max(deltaScale, Math.abs(d || 0));
      for (let i = 0; i < col.length; i++) {
        const { x, y } = col[i];
        const x0 = x - s / 2, y0 = y - s / 2;
        const enabled = !isInput || S.config.features.includes(L.feats[i]);
        if (isOut) {
          drawOutputUnit(ctx, x0, y0, s, i);
        } else {
          ctx.globalAlpha = enabled ? 1 : 0.25;
          drawUnitMap(ctx, unitMap(c, i), x0, y0, s, S.state.dim);
          ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = enabled ? "#555" : "#bbb"; ctx.lineWidth = 1;
        ctx.strokeRect(x0, y0, s, s);
        if (isInput) {
          ctx.fillStyle = enabled ? "#333" : "#aaa"; ctx.font = "12px sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
          ctx.fillText(featureLabel(L.feats[i]), x0 - 5, y);
        }
        if (!isInput && !isOut && dead[c - 1] && dead[c - 1][i]) {
          ctx.strokeStyle = "#b3261e"; ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x0 + s, y0 + s); ctx.moveTo(x0 + s, y0); ctx.lineTo(x0, y0 + s); ctx.stroke();
        }
        if (probe && c > 0 && probe.layers[c - 1]) {
          const d = probe.layers[c - 1].delta[i] || 0;
          const t = Math.abs(d) / deltaScale;
          ctx.strokeStyle = rgb(d >= 0 ? BLUE : ORANGE, 0.9);
          ctx.lineWidth = 1 + 4 * t;
          ctx.strokeRect(x0 - 3 - 2 * t, y0 - 3 - 2 * t, s + 6 + 4 * t, s + 6 + 4 * t);
        }
        if (S.hover && S.hover.kind === "unit" && S.hover.c === c && S.hover.i === i) {
          ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x0 - 1, y0 - 1, s + 2, s + 2);
        }
      }
    }
    // activation names under hidden columns
    ctx.fillStyle = "#777"; ctx.font = "10px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "alphabetic";
    const acts = S.state.activations;
    for (let c = 1; c < L.columns.length; c++) {
      const last = L.columns[c][L.columns[c].length - 1];
      const name = c === L.columns.length - 1 ? (S.config.mode === "perceptron" ? "step" : S.state.head) : acts[c - 1];
      ctx.fillText(name, L.xs[c], Math.min(L.H - 2, last.y + s / 2 + 12));
    }
  }
  function drawOutputUnit(ctx, x0, y0, s, i) {
    const out = S.frame.output;
    ctx.fillStyle = "#fff"; ctx.fillRect(x0, y0, s, s);
    if (out.kind === "class" || (S.state.task === "multiclass")) {
      ctx.fillStyle = PALETTE[i % PALETTE.length]; ctx.fillRect(x0 + 2, y0 + 2, s - 4, s - 4);
      return;
    }
    if (out.kind === "curve") {
      const span = (out.hi - out.lo) || 1;
      drawUnitMap(ctx, { curve: out.y.map((v) => 2 * ((v === null ? 0 : v) - out.lo) / span - 1) }, x0, y0, s, 1);
      return;
    }
    const img = outputImage();
    if (img) { ctx.imageSmoothingEnabled = true; ctx.drawImage(img, x0, y0, s, s); }
  }

  // ------------------------------------------------------------------ hover, edit, click
  function hitTest(mx, my) {
    const L = S.layout;
    if (!L || !S.frame) return null;
    const s = L.size;
    for (let c = 0; c < L.columns.length; c++) {
      for (let i = 0; i < L.columns[c].length; i++) {
        const u = L.columns[c][i];
        if (Math.abs(mx - u.x) <= s / 2 + 2 && Math.abs(my - u.y) <= s / 2 + 2) return { kind: "unit", c, i };
      }
    }
    // links: only between the two columns around the mouse
    let c = -1;
    for (let k = 0; k < L.xs.length - 1; k++) if (mx > L.xs[k] + s / 2 && mx < L.xs[k + 1] - s / 2) c = k;
    if (c < 0) return null;
    const nLinks = L.cols.slice(0, -1).reduce((a, n, k) => a + n * L.cols[k + 1], 0);
    const curvy = nLinks < 1500;
    let best = null, bestD = 5;
    for (const k of links(c)) {
      const t = (mx - k.x0) / (k.x1 - k.x0);
      if (t < 0 || t > 1) continue;
      let y;
      if (curvy) {
        // the bezier's x(u) is monotone: solve x(u) = mx by bisection, then y(u)
        let lo = 0, hi = 1;
        const X = (u) => { const v = 1 - u; const m = (k.x0 + k.x1) / 2; return v * v * v * k.x0 + 3 * v * v * u * m + 3 * v * u * u * m + u * u * u * k.x1; };
        for (let it = 0; it < 18; it++) { const mid = (lo + hi) / 2; if (X(mid) < mx) lo = mid; else hi = mid; }
        const u = (lo + hi) / 2, v = 1 - u;
        y = v * v * v * k.y0 + 3 * v * v * u * k.y0 + 3 * v * u * u * k.y1 + u * u * u * k.y1;
      } else y = k.y0 + t * (k.y1 - k.y0);
      const d = Math.abs(my - y);
      if (d < bestD) { bestD = d; best = k; }
    }
    return best ? { kind: "link", link: best } : null;
  }
  function onNetMove(ev) {
    if (S.editing) return;
    const r = ev.currentTarget.getBoundingClientRect();
    const h = hitTest(ev.clientX - r.left, ev.clientY - r.top);
    const same = JSON.stringify(h) === JSON.stringify(S.hover);
    S.hover = h;
    if (!h) { hideTip(); if (!same) drawNet(); ev.currentTarget.style.cursor = "default"; return; }
    ev.currentTarget.style.cursor = "pointer";
    S.tipAt = [ev.clientX, ev.clientY];
    showTip(ev.clientX, ev.clientY, h);
    if (!same) drawNet();
  }
  function unitName(c, i) {
    const L = S.layout;
    if (c === 0) return featureLabel(L.feats[i]);
    if (c === L.columns.length - 1) return L.columns[c].length > 1 ? `z_out[${i}]` : "z_out";
    return `h${c}[${i}]`;
  }
  function formula(c, i) {
    const L = S.layout;
    const w = weightsOf(c - 1);
    const [, ncols] = w.shape;
    const terms = [];
    const names = c === 1 ? S.config.features.map(featureLabel) : Array.from({ length: ncols }, (_, k) => `h${c - 1}[${k}]`);
    for (let k = 0; k < ncols; k++) {
      const v = w._W[i * ncols + k];
      if (terms.length < 10) terms.push(`${terms.length ? (v < 0 ? " − " : " + ") : (v < 0 ? "−" : "")}${Math.abs(v).toFixed(2)}·${names[k]}`);
    }
    const more = ncols > 10 ? ` + … (${ncols - 10} more)` : "";
    const b = w._b[i];
    const z = `${terms.join("")}${more} ${b < 0 ? "−" : "+"} ${Math.abs(b).toFixed(2)}`;
    const isOut = c === L.columns.length - 1;
    const norm = S.config.norm !== "none" && !isOut ? (S.config.norm === "batch" ? "BN" : "LN") : "";
    const act = isOut ? "" : S.state.activations[c - 1];
    const inner = norm ? `${norm}(${z})` : z;
    return isOut ? `${unitName(c, i)} = ${inner}\nŷ = ${S.config.mode === "perceptron" ? "step" : S.state.head}(z_out)` : `${unitName(c, i)} = ${act}(${inner})`;
  }
  function showTip(x, y, h) {
    const tip = $("#tooltip"), text = $("#tip-text"), map = $("#tip-map");
    let t = "";
    let m = null;
    if (h.kind === "link") {
      const k = h.link;
      t = `w = ${k.w.toFixed(4)}\nfrom ${unitName(k.layer, k.fromUnit)} to ${unitName(k.layer + 1, k.row)}\nclick to type a new value`;
    } else {
      const { c, i } = h;
      const L = S.layout;
      if (c === 0) {
        const on = S.config.features.includes(L.feats[i]);
        t = `input ${featureLabel(L.feats[i])} (${on ? "on" : "off"}) — click to switch ${on ? "off" : "on"}`;
        m = unitMap(0, i);
      } else {
        t = formula(c, i);
        const isOut = c === L.columns.length - 1;
        if (!isOut) {
          m = unitMap(c, i);
          const sc = S.frame.neurons[c - 1] && S.frame.neurons[c - 1].scale[i];
          t += `\nmap: h / ${fmt(sc)} (its largest |h| on the map)`;
          const dead = S.frame.dead && S.frame.dead[c - 1] && S.frame.dead[c - 1][i];
          if (dead) t += "\nDEAD: φ′(z) = 0 on every training point";
        }
        if (S.probe && S.probe.layers[c - 1]) {
          const pl = S.probe.layers[c - 1];
          t += `\nprobe: z = ${fmt(pl.z[i])}, h = ${fmt(pl.h[i])}, δ = ${fmt(pl.delta[i], 5)}`;
        }
        t += "\nclick to set the bias";
      }
    }
    text.textContent = t;
    map.classList.toggle("hidden", !m);
    if (m) {
      const { ctx } = setupCanvas(map, 160, 160);
      drawUnitMap(ctx, m, 0, 0, 160, S.state.dim);
    }
    tip.classList.remove("hidden");
    const w = tip.offsetWidth, hh = tip.offsetHeight;
    tip.style.left = Math.min(window.innerWidth - w - 8, x + 14) + "px";
    tip.style.top = Math.min(window.innerHeight - hh - 8, y + 14) + "px";
  }
  function hideTip() { $("#tooltip").classList.add("hidden"); }

  function onNetClick(ev) {
    const r = ev.currentTarget.getBoundingClientRect();
    const h = hitTest(ev.clientX - r.left, ev.clientY - r.top);
    if (!h) return;
    if (h.kind === "unit" && h.c === 0) {
      const f = S.layout.feats[h.i];
      let feats = S.config.features.slice();
      if (feats.includes(f)) { if (feats.length === 1) { showToast("keep at least one input feature"); return; } feats = feats.filter((x) => x !== f); } else feats.push(f);
      S.config.features = feats;
      sendConfig();
      return;
    }
    if (h.kind === "unit") {
      const w = weightsOf(h.c - 1);
      openEditor(ev.clientX, ev.clientY, { layer: h.c - 1, row: h.i, col: -1 }, w._b[h.i]);
    } else {
      openEditor(ev.clientX, ev.clientY, { layer: h.link.layer, row: h.link.row, col: h.link.col }, h.link.w);
    }
  }
  function openEditor(x, y, target, value) {
    hideTip();
    const we = $("#weight-editor");
    S.editing = target;
    we.value = value.toFixed(4);
    we.style.left = x + 6 + "px"; we.style.top = y - 12 + "px";
    we.classList.remove("hidden");
    we.focus(); we.select();
  }
  function commitEdit() {
    const we = $("#weight-editor");
    const v = Number(we.value);
    const t = S.editing;
    cancelEdit();
    if (!t || we.value === "" || !Number.isFinite(v)) return;
    send({ type: "set_weight", layer: t.layer, row: t.row, col: t.col, value: v });
  }
  function cancelEdit() { S.editing = null; $("#weight-editor").classList.add("hidden"); }

  function onMapClick(ev) {
    if (!S.state) return;
    const r = ev.currentTarget.getBoundingClientRect();
    const E = S.state.extent, M = mapGeom();
    const x = -E + ((ev.clientX - r.left - M.x0) / M.s) * 2 * E;
    const y = E - ((ev.clientY - r.top - M.y0) / M.s) * 2 * E;
    send({ type: "probe", x, y: S.state.dim === 1 ? 0 : y });
  }

  // ------------------------------------------------------------------ output map
  function mapGeom() { const cv = $("#out-map"); const pad = 18; return { x0: pad, y0: 4, s: Math.min(cv.clientWidth, cv.clientHeight) - pad - 6 }; }
  function outputImage() {
    const out = S.frame.output;
    if (out.kind === "curve") return null;
    if (S.mapCache.has("out")) return S.mapCache.get("out");
    const n = S.state.grid;
    const cv = document.createElement("canvas"); cv.width = n; cv.height = n;
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(n, n);
    const data = b64bytes(out.data);
    const conf = out.conf ? b64bytes(out.conf) : null;
    const disc = S.config.discretize || out.hard;
    for (let i = 0; i < n * n; i++) {
      let c;
      if (out.kind === "class") {
        const t = disc ? 1 : conf[i] / 255;
        c = mix(WHITE, PALETTE_RGB[data[i] % PALETTE.length], 0.25 + 0.6 * t);
      } else {
        let v = data[i] / 127.5 - 1;
        if (disc && out.kind === "score") v = v >= 0 ? 1 : -1;
        c = diverging(out.kind === "score" && disc ? v * 0.75 : v);
      }
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    S.mapCache.set("out", cv);
    return cv;
  }
  function pointColor(y) {
    const st = S.state;
    if (st.task === "regression") {
      const [lo, hi] = st.y_range;
      return rgb(diverging(2 * (y - lo) / (hi - lo) - 1));
    }
    return PALETTE[y % PALETTE.length];
  }
  function drawOutput() {
    if (!S.state || !S.frame) return;
    const cv = $("#out-map");
    const { ctx, w, h } = setupCanvas(cv);
    const st = S.state, E = st.extent, M = mapGeom();
    const X = (x) => M.x0 + (x + E) / (2 * E) * M.s;
    const out = S.frame.output;
    if (out.kind === "curve") return drawCurve(ctx, M, X);
    const img = outputImage();
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(img, M.x0, M.y0, M.s, M.s);
    const Y = (y) => M.y0 + (E - y) / (2 * E) * M.s;
    const pts = (set, stroke) => {
      for (let k = 0; k < set.x.length; k++) {
        const [x, y] = set.x[k];
        ctx.beginPath(); ctx.arc(X(x), Y(y), 2.8, 0, 2 * Math.PI);
        ctx.fillStyle = pointColor(set.y[k]); ctx.fill();
        ctx.strokeStyle = stroke; ctx.lineWidth = 1; ctx.stroke();
      }
    };
    pts(st.train, "#fff");
    if (S.config.show_test) pts(st.test, "#000");
    axes(ctx, M, E, true);
    if (S.probe) {
      const [px, py] = S.probe.point;
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(X(px), Y(py), 7, 0, 2 * Math.PI); ctx.stroke();
    }
    drawLegend();
  }
  function axes(ctx, M, E, twoD) {
    ctx.fillStyle = "#777"; ctx.font = "10px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (let v = -E; v <= E + 1e-9; v += E / 2) {
      const px = M.x0 + (v + E) / (2 * E) * M.s;
      ctx.fillText(String(v), px, M.y0 + M.s + 2);
      if (twoD) { ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillText(String(v), M.x0 - 3, M.y0 + (E - v) / (2 * E) * M.s); ctx.textAlign = "center"; ctx.textBaseline = "top"; }
    }
  }
  function drawCurve(ctx, M, X) {
    const st = S.state, out = S.frame.output, E = st.extent;
    const lo = out.lo, hi = out.hi;
    const Y = (v) => M.y0 + (hi - v) / (hi - lo) * M.s;
    ctx.fillStyle = "#fafafa"; ctx.fillRect(M.x0, M.y0, M.s, M.s);
    ctx.strokeStyle = "#ddd"; ctx.strokeRect(M.x0, M.y0, M.s, M.s);
    if (lo < 0 && hi > 0) { ctx.beginPath(); ctx.moveTo(M.x0, Y(0)); ctx.lineTo(M.x0 + M.s, Y(0)); ctx.stroke(); }
    const dot = (set, stroke) => {
      for (let k = 0; k < set.x.length; k++) {
        ctx.beginPath(); ctx.arc(X(set.x[k][0]), Y(set.y[k]), 2.5, 0, 2 * Math.PI);
        ctx.fillStyle = st.task === "regression" ? "#0877bd" : PALETTE[set.y[k]]; ctx.fill();
        ctx.strokeStyle = stroke; ctx.stroke();
      }
    };
    dot(st.train, "#fff");
    if (S.config.show_test) dot(st.test, "#000");
    ctx.strokeStyle = "#222"; ctx.lineWidth = 2; ctx.beginPath();
    out.y.forEach((v, k) => { const px = X(-E + 2 * E * k / (out.y.length - 1)), py = Y(v === null ? 0 : v); k ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
    ctx.stroke();
    axes(ctx, M, E, false);
    ctx.fillStyle = "#777"; ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText(fmt(hi, 2), M.x0 + 3, M.y0 + 2); ctx.textBaseline = "bottom"; ctx.fillText(fmt(lo, 2), M.x0 + 3, M.y0 + M.s - 2);
    if (S.probe) {
      ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.moveTo(X(S.probe.point[0]), M.y0); ctx.lineTo(X(S.probe.point[0]), M.y0 + M.s); ctx.stroke();
    }
    $(".legend").classList.add("hidden");
  }
  function drawLegend() {
    $(".legend").classList.remove("hidden");
    const cv = $("#legend");
    const { ctx, w, h } = setupCanvas(cv);
    const st = S.state;
    const txt = $("#legend-text");
    if (st.task === "multiclass") {
      const k = st.classes.length;
      for (let i = 0; i < k; i++) { ctx.fillStyle = PALETTE[i % PALETTE.length]; ctx.fillRect(i * w / k, 0, w / k - 2, h); }
      txt.textContent = "classes " + st.classes.join(", ");
      return;
    }
    for (let x = 0; x < w; x++) { ctx.fillStyle = rgb(diverging(2 * x / (w - 1) - 1)); ctx.fillRect(x, 0, 1, h); }
    if (st.task === "regression") txt.textContent = `${fmt(st.y_range[0], 2)} … ${fmt(st.y_range[1], 2)}`;
    else txt.textContent = `class ${st.classes ? st.classes[0] : 0} ← → class ${st.classes ? st.classes[1] : 1}`;
  }

  // ------------------------------------------------------------------ charts
  function lineChart(cv, series, opts) {
    const { ctx, w, h } = setupCanvas(cv);
    opts = opts || {};
    const pad = { l: opts.axes === false ? 2 : 40, r: 6, t: 6, b: opts.axes === false ? 2 : 14 };
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    const tr = (v) => (opts.log ? Math.log10(Math.max(v, 1e-12)) : v);
    for (const s of series) for (const [x, y] of s.data) {
      if (y === null || y === undefined || !Number.isFinite(y)) continue;
      xmin = Math.min(xmin, x); xmax = Math.max(xmax, x);
      ymin = Math.min(ymin, tr(y)); ymax = Math.max(ymax, tr(y));
    }
    if (opts.ymin !== undefined) ymin = Math.min(ymin, opts.ymin);
    if (opts.ymax !== undefined) ymax = Math.max(ymax, opts.ymax);
    if (!Number.isFinite(xmin)) { ctx.fillStyle = "#aaa"; ctx.font = "11px sans-serif"; ctx.fillText(opts.empty || "no data yet", pad.l + 4, h / 2); return; }
    if (xmax === xmin) xmax = xmin + 1;
    if (ymax === ymin) { ymax += 0.5; ymin -= 0.5; }
    const X = (x) => pad.l + (x - xmin) / (xmax - xmin) * (w - pad.l - pad.r);
    const Y = (y) => pad.t + (ymax - tr(y)) / (ymax - ymin) * (h - pad.t - pad.b);
    if (opts.axes !== false) {
      ctx.strokeStyle = "#e4e4e4"; ctx.lineWidth = 1; ctx.fillStyle = "#888"; ctx.font = "10px sans-serif";
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      for (let k = 0; k <= 3; k++) {
        const yv = ymin + (ymax - ymin) * k / 3;
        const py = pad.t + (ymax - yv) / (ymax - ymin) * (h - pad.t - pad.b);
        ctx.beginPath(); ctx.moveTo(pad.l, py); ctx.lineTo(w - pad.r, py); ctx.stroke();
        ctx.fillText(opts.log ? "1e" + yv.toFixed(1) : fmt(yv, 2), pad.l - 3, py);
      }
      ctx.textAlign = "center"; ctx.textBaseline = "top";
      ctx.fillText(`epoch ${xmax}`, w - 34, h - 12);
    }
    for (const s of series) {
      ctx.strokeStyle = s.color; ctx.lineWidth = s.width || 1.5;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let started = false;
      for (const [x, y] of s.data) {
        if (y === null || y === undefined || !Number.isFinite(y)) { started = false; continue; }
        started ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y));
        started = true;
      }
      ctx.stroke();
      const finite = s.data.filter(([, y]) => y !== null && y !== undefined && Number.isFinite(y));
      if (finite.length < 3) {
        ctx.fillStyle = s.color;
        for (const [x, y] of finite) { ctx.beginPath(); ctx.arc(X(x), Y(y), 2.5, 0, 2 * Math.PI); ctx.fill(); }
      }
    }
    ctx.setLineDash([]);
    if (opts.legend) {
      ctx.font = "10px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "top";
      let x = pad.l + 6;
      for (const s of series) { ctx.fillStyle = s.color; ctx.fillRect(x, pad.t + 4, 10, 2); ctx.fillText(s.name, x + 13, pad.t); x += 16 + ctx.measureText(s.name).width + 8; }
    }
  }
  function drawCharts() {
    const H = S.history;
    const get = (k) => H.map((r) => [r.epoch, r[k]]);
    lineChart($("#mini-chart"), [
      { data: get("train_loss"), color: "#999", width: 1.5 },
      { data: get("test_loss"), color: "#000", width: 1.5 },
    ], { axes: false, ymin: 0 });
    const what = S.config.mode === "perceptron" ? "error rate" : "loss";
    lineChart($("#chart-loss"), [
      { data: get("train_loss"), color: "#999", name: "train " + what },
      { data: get("test_loss"), color: "#000", name: "test " + what },
    ], { legend: true, ymin: 0 });
    if (S.state.task === "regression") {
      lineChart($("#chart-acc"), [], { empty: "accuracy: not defined for regression" });
    } else {
      lineChart($("#chart-acc"), [
        { data: get("train_acc"), color: "#8fb8d6", name: "train accuracy" },
        { data: get("test_acc"), color: "#0877bd", name: "test accuracy" },
      ], { legend: true, ymin: 0, ymax: 1 });
    }
    const nl = (S.frame.weights || []).length;
    const gs = [];
    const leg = $("#grad-legend");
    leg.innerHTML = "";
    if (S.config.mode !== "perceptron") {
      for (let l = 0; l < nl; l++) {
        const color = LAYER_COLORS[l % LAYER_COLORS.length];
        gs.push({ data: H.filter((r) => r.grad).map((r) => [r.epoch, r.grad[l]]), color, name: l === nl - 1 ? "output" : `layer ${l + 1}` });
        const span = el("span"); const i = el("i"); i.style.background = color; span.append(i, l === nl - 1 ? "output" : `layer ${l + 1}`); leg.appendChild(span);
      }
    }
    lineChart($("#chart-grad"), gs, { log: true, empty: S.config.mode === "perceptron" ? "the perceptron rule uses no gradient" : "train to see gradient norms" });
  }

  // ------------------------------------------------------------------ panels
  function drawConfusion() {
    const box = $("#confusion");
    box.innerHTML = "";
    const cm = S.frame.confusion;
    $("#cm-split").textContent = cm ? `(${cm.split} set: rows true, columns predicted)` : "";
    if (!cm) { box.appendChild(el("p", { class: "hint" }, "Regression: no classes to confuse.")); return; }
    const t = el("table");
    const head = el("tr");
    head.appendChild(el("th", {}, "true \\ pred"));
    cm.labels.forEach((l) => head.appendChild(el("th", {}, l)));
    t.appendChild(head);
    cm.matrix.forEach((row, i) => {
      const tr = el("tr");
      tr.appendChild(el("th", {}, cm.labels[i]));
      const sum = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((v, j) => {
        const td = el("td", {}, String(v));
        const a = v / sum;
        td.style.background = i === j ? `rgba(8,119,189,${0.1 + 0.6 * a})` : `rgba(245,147,34,${0.8 * a})`;
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    box.appendChild(t);
  }
  function drawProbe() {
    const p = S.probe;
    if (!p) return;
    const box = $("#probe");
    box.innerHTML = "";
    const label = S.state.task === "regression" ? fmt(p.label) : (S.state.classes ? S.state.classes[p.label] : p.label);
    box.appendChild(el("p", {}, `Point (${p.point.map((v) => fmt(v, 2)).join(", ")}) from the ${p.split} set, label ${label}, loss ${fmt(p.loss, 4)}.`));
    const t = el("table");
    p.layers.forEach((l, k) => {
      const tr = el("tr");
      tr.appendChild(el("td", {}, k === p.layers.length - 1 ? `output (${l.activation})` : `layer ${k + 1} (${l.activation})`));
      const shown = l.delta.slice(0, 12).map((v) => fmt(v, 4)).join("  ") + (l.delta.length > 12 ? `  … (${l.delta.length})` : "");
      tr.appendChild(el("td", { class: "vals" }, "δ = " + shown));
      t.appendChild(tr);
    });
    box.appendChild(t);
    box.appendChild(el("p", { class: "hint" }, "δ_out = ŷ − y for canonical heads; each layer below: δ = (δ_next W) ⊙ φ′(z). Rings: blue δ > 0, orange δ < 0, thickness |δ|."));
  }
  function drawDoctor() {
    const f = $("#findings");
    f.innerHTML = "";
    for (const x of S.frame.findings || []) {
      const d = el("div", { class: "finding " + (x.severity || "") });
      const where = (x.sections || []).map((k) => "§" + k).join(", ");
      d.appendChild(el("b", {}, `${x.severity || "info"}: ${x.id.replace(/_/g, " ")}${x.failure_mode ? " — " + x.failure_mode : ""}${where ? " (" + where + ")" : ""}`));
      d.appendChild(el("div", {}, x.summary || ""));
      if (x.advice) d.appendChild(el("div", { class: "advice" }, "→ " + x.advice));
      f.appendChild(d);
    }
    const dead = S.frame.dead || [];
    const parts = [];
    dead.forEach((l, k) => { const n = l.filter(Boolean).length; if (n) parts.push(`layer ${k + 1}: ${n} of ${l.length}`); });
    const box = $("#dead");
    box.textContent = parts.length ? `Dead units (φ′ = 0 on every training point, marked ✕): ${parts.join("; ")}` : (S.config.mode === "perceptron" ? "" : "No dead units.");
    const H = S.history;
    const last = H.length ? H[H.length - 1] : null;
    if (last && last.grad) {
      const g = last.grad;
      const ratio = g[0] && g[g.length - 1] ? g[0] / g[g.length - 1] : null;
      if (ratio !== null && g.length > 2) box.textContent += `  First/last layer gradient norm ratio: ${fmt(ratio, 3)}.`;
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

  document.addEventListener("DOMContentLoaded", connect);
})();
