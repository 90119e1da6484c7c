// Kiosk page: renders the snapshot pushed over /api/stream and posts staff actions.
"use strict";
const $ = (id) => document.getElementById(id);
let state = null;
// This boot's token, put into the page by the station; every change sends it back.
const TOKEN = document.querySelector('meta[name="kiosk-token"]').content;

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function post(path, body, method) {
  const r = await fetch(path, {method: method || "POST",
                               headers: {"Content-Type": "application/json", "X-Kiosk-Token": TOKEN},
                               body: method === "DELETE" ? undefined : JSON.stringify(body || {})});
  let data = {};
  try { data = await r.json(); } catch (e) { data = {}; }
  if (!r.ok) {
    toast(data.message || "请求无效（" + r.status + "）");
  }
  if (r.status === 403 && data.error === "KIOSK_TOKEN") {
    setTimeout(() => location.reload(), 1500);  // the station restarted: a new token
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
const DEVICE = {scale: "秤", camera: "摄像头", sync: "同步", thermometer: "温度计", disk: "磁盘"};

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
    out.onclick = () => post("/api/inspectors/" + encodeURIComponent(p.inspector_id), null, "DELETE");
    chip.append(out);
    box.append(chip);
  }
}

// The sensory checklist and the rapid test of the selected line (per category, configured).
function renderChecks(line, p) {
  const needs = line ? line.documents : [];
  $("documents").hidden = !needs.length;
  const box = $("document-buttons");
  box.replaceChildren();
  const have = new Set((p.documents || []).map((x) => x.kind));
  for (const alternatives of needs) {
    for (const k of alternatives) {
      const b = el("button", (have.has(k) ? "✓ " : "拍照：") + k.label, have.has(k) ? "done" : "");
      b.dataset.kind = k.kind;
      b.onclick = () => post("/api/placement/document", {kind: k.kind});
      box.append(b);
    }
  }
  const items = line ? line.sensory : [];
  $("sensory").hidden = !items.length;
  const ul = $("sensory-items");
  ul.replaceChildren();
  for (const it of items) {
    const li = el("li", it.label);
    li.dataset.item = it.key;
    for (const [text, found] of [["无", false], ["有", true]]) {
      const b = el("button", text);
      const answer = (p.sensory || {})[it.key];
      const on = answer === (found ? "found" : "ok");
      b.className = (on ? "on " : "") + (found ? "found" : "ok");
      b.dataset.found = String(found);
      b.onclick = () => post("/api/placement/sensory", {found: {[it.key]: found}});
      li.append(b);
    }
    ul.append(li);
  }
  $("rapid").hidden = !(line && line.rapid_test);
  const t = p.rapid_test;
  $("rapid-result").textContent = t ? (t.inhibition_pct !== null ? "已记录 " + t.inhibition_pct + "%"
                                                                  : (t.passed ? "已记录 合格" : "已记录 不合格"))
                                       + (t.source === "instrument" ? "（快检仪）" : "（手工输入）") : "";
}

// Rejected goods of this delivery: each gets a disposition acknowledged by the driver.
let disposing = null;
function renderRejections(d) {
  const list = d ? d.rejections : [];
  $("rejections").hidden = !list.length;
  const ul = $("rejection-list");
  ul.replaceChildren();
  for (const r of list) {
    const li = el("li", "#" + r.seq + " " + (r.item || "未识别货品") + "：" + r.reasons.join("、") + "　");
    li.dataset.seq = r.seq;
    if (r.disposition) {
      li.append(el("b", r.disposition + "（已确认）"));
    } else {
      const b = el("button", "处置");
      b.onclick = () => openDispose(r);
      li.append(b);
    }
    ul.append(li);
  }
  if (disposing && !list.some((r) => r.seq === disposing.seq && !r.disposition)) closeDispose();
}

function openDispose(r) {
  disposing = {seq: r.seq, disposition: null};
  $("dispose").hidden = false;
  $("dispose-title").textContent = "#" + r.seq + " " + (r.item || "未识别货品") + "：选择处置方式，司机签名或输入卡号";
  for (const b of document.querySelectorAll("#dispose .choices button")) b.classList.remove("on");
  clearSignature();
}

function closeDispose() {
  disposing = null;
  $("dispose").hidden = true;
}

const sig = {drawn: false, last: null};
function clearSignature() {
  const c = $("signature");
  c.getContext("2d").clearRect(0, 0, c.width, c.height);
  sig.drawn = false;
  $("driver-badge").value = "";
}

function sigPoint(ev) {
  const c = $("signature");
  const r = c.getBoundingClientRect();
  return [(ev.clientX - r.left) * c.width / r.width, (ev.clientY - r.top) * c.height / r.height];
}

function render(s) {
  state = s;
  renderInspectors(s.signed_in || []);
  renderDevices(s.devices);
  $("fault").hidden = !s.fault;
  $("fault").textContent = s.fault ? s.fault.message : "";
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
    $("return-slip").hidden = false;
    $("return-slip").href = "/api/deliveries/" + encodeURIComponent(closed.delivery_id) + "/return-slip";
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
      if (ln.line_id === s.placement.line_id) { tr.className = "selected"; }
      if (ln.line_id === s.placement.resolved_line_id) selected = ln;
      tr.append(el("td", ln.line_id), el("td", ln.item + (ln.needs_temperature ? "（" + ln.storage + "）" : "")),
                el("td", ln.ordered), el("td", ln.received),
                el("td", STATUS[ln.status], "status-" + ln.status));
      tr.onclick = () => post("/api/placement/line", {line_id: ln.line_id});
      body.append(tr);
    }
  }
  renderRejections(d);
  renderChecks(selected, s.placement);
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
  $("placement-line").textContent = selected && p.line_id ? "第 " + selected.line_id + " 行：" + selected.item + "　订购 " + selected.ordered
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
for (const b of document.querySelectorAll("#dispose .choices button")) {
  b.onclick = () => {
    if (!disposing) return;
    disposing.disposition = b.dataset.disposition;
    for (const o of document.querySelectorAll("#dispose .choices button")) o.classList.toggle("on", o === b);
  };
}
$("signature").onpointerdown = (ev) => { sig.last = sigPoint(ev); $("signature").setPointerCapture(ev.pointerId); };
$("signature").onpointermove = (ev) => {
  if (!sig.last) return;
  const ctx = $("signature").getContext("2d");
  const p = sigPoint(ev);
  ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
  ctx.beginPath(); ctx.moveTo(sig.last[0], sig.last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
  sig.last = p; sig.drawn = true;
};
$("signature").onpointerup = () => { sig.last = null; };
$("signature-clear").onclick = clearSignature;
$("dispose-confirm").onclick = () => {
  if (!disposing) return;
  if (!disposing.disposition) { toast("请选择处置方式"); return; }
  const badge = $("driver-badge").value.trim();
  if (!badge && !sig.drawn) { toast("请司机签名或输入卡号"); return; }
  const body = {disposition: disposing.disposition};
  if (badge) body.driver_badge = badge;
  else body.signature_png = $("signature").toDataURL("image/png").split(",")[1];
  post("/api/rejections/" + disposing.seq + "/disposition", body);
};
$("rapid-save").onclick = () => {
  const pct = $("rapid-pct").value.trim();
  if (!pct) { toast("请输入抑制率"); return; }
  post("/api/placement/rapid-test", {inhibition_pct: pct, sample: $("rapid-sample").value.trim(),
                                     operator: $("rapid-operator").value.trim()});
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
