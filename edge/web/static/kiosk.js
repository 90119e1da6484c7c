// Kiosk page: renders the snapshot pushed over /api/stream and posts staff actions.
"use strict";
const $ = (id) => document.getElementById(id);
let state = null;

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body || {})});
  let data = {};
  try { data = await r.json(); } catch (e) { data = {}; }
  if (!r.ok) {
    toast(data.message || "请求无效（" + r.status + "）");
  }
  if (data.state) render(data.state);
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const UNIT = {g: "克", kg: "公斤", jin: "斤", piece: "件", box: "箱", bag: "袋", bottle: "瓶"};
const STATUS = {pending: "待验收", accepted: "已验收", rejected: "已拒收"};
const DEVICE = {scale: "秤", camera: "摄像头", sync: "同步", thermometer: "温度计"};

function renderDevices(devices) {
  const box = $("devices");
  box.replaceChildren();
  for (const [name, info] of Object.entries(devices || {})) {
    const ok = info.ok !== false;
    const chip = el("span", (DEVICE[name] || name) + (info.text ? "：" + info.text : ""),
                    "chip" + (ok ? "" : " bad"));
    chip.dataset.device = name;
    box.append(chip);
  }
}

function renderInspectors(people) {
  const box = $("inspectors");
  box.replaceChildren(el("span", people.length ? "验收人：" : "未签到"));
  for (const p of people) {
    const chip = el("span", p.name, "person");
    chip.dataset.inspector = p.inspector_id;
    const out = el("button", "退出");
    out.onclick = () => fetch("/api/inspectors/" + encodeURIComponent(p.inspector_id), {method: "DELETE"})
      .then((r) => r.json()).then((d) => { if (d.message) toast(d.message); if (d.state) render(d.state); });
    chip.append(out);
    box.append(chip);
  }
}

function render(s) {
  state = s;
  renderInspectors(s.signed_in || []);
  renderDevices(s.devices);
  const d = s.delivery;
  const closed = s.closed;
  $("closed").hidden = !!d || !closed;
  if (closed && !d) {
    const missing = closed.lines_not_delivered || [];
    $("closed-title").textContent = "上一单 " + closed.order_id + " 已结束：验收 " +
      closed.lines_accepted.length + " 项，未送达 " + missing.length + " 项";
    const ul = $("closed-missing");
    ul.replaceChildren();
    for (const m of missing) ul.append(el("li", "第 " + m.line_id + " 行 " + m.item + "（订购 " +
                                             m.ordered.value + " " + (UNIT[m.ordered.unit] || m.ordered.unit) + "）"));
  }
  $("orders").hidden = !!d;
  $("delivery").hidden = !d;
  const list = $("order-list");
  list.replaceChildren();
  for (const o of s.orders) {
    const b = el("button", o.supplier + "　" + o.order_id + "　送货时段 " + o.window + "　" + o.lines + " 项");
    b.dataset.order = o.order_id;
    b.onclick = () => post("/api/deliveries", {order_id: o.order_id});
    const li = el("li");
    li.append(b);
    list.append(li);
  }
  const body = document.querySelector("#lines tbody");
  body.replaceChildren();
  let selected = null;
  if (d) {
    $("delivery-title").textContent = d.supplier + "　" + d.order_id;
    for (const ln of d.lines) {
      const tr = el("tr");
      tr.dataset.line = ln.line_id;
      if (ln.line_id === s.placement.line_id) { tr.className = "selected"; selected = ln; }
      tr.append(el("td", ln.line_id), el("td", ln.item + (ln.needs_temperature ? "（" + ln.storage + "）" : "")),
                el("td", ln.ordered), el("td", ln.received),
                el("td", STATUS[ln.status], "status-" + ln.status));
      tr.onclick = () => post("/api/placement/line", {line_id: ln.line_id});
      body.append(tr);
    }
  }
  const w = s.weight;
  const scale = s.scale || {connected: false, fresh: false};
  // A weight is evidence only while fresh from a connected scale: greyed otherwise.
  $("weight").textContent = w ? w.text : "— 斤";
  $("weight").className = "weight" + (w && !w.fresh ? " stale" : "");
  $("stable").textContent = !w ? "等待称重" : (!w.fresh ? "无有效读数" : (w.stable ? "● 稳定" : "○ 称重中…"));
  $("stable").className = "stable" + (w && w.stable ? " ok" : "");
  $("scale-lost").hidden = scale.connected && (scale.fresh || !w);
  $("scale-lost-detail").textContent = scale.connected ? "秤无新数据，请检查秤" : "请检查秤的连接线，恢复前不能验收";
  const p = s.placement;
  $("placement-line").textContent = selected ? "第 " + selected.line_id + " 行：" + selected.item + "　订购 " + selected.ordered
    : (p.gtin ? "条码 " + p.gtin : "请扫码或点选订单行");
  if (document.activeElement !== $("temperature")) $("temperature").value = p.temperature_c || "";
  const src = p.temperature_c ? p.temperature_source : null;
  $("temp-source").textContent = src === "probe" ? "探针测得" : (src === "typed" ? "手工输入" : "");
  $("temp-source").className = "source" + (src === "typed" ? " typed" : "");
  const trace = p.trace_codes || [];
  $("trace").hidden = !trace.length;
  $("trace").textContent = "追溯码 " + trace.length + " 个（不作为货品识别）";
  if (document.activeElement !== $("pieces")) $("pieces").value = p.pieces === null ? "" : p.pieces;
  $("partial").checked = p.partial;
  $("confirm").disabled = !d || s.pending || p.decided;
  $("confirm").dataset.placement = p.placement_id;
  const last = s.last;
  const box = $("decision");
  if (last && p.decided) {
    box.hidden = false;
    box.className = "decision " + last.outcome;
    $("decision-title").textContent = last.outcome === "accepted"
      ? "合格　已验收：" + (last.item || "") : "不合格　请退货：" + (last.item || "");
    const ul = $("decision-reasons");
    ul.replaceChildren();
    if (last.retest_of) ul.append(el("li", "复验：关联此前拒收记录 #" + last.retest_of.seq, "warn"));
    for (const c of last.checks) {
      if (c.result === "fail") ul.append(el("li", c.detail));
    }
    for (const c of last.checks) {
      if (c.result === "warn") ul.append(el("li", "提示：" + c.detail, "warn"));
    }
  } else {
    box.hidden = true;
  }
}

