// The history: what was shaded, searchable by name; survives restarts; can be cleared.
import { api, el, fmt, showMessage, when } from "./api.js";

let timer = null;

// The one verdict, in the daemon's words; a record with none is never called protected.
function verdictLine(entry) {
  const v = entry.verdict;
  if (entry.status === "rejected") return el("div", { class: "verdict-not-protected verdict-line" }, "not shaded");
  if (!v) return el("div", { class: "muted verdict-line" }, "protection not measured");
  return el("div", { class: `verdict-line verdict-${v.level.replace(/ /g, "-")}` }, v.words,
    v.effect ? el("div", { class: "muted" }, v.effect) : null);
}

function card(entry) {
  const m = entry.measurements || {};
  const target = entry.mode === "cloak" ? `cloak → ${entry.options.style || "style"}` : `${entry.mode} → ${entry.target || "?"}`;
  return el("div", { class: "card", dataset: { entryId: entry.id } },
    el("img", { src: entry.thumbnail_url, alt: entry.filename }),
    el("div", { class: "name" }, entry.filename),
    el("div", {}, when(entry.shaded_at)),
    el("div", {}, target, ` · ${entry.options.intensity || ""} · ${entry.options.quality || ""}`),
    verdictLine(entry),
    el("details", {}, el("summary", {}, "details"),
      el("div", { class: "muted" }, `latent ratio ${fmt(m.latent_ratio)}, after JPEG 85 ${fmt(m.latent_ratio_jpeg85)}`),
      el("div", { class: "muted" }, `SSIMULACRA2 ${fmt(m.ssimulacra2, 1)} · from ${entry.source}`)),
    entry.result ? el("div", { class: "muted" }, `result: ${entry.result}`) : null,
    entry.original ? el("div", { class: "muted" }, `original kept at: ${entry.original}`) : null,
    entry.preview_url ? el("a", { href: `#preview/${entry.id}` }, "Preview") : el("span", { class: "muted" }, "files pruned"));
}

// A file the to-post folder set aside: in the history too, with its reason.
function rejectedCard(r) {
  return el("div", { class: "card rejected", dataset: { rejected: r.name } },
    el("div", { class: "name" }, r.name),
    el("div", {}, when(r.rejected_at)),
    el("div", { class: "verdict-not-protected verdict-line" }, "not shaded"),
    el("div", { class: "muted reason" }, `${r.reason}. It is in the rejected folder beside the to-post folder.`));
}

async function load() {
  const q = document.getElementById("history-search").value.trim();
  const [data, set] = await Promise.all([api(`/v1/history?q=${encodeURIComponent(q)}`),
    api("/v1/rejected").catch(() => ({ rejected: [] }))]);
  const aside = (set.rejected || []).filter((r) => !q || r.name.toLowerCase().includes(q.toLowerCase()));
  const cards = [...data.entries.map((e) => [e.shaded_at, card(e)]), ...aside.map((r) => [r.rejected_at, rejectedCard(r)])]
    .sort((a, b) => b[0] - a[0]).map(([, c]) => c);
  document.getElementById("history").replaceChildren(...cards);
  document.getElementById("no-history").hidden = cards.length > 0;
}

export function setup() {
  document.getElementById("history-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load().catch((e) => showMessage(e, true)), 200);
  });
  document.getElementById("history-clear").addEventListener("click", async () => {
    if (!confirm("Forget every history entry and audit? Your files stay where they are.")) return;
    try {
      await api("/v1/history", { method: "DELETE" });
      await load();
    } catch (e) {
      showMessage(e, true);
    }
  });
}

export function show() {
  return load();
}
