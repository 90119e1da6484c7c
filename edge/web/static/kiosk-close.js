// Closing a delivery: every rejection disposed of (the driver signs or gives his card), then a
// summary to confirm: accepted, rejected, not delivered.
"use strict";
let disposing = null;

function renderClose(s) {
  const d = s.delivery;
  const count = (st) => d.lines.filter((l) => l.status === st).length;
  $("close-title").textContent = "结束本单：" + d.supplier;
  $("close-counts").textContent = "已验收 " + count("accepted") + " 项，拒收 " + count("rejected") +
    " 项，未送达 " + count("pending") + " 项";
  const list = d.rejections;
  const ul = $("rejection-list");
  if (!unchanged(ul, list)) ul.replaceChildren();
  for (const r of ul.childElementCount ? [] : list) {
    const li = el("li", r.item + "：" + r.reasons.join("、") + "　");
    li.dataset.seq = r.seq;
    if (r.disposition) {
      li.append(el("b", r.disposition + "（已确认）"));
    } else {
      const b = el("button", "处置");
      b.setAttribute("aria-label", "处置 " + r.item);
      b.onclick = () => openDispose(r);
      li.append(b);
    }
    ul.append(li);
  }
  if (!list.length && !ul.childElementCount) ul.append(el("li", "本单没有拒收货品"));
  if (disposing && !list.some((r) => r.seq === disposing.seq && !r.disposition)) closeDispose();
  const waiting = list.filter((r) => !r.disposition).length;
  $("close-confirm").disabled = waiting > 0 || s.pending;
  $("close-confirm").textContent = waiting ? "还有 " + waiting + " 件拒收货品待处置" : "确认结束本单";
}

function openDispose(r) {
  disposing = {seq: r.seq, disposition: null};
  $("dispose").hidden = false;
  $("screen-close").classList.add("disposing");  // one task: the driver's acknowledgement
  $("dispose-title").textContent = r.item + "：选择处置方式，司机签名或刷卡";
  for (const b of document.querySelectorAll("#dispose .choices button")) b.classList.remove("on");
  clearSignature();
}

function closeDispose() {
  disposing = null;
  $("dispose").hidden = true;
  $("screen-close").classList.remove("disposing");
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

for (const b of document.querySelectorAll("#dispose .choices button")) {
  b.onclick = () => {
    if (!disposing) return;
    disposing.disposition = b.dataset.disposition;
    for (const o of document.querySelectorAll("#dispose .choices button")) {
      o.classList.toggle("on", o === b);
      o.setAttribute("aria-pressed", String(o === b));
    }
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
$("dispose-cancel").onclick = closeDispose;
$("dispose-confirm").onclick = () => {
  if (!disposing) return;
  if (!disposing.disposition) { toast("请选择处置方式"); return; }
  const badge = $("driver-badge").value.trim();
  if (!badge && !sig.drawn) { toast("请司机签名或刷卡"); return; }
  const body = {disposition: disposing.disposition};
  if (badge) body.driver_badge = badge;
  else body.signature_png = $("signature").toDataURL("image/png").split(",")[1];
  post("/api/rejections/" + disposing.seq + "/disposition", body);
};
$("close-delivery").onclick = () => { K.ui.closing = true; K.render(K.state); };
$("close-back").onclick = () => { K.ui.closing = false; closeDispose(); K.render(K.state); };
$("close-confirm").onclick = () => post("/api/deliveries/current/close");
