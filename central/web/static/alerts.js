// The alert desk, live (#23). The server-sent event stream says that something changed;
// the page then asks /alerts/changes for the alerts changed since its cursor and patches
// them in place: a new alert is inserted where its priority puts it, a known alert has
// only its [data-live] parts replaced, so a note being typed (and its focus) survives.
// A file served from the package: the page's Content-Security-Policy runs no inline code.
"use strict";

(() => {
  const desk = document.getElementById("desk");
  if (!desk) return;
  const live = document.getElementById("live");
  const total = document.getElementById("total");
  const news = document.getElementById("news");
  const firstPage = desk.dataset.page === "0";
  // The words the script shows, in the page's language (#23).
  const words = JSON.parse(desk.dataset.words || "{}");
  let cursor = Number(desk.dataset.cursor);
  let fetching = false;
  let again = false;

  // Sound: browsers play audio only after a gesture, hence the visible button.
  const sound = { context: null, muted: false };
  const enable = document.getElementById("sound-enable");
  const mute = document.getElementById("sound-mute");
  const soundState = document.getElementById("sound-state");

  function showSound() {
    const on = sound.context && !sound.muted;
    soundState.textContent = on ? words.sound_on : words.sound_off;
    mute.textContent = sound.muted ? words.unmute : words.mute;
    mute.hidden = !sound.context;
    enable.hidden = Boolean(sound.context);
  }

  enable.addEventListener("click", () => {
    sound.context = new AudioContext();
    sound.muted = false;
    showSound();
    beep(1);
  });
  mute.addEventListener("click", () => {
    sound.muted = !sound.muted;
    showSound();
  });

  // A short two-tone beep made by WebAudio: no audio file, nothing fetched.
  function beep(times) {
    if (!sound.context || sound.muted) return;
    const start = sound.context.currentTime;
    for (let i = 0; i < times * 2; i += 1) {
      const tone = sound.context.createOscillator();
      const gain = sound.context.createGain();
      tone.frequency.value = i % 2 ? 660 : 990;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(sound.context.destination);
      tone.start(start + i * 0.18);
      tone.stop(start + i * 0.18 + 0.15);
    }
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.querySelector("tbody.alert");
  }

  // Alerts are ordered by priority (1 first), then newest first.
  function comesBefore(a, b) {
    const pa = Number(a.dataset.priority);
    const pb = Number(b.dataset.priority);
    return pa !== pb ? pa < pb : Number(a.dataset.alert) > Number(b.dataset.alert);
  }

  function insert(row) {
    const rows = desk.querySelectorAll("tbody.alert");
    const next = [...rows].find((other) => comesBefore(row, other));
    desk.insertBefore(row, next || null);
  }

  // Is the operator working in this alert's forms (focus there, or text typed)?
  function inUse(row) {
    if (row.contains(document.activeElement)) return true;
    return [...row.querySelectorAll("input:not([type=hidden])")].some((i) => i.value !== "");
  }

  function patch(row, fresh) {
    for (const part of fresh.querySelectorAll("[data-live]")) {
      const old = row.querySelector(`[data-live="${part.dataset.live}"]`);
      if (old && old.innerHTML !== part.innerHTML) old.innerHTML = part.innerHTML;
    }
    const keep = row.classList.contains("flash") ? " flash" : "";
    row.className = fresh.className + keep;
    for (const key of ["priority", "passes", "state"]) row.dataset[key] = fresh.dataset[key];
  }

  function flash(row) {
    row.classList.add("flash");
    setTimeout(() => row.classList.remove("flash"), 4000);
  }

  function apply(change) {
    const row = document.getElementById(`alert-${change.alert_id}`);
    const fresh = parse(change.html);
    if (change.state === "closed") {
      if (row && !inUse(row)) row.remove();
      else if (row) patch(row, fresh);
      return false;
    }
    if (!row) {
      if (!firstPage) {
        news.hidden = false;
        news.textContent = words.news;
        return false;
      }
      insert(fresh);
      flash(fresh);
      return true;
    }
    const morePasses = Number(fresh.dataset.passes) > Number(row.dataset.passes);
    patch(row, fresh);
    if (morePasses) flash(row);
    return morePasses;
  }

  async function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const response = await fetch(`/alerts/changes?since=${cursor}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      if (!body.complete) {
        window.location.reload();
        return;
      }
      let urgent = 0;
      for (const change of body.alerts) {
        if (apply(change) && change.priority === 1) urgent += 1;
      }
      cursor = body.cursor;
      desk.dataset.cursor = String(cursor);
      total.textContent = String(body.total);
      document.getElementById("total-word").textContent = body.total === 1 ? words.alert : words.alerts;
      document.getElementById("no-alerts").hidden = Boolean(desk.querySelector("tbody.alert"));
      if (urgent) beep(Math.min(urgent, 3));
    } finally {
      fetching = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const stream = new EventSource("/alerts/stream");
  stream.addEventListener("hello", (event) => {
    live.textContent = words.live;
    if (Number(event.data) !== cursor) refresh();
  });
  stream.addEventListener("alerts", () => refresh());
  stream.onerror = () => {
    live.textContent = words.reconnecting;
  };
  showSound();
  window.alertDeskStarted = true; // the page's watchdog reloads a desk that never started
})();
