// The result, unmissable: a full-screen green or red panel, a tone and a spoken sentence.
// Tones are made here (WebAudio); the sentences are WAV clips the station renders offline
// (espeak-ng, /api/voice/<key>.wav). Volume and voice on/off come from the station config.
"use strict";
K.sound = {ctx: null, played: []};

function tone(kind, volume) {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC || volume <= 0) return;
  const ctx = K.sound.ctx || (K.sound.ctx = new AC());
  // accept: two rising notes; reject: three low pulses.
  const notes = kind === "accepted" ? [[660, 0, 0.15], [990, 0.17, 0.25]]
    : [[220, 0, 0.18], [220, 0.25, 0.18], [220, 0.5, 0.3]];
  for (const [freq, at, len] of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = kind === "accepted" ? "sine" : "square";
    osc.frequency.value = freq;
    gain.gain.value = volume * (kind === "accepted" ? 0.5 : 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + at);
    osc.stop(ctx.currentTime + at + len);
  }
}

function announce(outcome, say) {
  const cfg = (K.state && K.state.sound) || {volume: 80, voice: false};
  const volume = Math.max(0, Math.min(1, cfg.volume / 100));
  K.sound.played.push({outcome: outcome, say: say, voice: !!cfg.voice, volume: cfg.volume});
  try { tone(outcome, volume); } catch (e) { /* no audio device: the screen still shows it */ }
  if (!cfg.voice || !say || volume <= 0) return;
  const a = new Audio("/api/voice/" + encodeURIComponent(say) + ".wav");
  a.volume = volume;
  setTimeout(() => { a.play().catch(() => {}); }, outcome === "accepted" ? 450 : 850);
}

const result = {seq: null, until: 0, timer: null};
// Shows the decision of the placement on the pan for RESULT_S seconds (or until tapped or
// the pan empties); a new decision plays its sound once, not one found at page load.
const RESULT_S = 6;
function renderResult(s) {
  const last = s.last;
  const p = s.placement;
  const box = $("decision");
  const current = last && p.decided;
  if (result.seq === null) {  // first snapshot after loading: an earlier decision stays quiet
    result.seq = current ? last.seq : 0;
  } else if (current && result.seq !== last.seq) {
    result.seq = last.seq;
    result.until = Date.now() + RESULT_S * 1000;
    clearTimeout(result.timer);
    result.timer = setTimeout(() => K.render(K.state), RESULT_S * 1000 + 50);
    announce(last.outcome, last.advice && last.advice.say);
  }
  const show = current && Date.now() < result.until;
  box.hidden = !show;
  const banner = $("last-banner");
  banner.hidden = !(current && !show);
  if (!current) return;
  const adv = last.advice || {title: last.outcome === "accepted" ? "合格" : "不合格", action: "", ranges: []};
  box.className = "decision " + last.outcome;
  $("decision-title").textContent = adv.title;
  $("decision-item").textContent = last.item || "";
  $("decision-action").textContent = adv.action;
  $("decision-ranges").textContent = (adv.ranges || []).join("　");
  const ul = $("decision-reasons");
  ul.replaceChildren();
  if (last.retest_of) ul.append(el("li", "复验：关联此前拒收记录 #" + last.retest_of.seq, "warn"));
  for (const c of last.checks) if (c.result === "fail") ul.append(el("li", c.detail));
  for (const c of last.checks) if (c.result === "warn") ul.append(el("li", "提示：" + c.detail, "warn"));
  banner.className = "last-banner " + last.outcome;
  banner.textContent = "本件：" + adv.title + "　" + adv.action + "（取下货品后继续）";
}
$("decision").onclick = () => { result.until = 0; K.render(K.state); };