$("signin-form").onsubmit = (ev) => {
  ev.preventDefault();
  const id = $("inspector-id").value.trim();
  const pin = $("inspector-pin").value.trim();
  if (!id) return;
  post("/api/inspectors", pin ? {inspector_id: id, pin: pin} : {inspector_id: id})
    .then(() => { $("inspector-id").value = ""; $("inspector-pin").value = ""; });
};
$("close-delivery").onclick = () => post("/api/deliveries/current/close");
$("tare").onclick = () => post("/api/scale/tare");
$("confirm").onclick = () => post("/api/confirm", {placement_id: $("confirm").dataset.placement});
$("temperature").onchange = () => {
  const v = $("temperature").value.trim();
  if (v) post("/api/placement/temperature", {temperature_c: v});
};
$("pieces").onchange = () => {
  const v = $("pieces").value.trim();
  if (v) post("/api/placement/pieces", {pieces: Number(v)});
};
$("partial").onchange = () => post("/api/placement/partial", {partial: $("partial").checked});

// Camera preview: the newest frame with detected codes outlined, a few times a second.
function refreshCamera() {
  const img = $("camera");
  const next = new Image();
  next.onload = () => { img.src = next.src; img.hidden = false; $("camera-off").hidden = true;
                        setTimeout(refreshCamera, 300); };
  next.onerror = () => { img.hidden = true; $("camera-off").hidden = false;
                         setTimeout(refreshCamera, 2000); };
  next.src = "/api/camera.jpg?t=" + Date.now();
}
refreshCamera();

function connect() {
  const es = new EventSource("/api/stream");
  es.onmessage = (m) => render(JSON.parse(m.data));
  es.onerror = () => { es.close(); setTimeout(connect, 2000); };
}
fetch("/api/state").then((r) => r.json()).then(render);
connect();
