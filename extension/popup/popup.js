import { ext } from "../lib/browser.js";
import { ask, enableSites, disableSite, $ } from "../lib/pagekit.js";
import { getSettings } from "../lib/settings.js";
import { fillLibrary } from "../lib/library.js";
import { originOf, isSiteEnabled } from "../lib/sites.js";
import { progressFraction } from "../lib/jobstate.js";

let tab = null;
let origin = "";

function showStatus(r) {
  const state = $("#state");
  const detail = $("#detail");
  $("#progress").hidden = true;
  $("#pause").hidden = true;
  if (!r || !r.ok || !r.connected || r.error) {
    state.textContent = r && r.connected ? "Connected, but:" : "Not connected";
    state.className = "state bad";
    detail.textContent = (r && r.error && r.error.message) || "No answer from Shade's background.";
    return;
  }
  const s = r.status || {};
  state.textContent = `Connected to Shade ${(r.health && r.health.version) || ""}`.trim();
  state.className = "state good";
  const queue = s.queue_length ?? s.queued ?? (Array.isArray(s.queue) ? s.queue.length : s.queue) ?? 0;
  const bits = [`device: ${s.device || "not loaded yet"}`, `queue: ${queue}`];
  if (s.paused) bits.push("paused");
  detail.textContent = bits.join(" · ");
  const cur = s.current || s.current_job || null;
  if (cur) {
    const f = progressFraction(cur) ?? 0;
    $("#progress").hidden = false;
    $("#fill").style.width = `${Math.round(f * 100)}%`;
    const words = [cur.words, cur.eta_words].filter(Boolean).join(" · ") || `${Math.round(f * 100)}%`;
    $("#progress-text").textContent = `${cur.filename || cur.name || "An image"}: ${words}`;
  }
  $("#pause").hidden = false;
  $("#pause").textContent = s.paused ? "Resume" : "Pause";
  $("#pause").dataset.action = s.paused ? "resume" : "pause";
}

async function refresh() {
  showStatus(await ask({ type: "status" }));
}

async function init() {
  [tab] = await ext.tabs.query({ active: true, currentWindow: true });
  origin = originOf((tab && tab.url) || "");
  const settings = await getSettings();
  const toggle = $("#site-toggle");
  if (!origin) {
    toggle.disabled = true;
    $("#site-name").textContent = "Not available on this page.";
  } else {
    toggle.checked = isSiteEnabled(settings.sites, origin);
    $("#site-name").textContent = origin;
  }
  toggle.addEventListener("change", () => {
    const pending = toggle.checked ? enableSites([origin], tab.id) : disableSite(origin);
    pending.then((r) => {
      if (!r || !r.ok) { toggle.checked = !toggle.checked; $("#site-name").textContent = (r && r.error && r.error.message) || "Failed."; }
    });
  });
  await fillLibrary(document, settings.defaults);
  for (const key of ["mode", "intensity", "style"]) {
    const sel = $(`#${key}`);
    sel.value = settings.defaults[key] || "";
    // Checked against the app's modes and styles before it is kept; a refusal says why.
    sel.addEventListener("change", async () => {
      const { defaults } = await getSettings();
      const r = await ask({ type: "set-defaults", defaults: { ...defaults, [key]: sel.value } });
      const msg = $("#popup-message");
      if (r && r.ok) { msg.textContent = ""; msg.className = "message"; }
      else {
        msg.textContent = (r && r.error && r.error.message) || "Not saved.";
        msg.className = "message bad";
        sel.value = defaults[key] || "";
      }
    });
  }
  $("#own-style").addEventListener("click", () => {
    ext.tabs.create({ url: ext.runtime.getURL("options/options.html#style") });
  });
  $("#pause").addEventListener("click", async () => { await ask({ type: $("#pause").dataset.action }); refresh(); });
  $("#open-options").addEventListener("click", () => ext.runtime.openOptionsPage());
  $("#open-dashboard").addEventListener("click", async () => {
    const out = await ask({ type: "open-dashboard" });
    if (out && out.ok) window.close();
    else $("#popup-message").textContent = (out && out.error && out.error.message) || "Shade could not open its dashboard.";
  });
  await refresh();
  setInterval(refresh, 1500);
}

init();
