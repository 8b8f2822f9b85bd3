// A finished job's preview: original | shaded | difference x8, what the model sees, and
// the measured strength and visibility in words. "1:1" shows the pixels unscaled.
import { api, el, fmt } from "./api.js";

function figure(src, caption, kind) {
  return el("figure", { dataset: { kind } }, el("img", { src, alt: caption, loading: "lazy" }), el("figcaption", {}, caption));
}

export async function show(id) {
  if (!id) {
    location.hash = "#queue";
    return;
  }
  const section = document.getElementById("view-preview");
  const zoom = document.getElementById("zoom");
  zoom.onchange = () => section.classList.toggle("zoomed", zoom.checked);
  document.getElementById("verdict").replaceChildren(el("span", { class: "muted" }, "Measuring…"));
  document.getElementById("strip-pixels").replaceChildren();
  document.getElementById("strip-model").replaceChildren();
  const p = await api(`/v1/jobs/${id}/preview`);
  document.getElementById("preview-title").textContent = `Preview: ${p.filename}`;
  document.getElementById("decoder-name").textContent = `(${p.decoder} decoder)`;
  const sheet = document.getElementById("preview-sheet");
  sheet.href = p.images.sheet;
  sheet.setAttribute("download", `${p.filename.replace(/\.[^.]+$/, "")}-preview.png`);
  const ratios = Object.entries(p.latent_ratios || {}).map(([name, r]) => `${name} ${fmt(r)}`).join(", ");
  document.getElementById("verdict").replaceChildren(
    el("div", { class: p.weak ? "weak" : "good", id: "verdict-strength" }, p.strength),
    el("div", { id: "verdict-visibility" }, p.visibility),
    el("div", { class: "muted" },
      `latent ratio ${fmt(p.latent_ratio)} at the trainer's view, ${fmt(p.latent_ratio_jpeg85)} after JPEG 85` +
      (ratios ? ` (${ratios})` : "") + "; 1 = the model sees the original, 0 = it sees the target"));
  document.getElementById("strip-pixels").replaceChildren(
    figure(p.images.original, "original", "original"),
    figure(p.images.shaded, "shaded", "shaded"),
    figure(p.images.difference, "difference ×8 (grey = unchanged)", "difference"));
  document.getElementById("strip-model").replaceChildren(
    figure(p.images["model-original"], "what the model sees: original", "model-original"),
    figure(p.images["model-shaded"], "what the model sees: shaded", "model-shaded"));
}
