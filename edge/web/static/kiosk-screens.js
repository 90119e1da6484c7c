// The kiosk's screens, one task each: sign in, open a delivery, pick an item, weigh and confirm.
"use strict";
const DEVICE = {scale: "秤", camera: "摄像头", sync: "同步", thermometer: "温度计", disk: "磁盘",
                video: "录像"};
const SCANNER_STATE = {running: "正常", starting: "启动中", lost: "未连接", stopped: "已停止",
                       error: "故障", reconnecting: "重连中"};

function deviceLabel(name, info) {
  if (name.startsWith("scanner:")) {
    return "扫码枪：" + (SCANNER_STATE[info.text] || (info.ok === false ? "故障" : "正常"));
  }
  return (DEVICE[name] || "设备") + (info.text ? "：" + info.text : "");
}

function renderDevices(devices) {
  const box = $("devices");
  if (unchanged(box, devices)) return;
  box.replaceChildren();
  for (const [name, info] of Object.entries(devices || {})) {
    const ok = info.ok !== false;
    const chip = el("span", deviceLabel(name, info),
                    "chip" + (ok ? "" : (info.state === "reconnecting" ? " warn" : " bad")));
    chip.dataset.device = name;
    if (info.state) chip.dataset.state = info.state;
    box.append(chip);
  }
}

function renderInspectors(s) {
  const people = s.signed_in || [];
  const box = $("inspectors");
  $("add-person").hidden = !!s.delivery || people.length >= (s.roster || []).length ||
    K.screen === "signin";
  if (unchanged(box, people)) return;
  box.replaceChildren(el("span", people.length ? "验收人：" : "未签到"));
  for (const p of people) {
    const chip = el("span", p.name, "person");
    chip.dataset.inspector = p.inspector_id;
    const out = el("button", "退出");
    out.setAttribute("aria-label", p.name + " 退出");
    out.onclick = () => post("/api/inspectors/" + encodeURIComponent(p.inspector_id), null, "DELETE");
    chip.append(out);
    box.append(chip);
  }
}

function renderSignin(s) {
  const box = $("roster");
  $("roster-empty").hidden = (s.roster || []).length > 0;
  $("signin-done").hidden = !s.inspectors.length;
  $("signin-done").textContent = s.inspectors.length >= 2 ? "开始验收" : "仅一人，继续（拒收须两人验收）";
  if (unchanged(box, [s.roster, s.inspectors])) return;
  box.replaceChildren();
  const inside = new Set(s.inspectors);
  for (const m of s.roster || []) {
    const b = el("button", null, "card person-card" + (inside.has(m.inspector_id) ? " done" : ""));
    b.append(el("span", m.name, "card-title"), el("span", inside.has(m.inspector_id) ? "已签到" : m.role, "card-sub"));
    b.dataset.inspector = m.inspector_id;
    b.disabled = inside.has(m.inspector_id);
    b.onclick = () => keypadOpen({title: m.name + "：请输入 PIN", secret: true, max: 12}, (pin) =>
      post("/api/inspectors", {inspector_id: m.inspector_id, pin: pin}));
    box.append(b);
  }
}

