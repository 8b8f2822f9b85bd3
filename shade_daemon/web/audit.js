// Audit: drop or paste the copy a platform serves; Shade finds the original in the
// history (or takes an explicit pair) and says whether the protection survived.
import { api, el, fmt, showMessage, when } from "./api.js";

function report(a) {
  const p = a.platform || {};
  const views = Object.entries(a.views || {}).map(([v, r]) => `${v} px: ${fmt(r)}`).join(", ");
  return el("div", { class: "report", dataset: { auditId: a.id } },
    el("div", { class: `survived-${a.survived}`, id: "audit-verdict" }, a.verdict),
    el("dl", {},
      el("dt", {}, "Matched"), el("dd", { id: "audit-match" }, a.entry_filename || "(explicit pair)",
        a.match && a.match.how ? ` — ${a.match.how}` : ""),
      el("dt", {}, "Latent ratio"), el("dd", { id: "audit-ratio" }, fmt(a.latent_ratio)),
      el("dt", {}, "At the trainer's views"), el("dd", {}, views),
      el("dt", {}, "When shaded"), el("dd", {}, fmt(a.shaded_latent_ratio)),
      el("dt", {}, "Intensity's threshold"), el("dd", {}, fmt(a.threshold)),
      el("dt", {}, "Platform's copy"), el("dd", { id: "audit-platform" },
        `${p.format || "?"} ${p.width}×${p.height} (${fmt(p.scale * 100, 0)} % of the original)` +
        (p.jpeg_quality ? `, JPEG quality ≈ ${p.jpeg_quality}` : "") + (p.subsampling ? ` ${p.subsampling}` : "") +
        (p.cropped ? ", cropped" : "")),
      el("dt", {}, "Checked"), el("dd", {}, when(a.created_at))));
}

async function send(file) {
  const form = new FormData();
  form.append("posted", file, file.name || "posted.png");
  const original = document.getElementById("audit-original").files[0];
  if (original) form.append("original", original, original.name);
  const target = document.getElementById("audit-target").value.trim();
  if (target) form.append("target", target);
  const out = document.getElementById("audit-result");
  out.replaceChildren(el("p", { class: "muted" }, "Measuring…"));
  try {
    const a = await api("/v1/audits", { method: "POST", form });
    out.replaceChildren(report(a));
    await list();
  } catch (e) {
    out.replaceChildren();
    showMessage(e, true);
  }
}

async function list() {
  const data = await api("/v1/audits");
  document.getElementById("audits").replaceChildren(...data.audits.map((a) =>
    el("div", { class: "card" }, el("img", { src: a.thumbnail_url, alt: a.filename }),
      el("div", { class: "name" }, a.filename), el("div", { class: `survived-${a.survived}` }, a.survived),
      el("div", { class: "muted" }, `ratio ${fmt(a.latent_ratio)} · ${a.entry_filename || "explicit pair"}`),
      el("a", { href: `#audit/${a.id}` }, "Report"))));
}

export function setup() {
  const drop = document.getElementById("audit-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) send(file);
  });
  document.getElementById("audit-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) send(file);
  });
  document.addEventListener("paste", (e) => {
    if (document.getElementById("view-audit").hidden) return;
    const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
    if (item) send(item.getAsFile());
  });
}

export async function show(id) {
  if (id) {
    const a = await api(`/v1/audits/${id}`);
    document.getElementById("audit-result").replaceChildren(report(a));
  }
  await list();
}
