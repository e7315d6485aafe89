/* The WebSocket to the server: one JSON message per frame (see mlplab/web/schemas.py). */
import { $, S } from "./util.js";

/** Open the page's WebSocket; ``onMessage(m)`` gets each parsed message, ``onClose()`` runs
 * once when the socket closes. */
export function connect(onMessage, onClose) {
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(proto + location.host + "/ws");
  S.ws = ws;
  ws.onopen = () => setConn("connected", false);
  ws.onclose = () => { setConn("disconnected — reload the page to start again", true); onClose(); };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    onMessage(m);
  };
}
export function setConn(text, bad) { const c = $("#conn"); c.textContent = text; c.classList.toggle("bad", bad); }
/** Send one message if the socket is open (dropped otherwise: the page shows the state). */
export function send(obj) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj));
}
/** Send the page's configuration, at most once per 60 ms of control changes. */
export function sendConfig() {
  clearTimeout(S.sendTimer);
  S.sendTimer = setTimeout(() => send({ type: "config", config: S.config }), 60);
}

