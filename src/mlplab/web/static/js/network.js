/* The network view: layout of the units, their maps, the links coloured by weight, the
 * tooltip, and editing a weight or bias by clicking it. */
import { $, b64bytes, b64floats, BLUE, diverging, el, fillSelect, fmt, LUT, ORANGE, PALETTE, rgb, S, setupCanvas } from "./util.js";
import { send, sendConfig } from "./socket.js";
import { showToast } from "./panels.js";
import { outputImage } from "./output.js";

export const FEATURES_1D = ["x1", "x1sq", "sinx1"];

export function inputFeatures() {
  const all = S.state.dim === 1 ? FEATURES_1D : S.options.features.map((f) => f.id);
  return all;
}
export function featureLabel(id) { return (S.options.features.find((f) => f.id === id) || { label: id }).label; }

export function layoutNet() {
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
export function changeUnits(l, d) {
  const h = S.config.hidden.slice();
  h[l] = Math.max(1, Math.min(S.limits.max_neurons, h[l] + d));
  S.config.hidden = h;
  sendConfig();
}

/** An offscreen canvas with one map (values v ∈ [−1, 1] as uint8) in the diverging scale. */
export function mapImage(key, bytes, offset, n) {
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
export function featureValues(id, n) {
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
export function smallN() { return S.state.dim === 1 ? Math.floor(S.state.grid / 4) : S.state.grid / 2; }
/** Map (2-D) or curve (1-D) of unit i in column c: {canvas} or {curve: Float32Array}. */
export function unitMap(c, i) {
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
export function drawUnitMap(ctx, m, x, y, s, dim) {
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

export function weightsOf(l) {
  const w = S.frame.weights[l];
  if (!w._W) { w._W = b64floats(w.w); w._b = b64floats(w.b); }
  return w;
}
/** Links between columns c and c+1: [{x0,y0,x1,y1,w,layer,row,col}] */
export function links(c) {
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
export function drawNet() {
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
export function drawOutputUnit(ctx, x0, y0, s, i) {
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

export function hitTest(mx, my) {
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
export function onNetMove(ev) {
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
export function unitName(c, i) {
  const L = S.layout;
  if (c === 0) return featureLabel(L.feats[i]);
  if (c === L.columns.length - 1) return L.columns[c].length > 1 ? `z_out[${i}]` : "z_out";
  return `h${c}[${i}]`;
}
export function formula(c, i) {
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
export function showTip(x, y, h) {
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
export function hideTip() { $("#tooltip").classList.add("hidden"); }

export function onNetClick(ev) {
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
export function openEditor(x, y, target, value) {
  hideTip();
  const we = $("#weight-editor");
  S.editing = target;
  we.value = value.toFixed(4);
  we.style.left = x + 6 + "px"; we.style.top = y - 12 + "px";
  we.classList.remove("hidden");
  we.focus(); we.select();
}
export function commitEdit() {
  const we = $("#weight-editor");
  const v = Number(we.value);
  const t = S.editing;
  cancelEdit();
  if (!t || we.value === "" || !Number.isFinite(v)) return;
  send({ type: "set_weight", layer: t.layer, row: t.row, col: t.col, value: v });
}
export function cancelEdit() { S.editing = null; $("#weight-editor").classList.add("hidden"); }


/** Hover, click and weight-editor events of the network drawing. */
export function bindNetwork() {
  const net = $("#net");
  net.addEventListener("mousemove", onNetMove);
  net.addEventListener("mouseleave", () => { S.hover = null; hideTip(); drawNet(); });
  net.addEventListener("click", onNetClick);
  const we = $("#weight-editor");
  we.addEventListener("keydown", (e) => {
    if (e.key === "Enter") commitEdit();
    else if (e.key === "Escape") cancelEdit();
  });
  we.addEventListener("blur", cancelEdit);
}
