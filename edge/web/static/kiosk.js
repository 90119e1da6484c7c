// Kiosk page: picks the screen for the snapshot pushed over /api/stream and posts staff actions.
// Pieces: kiosk-core.js (helpers, keypad), kiosk-sound.js (the result), kiosk-screens.js,
// kiosk-close.js (dispositions, closing).
"use strict";
const SCREENS = ["signin", "orders", "lines", "weigh", "close"];

// One task per screen: who is signing in, which delivery, which item, weighing, closing.
function screenOf(s) {
  const people = s.inspectors.length;
  if (K.ui.addPerson !== false && people > K.ui.addPerson) K.ui.addPerson = false;
  if (K.ui.addPerson !== false) return "signin";
  if (!s.delivery) return people >= 2 || (people && K.ui.signinDone) ? "orders" : "signin";
  if (K.ui.closing) return "close";
  const p = s.placement;
  return !K.ui.pickLine && (p.line_id || p.gtin || p.item_code) ? "weigh" : "lines";
}

K.render = function render(s) {
  K.state = s;
  const screen = screenOf(s);
  K.screen = screen;
  for (const name of SCREENS) $("screen-" + name).hidden = name !== screen;
  renderInspectors(s);
  renderDevices(s.devices);
  $("fault").hidden = !s.fault;
  $("fault").textContent = s.fault ? s.fault.message : "";
  const w = s.weight;
  const scale = s.scale || {connected: false, fresh: false};
  $("scale-lost").hidden = scale.connected && (scale.fresh || !w);
  $("scale-lost-detail").textContent = scale.connected ? "秤无新数据，请检查秤" : "请检查秤的连接线，恢复前不能验收";
  // A refusal from any source (a scan, a badge, another tab) shows here too, once.
  const n = s.notice;
  if (n && K.notice !== undefined && n.id !== K.notice) toast(n.message);
  K.notice = n ? n.id : (K.notice || 0);
  if (screen === "signin") renderSignin(s);
  if (screen === "orders") renderOrders(s);
  if (screen === "lines") renderLines(s);
  if (screen === "close") renderClose(s);
  renderWeigh(s);
  renderResult(s);
  cameraWanted(screen === "weigh" && !!(s.devices.camera && s.devices.camera.ok));
};

$("add-person").onclick = () => { K.ui.addPerson = K.state.inspectors.length; K.render(K.state); };
$("signin-done").onclick = () => { K.ui.signinDone = true; K.ui.addPerson = false; K.render(K.state); };
$("pick-line").onclick = () => { K.ui.pickLine = true; K.render(K.state); };
$("tare").onclick = () => post("/api/scale/tare");
$("confirm").onclick = async () => {
  const pid = $("confirm").dataset.placement;
  const p = K.state.placement;
  const line = currentLine(K.state);
  // Counted goods: the count suggested from the weight is taken unless staff changed it.
  if (line && !$("pieces-row").hidden && p.pieces === null && p.suggested_pieces) {
    const r = await post("/api/placement/pieces", {pieces: p.suggested_pieces});
    if (!r.state) return;
  }
  post("/api/confirm", {placement_id: pid});
};
$("temperature").onclick = () => keypadOpen({title: "温度 ℃", allowMinus: true, allowDot: true, max: 6}, (v) => {
  if (!/^-?\d{1,3}(\.\d{1,2})?$/.test(v)) { toast("温度格式不对：最多两位小数"); return; }
  post("/api/placement/temperature", {temperature_c: v});
});
function piecesNow() {
  const p = K.state.placement;
  return p.pieces !== null ? p.pieces : (p.suggested_pieces || 0);
}
$("pieces").onclick = () => keypadOpen({title: "件数", max: 5}, (v) => post("/api/placement/pieces", {pieces: Number(v)}));
$("pieces-plus").onclick = () => post("/api/placement/pieces", {pieces: piecesNow() + 1});
$("pieces-minus").onclick = () => post("/api/placement/pieces", {pieces: Math.max(0, piecesNow() - 1)});
$("partial").onclick = () => post("/api/placement/partial", {partial: !K.state.placement.partial});
$("rapid-pct").onclick = () => keypadOpen({title: "农残快检 抑制率 %", allowDot: true, max: 6}, (v) => {
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(v)) { toast("抑制率格式不对"); return; }
  const line = currentLine(K.state);
  post("/api/placement/rapid-test", {inhibition_pct: v, sample: line ? line.item : "",
                                     operator: K.state.signed_in.map((x) => x.name).join("、").slice(0, 32)});
});

// Camera preview: the newest frame with detected codes outlined, while the weigh screen shows.
const cam = {on: false, timer: null};
function cameraWanted(on) {
  $("camera-off").hidden = on;
  if (!on) $("camera").hidden = true;
  if (on === cam.on) return;
  cam.on = on;
  clearTimeout(cam.timer);
  if (on) refreshCamera();
}
function refreshCamera() {
  if (!cam.on) return;
  const img = $("camera");
  const next = new Image();
  next.onload = () => { img.src = next.src; img.hidden = false; cam.timer = setTimeout(refreshCamera, 300); };
  next.onerror = () => { img.hidden = true; $("camera-off").hidden = false; cam.timer = setTimeout(refreshCamera, 2000); };
  next.src = "/api/camera.jpg?t=" + Date.now();
}

function connect() {
  const es = new EventSource("/api/stream");
  es.onmessage = (m) => { const s = JSON.parse(m.data); K.accept(s, s.rev); };
  es.onerror = () => { es.close(); setTimeout(connect, 2000); };
}
fetch("/api/state").then((r) => r.json()).then((s) => K.accept(s, null));
connect();
