// Anchors (targets for poison) and reference styles (for cloak): built-in and your own,
// each with a preview; drop an image on a list to add one.
import { api, el, showMessage } from "./api.js";

function card(kind, item) {
  const remove = item.builtin ? el("span", { class: "muted" }, "built in") :
    el("button", { type: "button", class: "danger", onclick: () => removeItem(kind, item.name) }, "Remove");
  return el("div", { class: "card", dataset: { name: item.name, kind } },
    el("img", { src: `/v1/${kind}/${encodeURIComponent(item.name)}/image`, alt: item.name, loading: "lazy" }),
    el("div", { class: "name" }, item.name), remove);
}

async function load() {
  const [anchors, styles] = await Promise.all([api("/v1/anchors"), api("/v1/styles")]);
  document.getElementById("anchors").replaceChildren(...anchors.anchors.map((a) => card("anchors", a)));
  document.getElementById("styles").replaceChildren(...styles.styles.map((s) => card("styles", s)));
}

async function removeItem(kind, name) {
  try {
    await api(`/v1/${kind}/${encodeURIComponent(name)}`, { method: "DELETE" });
    await load();
  } catch (e) {
    showMessage(e, true);
  }
}

async function addItem(file, nameId, kind) {
  if (!file) return;
  const input = document.getElementById(nameId);
  const name = input.value.trim() || file.name.replace(/\.[^.]+$/, "").toLowerCase().replace(/[^a-z0-9 _-]/g, "-");
  const form = new FormData();
  form.append("name", name);
  form.append("image", file, file.name);
  try {
    await api(`/v1/${kind}`, { method: "POST", form });
    input.value = "";
    showMessage(`Added \u201c${name}\u201d to the ${kind === "anchors" ? "targets" : "styles"}.`);
    await load();
  } catch (err) {
    showMessage(err, true);
  }
}

function dropTarget(zoneId, nameId, fileId, kind) {
  const zone = document.getElementById(zoneId);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    addItem(e.dataTransfer.files[0], nameId, kind);
  });
  const picker = document.getElementById(fileId);       // the same, for those who cannot drag
  picker.addEventListener("change", async () => {
    await addItem(picker.files[0], nameId, kind);
    picker.value = "";
  });
}

export function setup() {
  dropTarget("anchor-drop", "anchor-name", "anchor-file", "anchors");
  dropTarget("style-drop", "style-name", "style-file", "styles");
}

export function show() {
  return load();
}