function renderOrders(s) {
  const list = $("order-list");
  if (!unchanged(list, s.orders)) list.replaceChildren();
  for (const o of list.childElementCount ? [] : s.orders) {
    const b = el("button", null, "card" + (o.closed ? " done" : ""));
    b.append(el("span", o.supplier, "card-title"),
             el("span", (o.closed ? "已结束　" : "") + "送货 " + o.window + "　" + o.lines + " 项", "card-sub"));
    b.dataset.order = o.order_id;
    b.onclick = () => {
      K.ui.pickLine = false;
      K.ui.closing = false;
      post("/api/deliveries", {order_id: o.order_id});
    };
    const li = el("li");
    li.append(b);
    list.append(li);
  }
  const sum = s.summary;
  $("closed").hidden = !sum;
  if (!sum) return;
  $("closed-title").textContent = "已结束：" + sum.supplier + "　验收 " + sum.accepted.length +
    " 项，拒收 " + sum.rejected.length + " 项，未送达 " + sum.not_delivered.length + " 项";
  const fill = (id, items, text) => {
    const ul = $(id);
    ul.replaceChildren();
    for (const it of items) ul.append(el("li", text(it)));
    if (!items.length) ul.append(el("li", "无"));
  };
  fill("closed-accepted", sum.accepted, (a) => a.item);
  fill("closed-rejected", sum.rejected, (r) => r.item + "：" + r.disposition);
  fill("closed-missing", sum.not_delivered, (m) => m.item + "（订购 " + m.ordered + "）");
  $("return-slip").hidden = false;
  $("return-slip").href = "/api/deliveries/" + encodeURIComponent(sum.delivery_id) + "/return-slip";
}

function renderLines(s) {
  const d = s.delivery;
  $("delivery-title").textContent = d.supplier;
  const open = $("lines");
  const done = $("lines-done");
  const w = s.weight;
  $("mini-weight").textContent = w ? "秤上 " + w.text : "";
  if (unchanged(open, d.lines)) return;
  open.replaceChildren();
  done.replaceChildren();
  for (const ln of d.lines) {
    const b = el("button", null, "tile status-" + ln.status);
    b.dataset.line = ln.line_id;
    b.append(el("span", ln.item, "tile-title"),
             el("span", "订购 " + ln.ordered + (ln.needs_temperature ? "　" + ln.storage : ""), "tile-sub"),
             el("span", K.STATUS[ln.status] + (ln.status !== "pending" ? "　实收 " + ln.received : ""),
                "tile-status"));
    b.onclick = () => { K.ui.pickLine = false; post("/api/placement/line", {line_id: ln.line_id}); };
    (ln.status === "accepted" ? done : open).append(b);
  }
}

// The line of the item on the pan (tapped, or found by its code), or null.
function currentLine(s) {
  const id = s.placement.resolved_line_id;
  return s.delivery && id ? s.delivery.lines.find((l) => l.line_id === id) || null : null;
}

function renderWeigh(s) {
  const p = s.placement;
  const line = currentLine(s);
  const w = s.weight;
  const scale = s.scale || {connected: false, fresh: false};
  const pl = $("placement-line");
  pl.dataset.gtin = p.gtin || "";
  pl.replaceChildren();
  if (line) {
    pl.append(el("span", line.item, "item-name"), el("span", "订购 " + line.ordered + "　已收 " + line.received, "item-sub"));
  } else {
    pl.append(el("span", "不在订单上的货品", "item-name"), el("span", "确认后记为拒收", "item-sub"));
  }
  // A weight is evidence only while fresh from a connected scale: greyed otherwise.
  $("weight").textContent = w ? w.text : "—";
  $("weight").className = "weight" + (w && !w.fresh ? " stale" : "");
  $("stable").textContent = !w ? "等待称重" : (!w.fresh ? "无有效读数，不能验收" : (w.stable ? "● 稳定" : "○ 称重中…"));
  $("stable").className = "stable" + (w && w.stable ? " ok" : "");
  renderBand(line, w);
  const temp = !!(line && line.needs_temperature);
  $("temp-row").hidden = !temp;
  $("temperature").textContent = p.temperature_c ? p.temperature_c + " ℃" : "点此输入";
  const src = p.temperature_c ? p.temperature_source : null;
  $("temp-source").textContent = src === "probe" ? "探针测得" : (src === "typed" ? "手工输入" : (line && line.temp_limit) || "");
  $("temp-source").className = "source" + (src === "typed" ? " typed" : "");
  const counted = !!(line && line.unit && !["g", "kg", "jin"].includes(line.unit));
  $("pieces-row").hidden = !counted;
  const shown = p.pieces !== null ? p.pieces : p.suggested_pieces;
  $("pieces").textContent = shown === null || shown === undefined ? "点此输入"
    : shown + " " + (K.UNIT[line ? line.unit : ""] || "件") + (p.pieces === null ? "（按重量估算）" : "");
  $("partial").setAttribute("aria-pressed", String(!!p.partial));
  $("partial").classList.toggle("on", !!p.partial);
  const trace = p.trace_codes || [];
  $("trace").hidden = !trace.length;
  $("trace").textContent = "追溯码 " + trace.length + " 个（不作为货品识别）";
  const blocked = !s.delivery || s.pending || p.decided || !scale.connected || (w && !w.fresh);
  $("confirm").disabled = !!blocked;
  $("confirm").dataset.placement = p.placement_id;
  renderChecks(line, p);
}

