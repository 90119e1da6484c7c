// Kiosk page, shared pieces: element helpers, posting actions, messages, the numeric keypad.
"use strict";
const K = {state: null, ui: {signinDone: false, addPerson: false, pickLine: false, closing: false}};
const $ = (id) => document.getElementById(id);
// This boot's token, put into the page by the station; every change sends it back.
K.TOKEN = document.querySelector('meta[name="kiosk-token"]').content;
K.UNIT = {g: "克", kg: "公斤", jin: "斤", piece: "件", box: "箱", bag: "袋", bottle: "瓶"};
K.STATUS = {pending: "待验收", accepted: "已验收", rejected: "已拒收"};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// True when ``box`` already shows what ``data`` describes. Lists are rebuilt only when their
// data changed: a button replaced under a gloved finger (the stream's heartbeat re-renders
// every second) would lose the tap.
function unchanged(box, data) {
  const key = JSON.stringify(data);
  if (box.dataset.shown === key) return true;
  box.dataset.shown = key;
  return false;
}

// A message over the current screen (under the header), never over the result's reasons.
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

// Snapshots can arrive out of order (a stream message overtaken by a POST's answer): within
// one server boot, one older than the newest shown is dropped, so the screen never flips back.
K.accept = function accept(s, rev) {
  if (rev && K.rev && rev.boot === K.rev.boot && rev.version < K.rev.version) return;
  if (rev) K.rev = rev;
  K.render(s);
};

async function post(path, body, method) {
  let r;
  try {
    r = await fetch(path, {method: method || "POST",
                           headers: {"Content-Type": "application/json", "X-Kiosk-Token": K.TOKEN},
                           body: method === "DELETE" ? undefined : JSON.stringify(body || {})});
  } catch (e) {
    toast("无法连接验收站，请稍候重试");
    return {};
  }
  let data = {};
  try { data = await r.json(); } catch (e) { data = {}; }
  if (!r.ok) toast(data.message || "请求无效（" + r.status + "）");
  if (r.status === 403 && data.error === "KIOSK_TOKEN") {
    setTimeout(() => location.reload(), 1500);  // the station restarted: a new token
  }
  if (data.state) K.accept(data.state, data.rev);
  return data;
}

// The on-screen keypad: open({title, allowMinus, allowDot, secret, value}, onOk).
const keypad = {value: "", spec: null, onOk: null};
function keypadShow() {
  const v = keypad.value;
  $("keypad-display").textContent = keypad.spec.secret ? "●".repeat(v.length) : (v || " ");
}
function keypadOpen(spec, onOk) {
  keypad.spec = spec;
  keypad.onOk = onOk;
  keypad.value = spec.value || "";
  $("keypad-title").textContent = spec.title;
  $("key-minus").disabled = !spec.allowMinus;
  $("key-dot").disabled = !spec.allowDot;
  keypadShow();
  $("keypad").hidden = false;
}
function keypadClose() {
  $("keypad").hidden = true;
  keypad.onOk = null;
}
for (const b of document.querySelectorAll("#keypad [data-key]")) {
  b.onclick = () => {
    const k = b.dataset.key;
    let v = keypad.value;
    if (k === "-") v = v.startsWith("-") ? v.slice(1) : "-" + v;
    else if (k === "." && v.includes(".")) return;
    else if (v.length < (keypad.spec.max || 8)) v += k;
    keypad.value = v;
    keypadShow();
  };
}
$("keypad-back").onclick = () => { keypad.value = keypad.value.slice(0, -1); keypadShow(); };
$("keypad-cancel").onclick = keypadClose;
$("keypad-ok").onclick = () => {
  const v = keypad.value;
  const ok = keypad.onOk;
  keypadClose();
  if (ok && v !== "" && v !== "-") ok(v);
};
