/* The panels around the network: loss, accuracy and gradient charts, the confusion matrix,
 * the backward view (probe), the doctor's findings, notices and toasts. */
import { $, el, fmt, LAYER_COLORS, S, setupCanvas } from "./util.js";

let toastTimer = null;
export function showToast(text, info) {
  const t = $("#toast");
  t.textContent = text;
  t.classList.toggle("info", !!info);
  t.classList.remove("hidden");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.add("hidden"), 6000);
}
export function addNotice(text) {
  const li = el("li", {}, text);
  const ul = $("#notices");
  ul.insertBefore(li, ul.firstChild);
  while (ul.children.length > 30) ul.removeChild(ul.lastChild);
}
export function lineChart(cv, series, opts) {
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
export function drawCharts() {
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

export function drawConfusion() {
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
export function drawProbe() {
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
export function drawDoctor() {
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