// The min–max bar: where the weight on the pan sits in the range this line may take.
function renderBand(line, w) {
  const band = line && line.band;
  $("band").hidden = !band;
  if (!band) return;
  $("band-text").textContent = band.text;
  const hi = Math.max(band.max_g * 1.25, 1);
  $("band-ok").style.left = (100 * band.min_g / hi) + "%";
  $("band-ok").style.width = (100 * (band.max_g - band.min_g) / hi) + "%";
  const g = w && w.fresh ? w.net_g : null;
  $("band-mark").hidden = g === null;
  if (g !== null) $("band-mark").style.left = Math.min(100, Math.max(0, 100 * g / hi)) + "%";
  $("band").className = "band" + (g === null ? "" : (g > band.max_g ? " over" : (g < band.min_g ? " under" : " in")));
}

// Documents photographed, the sensory checklist and the rapid test of the selected line.
function renderChecks(line, p) {
  const needs = line ? line.documents : [];
  $("documents").hidden = !needs.length;
  const box = $("document-buttons");
  const have = new Set((p.documents || []).map((x) => x.kind));
  if (!unchanged(box, [needs, [...have]])) box.replaceChildren();
  for (const alternatives of box.childElementCount ? [] : needs) {
    for (const k of alternatives) {
      const b = el("button", (have.has(k.kind) ? "✓ " : "拍照：") + k.label, have.has(k.kind) ? "done" : "");
      b.dataset.kind = k.kind;
      b.onclick = () => post("/api/placement/document", {kind: k.kind});
      box.append(b);
    }
  }
  const items = line ? line.sensory : [];
  $("sensory").hidden = !items.length;
  const ul = $("sensory-items");
  if (!unchanged(ul, [items, p.sensory])) ul.replaceChildren();
  for (const it of ul.childElementCount ? [] : items) {
    const li = el("li", it.label);
    li.dataset.item = it.key;
    for (const [text, found] of [["无", false], ["有", true]]) {
      const b = el("button", text);
      const on = (p.sensory || {})[it.key] === (found ? "found" : "ok");
      b.className = (on ? "on " : "") + (found ? "found" : "ok");
      b.dataset.found = String(found);
      b.setAttribute("aria-label", it.label + "：" + text);
      b.setAttribute("aria-pressed", String(on));
      b.onclick = () => post("/api/placement/sensory", {found: {[it.key]: found}});
      li.append(b);
    }
    ul.append(li);
  }
  // One tap answers every item "无" (nothing found); a problem is still one tap on its "有".
  $("sensory-all-ok").onclick = () => post("/api/placement/sensory", {
    found: Object.fromEntries(items.map((it) => [it.key, false]))});
  $("rapid").hidden = !(line && line.rapid_test);
  document.querySelector(".weigh-side").classList.toggle(
    "checks", !!(needs.length || items.length || (line && line.rapid_test)));
  const t = p.rapid_test;
  $("rapid-result").textContent = t ? (t.inhibition_pct !== null ? "已记录 " + t.inhibition_pct + "%"
                                                                  : (t.passed ? "已记录 合格" : "已记录 不合格"))
                                       + (t.source === "instrument" ? "（快检仪）" : "（手工输入）") : "";
}
