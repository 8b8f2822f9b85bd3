// The history: what was shaded, searchable by name; survives restarts; can be cleared.
import { api, el, fmt, showMessage, when } from "./api.js";

let timer = null;

function card(entry) {
  const m = entry.measurements || {};
  const target = entry.mode === "cloak" ? `cloak → ${entry.options.style || "style"}` : `${entry.mode} → ${entry.target || "?"}`;
  return el("div", { class: "card", dataset: { entryId: entry.id } },
    el("img", { src: entry.thumbnail_url, alt: entry.filename }),
    el("div", { class: "name" }, entry.filename),
    el("div", {}, when(entry.shaded_at)),
    el("div", {}, target, ` · ${entry.options.intensity || ""} · ${entry.options.quality || ""}`),
    el("div", { class: "muted" }, `ratio ${fmt(m.latent_ratio)}, after JPEG 85 ${fmt(m.latent_ratio_jpeg85)}${m.weak ? " (weak)" : ""}`),
    el("div", { class: "muted" }, `SSIMULACRA2 ${fmt(m.ssimulacra2, 1)} · ${entry.source}`),
    entry.result ? el("div", { class: "muted" }, `result: ${entry.result}`) : null,
    entry.original ? el("div", { class: "muted" }, `original kept at: ${entry.original}`) : null,
    entry.preview_url ? el("a", { href: `#preview/${entry.id}` }, "Preview") : el("span", { class: "muted" }, "files pruned"));
}

async function load() {
  const q = document.getElementById("history-search").value.trim();
  const data = await api(`/v1/history?q=${encodeURIComponent(q)}`);
  document.getElementById("history").replaceChildren(...data.entries.map(card));
  document.getElementById("no-history").hidden = data.entries.length > 0;
}

export function setup() {
  document.getElementById("history-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load().catch((e) => showMessage(e.message, true)), 200);
  });
  document.getElementById("history-clear").addEventListener("click", async () => {
    if (!confirm("Forget every history entry and audit? Your files stay where they are.")) return;
    try {
      await api("/v1/history", { method: "DELETE" });
      await load();
    } catch (e) {
      showMessage(e.message, true);
    }
  });
}

export function show() {
  return load();
}
