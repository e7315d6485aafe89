/* The page's controls: the URL that holds the configuration, the inputs and buttons, file
 * upload and download, the command-line box and the data set icons. */
import { $, b64bytes, bytesB64, diverging, el, fillSelect, PALETTE, rgb, S } from "./util.js";
import { send, sendConfig } from "./socket.js";
import { showToast } from "./panels.js";

export const DATASET_LABELS = {
  circle: "Circle", xor: "XOR", gauss: "Gauss", spiral: "Spiral", moons: "Moons", blobs: "Blobs",
  spiral3: "Spiral ×3", plane: "Plane (reg.)", gauss_bump: "Bump (reg.)", sin: "sin x (1-D)", csv: "CSV",
};
export function setPlaying(p) {
  S.playing = p;
  const b = $("#btn-play");
  b.classList.toggle("playing", p);
  b.setAttribute("aria-label", p ? "pause" : "play");
}

export function writeHash() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(S.config)) {
    p.set(k, Array.isArray(v) ? v.join(",") : typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  history.replaceState(null, "", "#" + p.toString());
}
export function readHash(defaults) {
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

export function buildControls() {
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
}

export function setKey(k, v) {
  S.config[k] = v;
  if (k === "mode" && v === "perceptron") S.config.head = "auto";
  if (k === "dataset") S.config.head = "auto";
  syncControls();
  sendConfig();
}

export function syncControls() {
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

export function showCli(cli) {
  if (!cli) return;
  $("#cli").textContent = cli.command;
  const ul = $("#cli-notes");
  ul.innerHTML = "";
  for (const n of cli.notes) ul.appendChild(el("li", {}, n));
}
export function copyText(t) {
  if (navigator.clipboard) navigator.clipboard.writeText(t).then(() => showToast("copied", true), () => showToast("copy failed"));
}

/** The file chosen in a file input (cleared for the next choice), or null when none was
 * chosen or it is over `limit` bytes (then the box `errSel` shows `tooBig(f)`). */
function chosenFile(ev, errSel, limit, tooBig) {
  const f = ev.target.files[0];
  ev.target.value = "";
  if (!f) return null;
  const err = $(errSel);
  err.classList.add("hidden");
  if (f.size > limit) {
    err.textContent = tooBig(f);
    err.classList.remove("hidden");
    return null;
  }
  return f;
}
export async function onCsvFile(ev) {
  const limit = S.limits.max_csv_bytes;
  const f = chosenFile(ev, "#csv-error", limit, (g) => `${g.name} is ${(g.size / 1e6).toFixed(2)} MB; the limit is ${(limit / 1e6).toFixed(1)} MB`);
  if (f) send({ type: "upload_csv", name: f.name, text: await f.text() });
}
export async function onModelFile(ev) {
  const limit = S.limits.max_model_bytes;
  const f = chosenFile(ev, "#model-error", limit, (g) => `${g.name} is too large (limit ${(limit / 1e6).toFixed(1)} MB)`);
  if (f) send({ type: "import_model", name: f.name, data: bytesB64(await f.arrayBuffer()) });
}
export function download(m) {
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

export function rng(seed) { let s = seed; return () => { s = (s * 1664525 + 1013904223) % 4294967296; return s / 4294967296; }; }
export function drawDatasetIcon(cv, name) {
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

