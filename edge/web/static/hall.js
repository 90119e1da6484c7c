// The hall display: plays today's clips newest first, in a loop, with a caption
// panel, a QR code per record, and today's menu. It never stops on its own: a
// failed fetch keeps the last list and retries; a clip that errors or stalls
// is skipped.
"use strict";
(function () {
  // ?refresh_s=N shortens the list refresh (tests); errors retry after a sixth of it.
  const q = Number(new URLSearchParams(location.search).get("refresh_s")) || 30;
  const REFRESH_MS = q * 1000, RETRY_MS = Math.max(1000, REFRESH_MS / 6), STALL_MS = 20000;
  const video = document.getElementById("clip");
  const $ = (id) => document.getElementById(id);
  let clips = [];          // newest first
  let current = null;      // clip_id playing
  let lastTime = -1, lastMove = Date.now();

  function text(id, v) { $(id).textContent = v == null || v === "" ? "—" : v; }

  function showCaption(c) {
    const o = $("outcome");
    o.textContent = c.outcome_text;
    o.className = c.outcome;
    text("c-time", c.time); text("c-supplier", c.supplier); text("c-item", c.item);
    text("c-weight", c.weight); text("c-inspectors", (c.inspectors || []).join("、") || "—");
    text("c-reasons", c.reasons.length ? c.reasons.join("、") : "");
    $("qr").src = c.qr;
    $("c-event").textContent = c.event_id + " · " + c.hash.slice(0, 16) + "…";
    $("count").textContent = "第 " + (clips.indexOf(c) + 1) + " / " + clips.length + " 段";
  }

  function play(c) {
    current = c.clip_id;
    lastTime = -1; lastMove = Date.now();
    video.src = c.url;
    showCaption(c);
    const p = video.play();
    if (p && p.catch) p.catch(() => {});
  }

  function next() {
    if (!clips.length) { current = null; video.removeAttribute("src"); video.load(); return; }
    const i = clips.findIndex((c) => c.clip_id === current);
    play(clips[(i + 1) % clips.length]);  // i = -1 (gone or first time): the newest
  }

  function render(doc) {
    $("date").textContent = doc.date;
    clips = doc.clips || [];
    $("empty").hidden = clips.length > 0;
    if (current === null && clips.length) play(clips[0]);
    else if (current !== null && !clips.some((c) => c.clip_id === current)) next();
    const m = $("menu-body");
    m.textContent = "";
    const meals = (doc.menu && doc.menu.meals) || [];
    if (!meals.length) m.textContent = doc.menu ? "今日未公布菜单" : "菜单暂不可用";
    for (const meal of meals) {
      const d = document.createElement("div");
      d.className = "meal";
      const b = document.createElement("b");
      b.textContent = meal.name + "：";
      d.appendChild(b);
      d.appendChild(document.createTextNode((meal.dishes || []).join("、")));
      m.appendChild(d);
    }
  }

  async function refresh() {
    let wait = REFRESH_MS;
    try {
      const r = await fetch("/api/hall", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      $("net").hidden = true;
    } catch (e) {
      $("net").hidden = false;
      wait = RETRY_MS;
    }
    setTimeout(refresh, wait);
  }

  video.addEventListener("ended", next);
  video.addEventListener("error", () => setTimeout(next, 2000));
  setInterval(() => {  // a stalled clip (network, decoder) is skipped
    if (current === null) return;
    if (video.currentTime !== lastTime) { lastTime = video.currentTime; lastMove = Date.now(); }
    else if (Date.now() - lastMove > STALL_MS) { lastMove = Date.now(); next(); }
  }, 1000);
  window.hallState = () => ({ current, clips: clips.map((c) => c.clip_id),
    time: video.currentTime, paused: video.paused });
  refresh();
})();
