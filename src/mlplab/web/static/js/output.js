/* The output view: the network's decision map (or 1-D curve) with the data points and its
 * legend. */
import { $, b64bytes, diverging, fmt, mix, PALETTE, PALETTE_RGB, rgb, S, setupCanvas, WHITE } from "./util.js";
import { send } from "./socket.js";

export function onMapClick(ev) {
  if (!S.state) return;
  const r = ev.currentTarget.getBoundingClientRect();
  const E = S.state.extent, M = mapGeom();
  const x = -E + ((ev.clientX - r.left - M.x0) / M.s) * 2 * E;
  const y = E - ((ev.clientY - r.top - M.y0) / M.s) * 2 * E;
  send({ type: "probe", x, y: S.state.dim === 1 ? 0 : y });
}

export function mapGeom() { const cv = $("#out-map"); const pad = 18; return { x0: pad, y0: 4, s: Math.min(cv.clientWidth, cv.clientHeight) - pad - 6 }; }
export function outputImage() {
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
export function pointColor(y) {
  const st = S.state;
  if (st.task === "regression") {
    const [lo, hi] = st.y_range;
    return rgb(diverging(2 * (y - lo) / (hi - lo) - 1));
  }
  return PALETTE[y % PALETTE.length];
}
export function drawOutput() {
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
export function axes(ctx, M, E, twoD) {
  ctx.fillStyle = "#777"; ctx.font = "10px sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (let v = -E; v <= E + 1e-9; v += E / 2) {
    const px = M.x0 + (v + E) / (2 * E) * M.s;
    ctx.fillText(String(v), px, M.y0 + M.s + 2);
    if (twoD) { ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillText(String(v), M.x0 - 3, M.y0 + (E - v) / (2 * E) * M.s); ctx.textAlign = "center"; ctx.textBaseline = "top"; }
  }
}
export function drawCurve(ctx, M, X) {
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
export function drawLegend() {
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


/** A click on the output map probes the nearest data point. */
export function bindOutput() {
  $("#out-map").addEventListener("click", onMapClick);
}
