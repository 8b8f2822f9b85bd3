// A finished job's preview: the verdict in words (the same one the queue, the history and the
// extension show) with its next step, original | shaded | difference ×8, and what the model
// sees: of the original, of the shaded image, their difference amplified, and of the target.
// The numbers are under "details". "1:1" shows the pixels unscaled.
import { api, el, fmt, showMessage } from "./api.js";

function figure(src, caption, kind) {
  return el("figure", { dataset: { kind } }, el("img", { src, alt: caption, loading: "lazy" }), el("figcaption", {}, caption));
}

// The first preview loads the decoder and runs the model: show where it is (the daemon's
// own progress for this preview), and how long it has taken.
function waiting(id) {
  const started = Date.now();
  const text = el("span", { class: "muted", id: "preview-progress" });
  const bar = el("progress", {});
  let stage = "";
  const tick = () => {
    const s = Math.round((Date.now() - started) / 1000);
    text.textContent = `Measuring what the model sees of this image: ${stage || "starting"}… ${s} s`;
  };
  const poll = async () => {
    try {
      const p = await api(`/v1/jobs/${id}/preview/progress`);
      if (!p.making) return;
      stage = p.words;
      text.dataset.stage = p.stage;
      if (p.total) {
        bar.max = p.total;
        bar.value = p.step;
      }
      tick();
    } catch (e) {
      // the preview request itself reports what went wrong
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  const poller = setInterval(poll, 500);
  document.getElementById("verdict").replaceChildren(bar, " ", text);
  return () => {
    clearInterval(timer);
    clearInterval(poller);
  };
}

async function stronger(id) {
  try {
    const job = await api(`/v1/jobs/${id}/stronger`, { method: "POST" });
    location.hash = "#queue";            // the view change clears messages: say it after
    setTimeout(() => showMessage(`Shading ${job.filename} again at the ${job.intensity} intensity.`), 50);
  } catch (e) {
    showMessage(e, true);
  }
}

// What a tagger sees (the labels channel): each label model's top labels for the original
// against the shaded file's after JPEG 85; absent when the job had no labels channel.
function taggerBlock(labels) {
  if (!labels || !labels.length) return null;
  const names = (pairs) => pairs.map(([n, prob]) => `${n} ${Math.round(100 * prob)}%`).join(", ");
  return el("div", { id: "verdict-labels" },
    el("div", {}, "What a tagger sees (original → shaded, after JPEG 85):"),
    el("ul", {}, ...labels.map((v) => el("li", { dataset: { model: v.model, changed: String(v.changed) } },
      `${v.model}${v.held_out ? " (held out)" : ""}: ${names(v.original)} → ${names(v.shaded)}` +
      (v.changed ? "" : " (top label unchanged)")))));
}

function verdictBlock(id, p) {
  const v = p.verdict || {};
  const level = (v.level || "unknown").replace(/ /g, "-");
  const ratios = Object.entries(p.latent_ratios || {}).map(([name, r]) => `${name} ${fmt(r)}`).join(", ");
  const next = v.level && v.level !== "protected"
    ? (v.next_intensity
      ? el("button", { type: "button", id: "preview-stronger", onclick: () => stronger(id) }, "Shade again, stronger")
      : el("span", { class: "muted" }, "already at the strongest intensity"))
    : null;
  return [
    el("div", { class: `level ${level}`, id: "verdict-strength" }, p.strength),
    v.advice ? el("div", { id: "verdict-advice" }, v.advice, " ", next) : next,
    v.reason ? el("div", { id: "verdict-reason", class: "muted" }, `Why: ${v.reason}.`) : null,
    v.effect ? el("div", { id: "verdict-effect", class: "muted" }, v.effect) : null,
    el("div", { id: "verdict-visibility" }, p.visibility),
    taggerBlock(p.labels),
    el("details", {}, el("summary", {}, "details"),
      el("div", { class: "muted" },
        `latent ratio ${fmt(p.latent_ratio)} at the trainer's view, ${fmt(p.latent_ratio_jpeg85)} after JPEG 85` +
        (ratios ? ` (${ratios})` : "") + "; 1 = the model sees the original, 0 = it sees the target"),
      p.ssimulacra2 !== undefined && p.ssimulacra2 !== null
        ? el("div", { class: "muted" }, `SSIMULACRA2 ${fmt(p.ssimulacra2, 1)} (100 = identical)`) : null),
  ];
}

export async function show(id) {
  if (!id) {
    location.hash = "#queue";
    return;
  }
  const section = document.getElementById("view-preview");
  const zoom = document.getElementById("zoom");
  zoom.onchange = () => section.classList.toggle("zoomed", zoom.checked);
  document.getElementById("strip-pixels").replaceChildren();
  document.getElementById("strip-model").replaceChildren();
  const stop = waiting(id);
  let p;
  try {
    p = await api(`/v1/jobs/${id}/preview`);
  } finally {
    stop();
  }
  document.getElementById("preview-title").textContent = `Preview: ${p.filename}`;
  document.getElementById("decoder-name").textContent = `(${p.decoder} decoder)`;
  const sheet = document.getElementById("preview-sheet");
  sheet.href = p.images.sheet;
  sheet.setAttribute("download", `${p.filename.replace(/\.[^.]+$/, "")}-preview.png`);
  document.getElementById("verdict").replaceChildren(...verdictBlock(id, p).filter(Boolean));
  document.getElementById("strip-pixels").replaceChildren(
    figure(p.images.original, "original", "original"),
    figure(p.images.shaded, "shaded", "shaded"),
    figure(p.images.difference, "difference ×8 (grey = unchanged)", "difference"));
  const img = p.images;
  document.getElementById("strip-model").replaceChildren(...[
    figure(img["model-original"], "what the model sees: original", "model-original"),
    figure(img["model-shaded"], "what the model sees: shaded", "model-shaded"),
    img["model-difference"] ? figure(img["model-difference"],
      "their difference ×8 (grey = the model sees no change)", "model-difference") : null,
    img["model-target"] ? figure(img["model-target"], "what the model sees: the target it is pulled towards",
      "model-target") : null,
    img.target ? figure(img.target, "the target image", "target") : null,
  ].filter(Boolean));
}
