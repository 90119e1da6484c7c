// The hall display: plays today's clips newest first, in a loop, with a caption
// panel, a QR code per record (its public page at central), and today's menu.
// A clip's caption appears only once that clip's first frame is on screen, and
// is hidden while the next one loads, so a caption never sits over another
// clip. It never stops on its own: a failed fetch keeps the last list and
// retries; a clip that errors or stalls is skipped.
"use strict";
(function () {
  // ?refresh_s=N shortens the list refresh (tests); errors retry after a sixth of it.
  const q = Number(new URLSearchParams(location.search).get("refresh_s")) || 30;
  const REFRESH_MS = q * 1000, RETRY_MS = Math.max(1000, REFRESH_MS / 6), STALL_MS = 20000;
  const video = document.getElementById("clip");
  const $ = (id) => document.getElementById(id);
  let clips = [];          // newest first
  let current = null;      // clip_id playing
  let shown = null;        // clip_id whose caption is on screen (null: caption hidden)
  let lastTime = -1, lastMove = Date.now();

  function text(id, v) { $(id).textContent = v == null || v === "" ? "—" : v; }

  function showCaption(c) {
    const o = $("outcome");
    o.textContent = c.outcome_text;
    o.className = c.outcome;
    text("c-item", c.item); text("c-time", c.time); text("c-supplier", c.supplier);
    text("c-weight", c.weight); text("c-inspectors", (c.inspectors || []).join("、"));
    const reasons = c.reasons || [];
    text("c-reasons", reasons.join("、"));
    $("t-reasons").hidden = $("c-reasons").hidden = reasons.length === 0;
    $("qr-box").hidden = !c.qr;
    if (c.qr) $("qr").src = c.qr; else $("qr").removeAttribute("src");
    $("count").textContent = "第 " + (clips.indexOf(c) + 1) + " / " + clips.length + " 段";
    $("caption").dataset.clip = c.clip_id;
    $("caption").hidden = false;
    shown = c.clip_id;
  }

  function hideCaption() {
    $("caption").hidden = true;
    delete $("caption").dataset.clip;
    shown = null;
  }

  function play(c) {
    hideCaption();  // until this clip's first frame is decoded (loadeddata)
    current = c.clip_id;
    lastTime = -1; lastMove = Date.now();
    video.src = c.url;
    const p = video.play();
    if (p && p.catch) p.catch(() => {});
  }

  function next() {
    if (!clips.length) {
      current = null; hideCaption(); video.removeAttribute("src"); video.load(); return;
    }
    const i = clips.findIndex((c) => c.clip_id === current);
    play(clips[(i + 1) % clips.length]);  // i = -1 (gone or first time): the newest
  }

  function dateZh(s) {  // 2026-12-02 -> 2026年12月2日 星期三
    const [y, m, d] = String(s).split("-").map(Number);
    if (!y || !m || !d) return "";
    return y + "年" + m + "月" + d + "日 星期" + "日一二三四五六"[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  }

  function render(doc) {
    $("date").textContent = dateZh(doc.date);
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

  video.addEventListener("loadeddata", () => {
    const c = clips.find((x) => x.clip_id === current);
    if (c && video.currentSrc.endsWith(c.url)) showCaption(c);
  });
  video.addEventListener("ended", next);
  video.addEventListener("error", () => setTimeout(next, 2000));
  setInterval(() => {  // a stalled clip (network, decoder) is skipped
    if (current === null) return;
    if (video.currentTime !== lastTime) { lastTime = video.currentTime; lastMove = Date.now(); }
    else if (Date.now() - lastMove > STALL_MS) { lastMove = Date.now(); next(); }
  }, 1000);
  window.hallState = () => ({ current, shown, clips: clips.map((c) => c.clip_id),
    time: video.currentTime, paused: video.paused });
  refresh();
})();
