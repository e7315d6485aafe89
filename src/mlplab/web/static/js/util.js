/* Shared page state, colours and small helpers (no DOM beyond what is passed in). */

export const ORANGE = [245, 147, 34];
export const BLUE = [8, 119, 189];
export const WHITE = [232, 234, 235];
export const PALETTE = ["#f59322", "#0877bd", "#2ca02c", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2"];
export const PALETTE_RGB = PALETTE.map(hexRgb);
export const LAYER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99"];
export const S = {
  ws: null, hello: null, limits: null, options: null, defaults: null,
  config: null, state: null, frame: null, history: [], playing: false,
  layout: null, hover: null, editing: null, sendTimer: null, probe: null,
  mapCache: new Map(),
};
export const $ = (sel) => document.querySelector(sel);

function hexRgb(h) { return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); }
export function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }
export function rgb(c, a) { return a === undefined ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${a})`; }
/** TF Playground's diverging scale: −1 orange, 0 light grey, +1 blue. */
export function diverging(v) {
  v = Math.max(-1, Math.min(1, v));
  return v < 0 ? mix(WHITE, ORANGE, -v) : mix(WHITE, BLUE, v);
}
/** The diverging scale for the 256 values of a uint8 map (q ↦ v = q/127.5 − 1). */
export const LUT = (() => {
  const t = new Uint8Array(256 * 3);
  for (let q = 0; q < 256; q++) t.set(diverging(q / 127.5 - 1), 3 * q);
  return t;
})();
export function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
export function b64floats(s) { return new Float32Array(b64bytes(s).buffer); }
export function bytesB64(buf) {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
export function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  digits = digits === undefined ? 3 : digits;
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toFixed(digits);
}
export function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
export function setupCanvas(cv, w, h) {
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
export function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export function fillSelect(sel, values, labels) {
  sel.innerHTML = "";
  values.forEach((v, i) => sel.appendChild(el("option", { value: v }, labels ? labels[i] : v)));
}
