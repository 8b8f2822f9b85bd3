// Shading from the dashboard itself: drop images on the queue or pick them, with the mode,
// target and intensity to use (the app's defaults preselected, in words).
import { api, el, showMessage } from "./api.js";

const WORDS = {
  mode: { poison: "poison: models learn the target instead", cloak: "cloak: models see another style",
    both: "both: poison and cloak" },
  intensity: { low: "low: hardest to see", default: "default", high: "high: strongest, more visible" },
};

function options(select, values, chosen, words = {}) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, selected: v === chosen }, words[v] || v)));
}

async function fill() {
  const s = await api("/v1/status");
  const d = s.defaults || {};
  const choices = s.choices || {};
  options(document.getElementById("add-mode"), choices.mode || s.modes || ["poison"], d.mode, WORDS.mode);
  options(document.getElementById("add-intensity"), choices.intensity || ["low", "default", "high"], d.intensity,
    WORDS.intensity);
  options(document.getElementById("add-target"), s.targets || [], d.target);
  const folders = s.watched_folders || [];
  document.getElementById("to-post-path").textContent = folders.length ? folders.join(", ")
    : "not watched (the daemon runs without a to-post folder)";
  document.getElementById("open-to-post").hidden = !folders.length;
}

export async function addFiles(files) {
  const images = [...files].filter((f) => /^image\//.test(f.type) || /\.(png|jpe?g|webp)$/i.test(f.name));
  if (!images.length) {
    showMessage("Those files are not images Shade can shade: pick PNG, JPEG or WebP files.", true);
    return [];
  }
  const added = [];
  for (const file of images) {
    const form = new FormData();
    form.append("image", file, file.name);
    form.append("mode", document.getElementById("add-mode").value);
    form.append("intensity", document.getElementById("add-intensity").value);
    if (document.getElementById("add-mode").value !== "cloak") form.append("target", document.getElementById("add-target").value);
    try {
      added.push(await api("/v1/jobs", { method: "POST", form }));
    } catch (e) {
      showMessage(Object.assign(new Error(`${file.name} was not added. ${e.message}`), { details: e.details }), true);
      return added;
    }
  }
  showMessage(`Added ${images.length === 1 ? images[0].name : `${images.length} images`} to the queue.`);
  return added;
}

export function setup() {
  const zone = document.getElementById("queue-drop");
  const input = document.getElementById("queue-file");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    addFiles(e.dataTransfer.files);
  });
  input.addEventListener("change", async () => {
    await addFiles(input.files);
    input.value = "";
  });
  document.getElementById("open-to-post").addEventListener("click", async () => {
    try {
      await api("/v1/to-post/open", { method: "POST" });
      showMessage("");
    } catch (e) {
      showMessage(e, true);
    }
  });
  fill().catch(() => { /* the queue's own stream reports a lost connection */ });
}
