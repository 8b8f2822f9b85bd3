// Settings: the ones a person changes, in words, editable here (saved to the config file after
// the same checks it gets when Shade starts; most apply at once), whether they can work, and,
// under "details", every setting's raw value and where it came from (as `shade config` prints).
import { api, el, showMessage } from "./api.js";

const CHECK_WORDS = {
  "config file as on disk now": "the settings file can be read",
  target: "the default target has an image",
  style: "the default style exists",
  encoders: "the model is installed",
  device: "the chosen device works",
};

function shown(value) {
  if (Array.isArray(value)) return value.join(", ") || "(none)";
  return value === "" || value === null || value === undefined ? "(none)" : String(value);
}

function field(row) {
  const id = `setting-${row.name}`;
  const input = row.choices.length
    ? el("select", { id, name: row.name }, ...row.choices.map((c) => el("option", { value: c, selected: c === row.value }, c)))
    : el("input", { id, name: row.name, value: row.value, type: typeof row.value === "number" ? "number" : "text",
      step: typeof row.value === "number" ? "any" : undefined });
  input.dataset.initial = String(row.value);
  return el("div", { class: "setting", dataset: { key: row.name } },
    el("label", { for: id }, row.label), input,
    el("div", { class: "muted" }, row.help, row.live ? "" : " (takes effect after Shade restarts)",
      row.overridden ? " — set by an environment variable, which wins over this page" : ""));
}

async function save(form) {
  const changes = {};
  for (const input of form.querySelectorAll("input, select")) {
    if (input.value === input.dataset.initial) continue;
    changes[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  if (!Object.keys(changes).length) {
    showMessage("Nothing changed.");
    return;
  }
  try {
    const r = await api("/v1/config", { method: "POST", json: { settings: changes } });
    const parts = [];
    if (r.applied.length) parts.push("in use from the next image on");
    if (r.restart_needed.length) parts.push(`${r.restart_needed.length === r.saved.length ? "they take" : "some take"} effect after Shade restarts`);
    showMessage(`Saved: ${parts.join("; ")}.`);
    await show();
  } catch (e) {
    showMessage(e, true);
  }
}

export async function show() {
  const data = await api("/v1/config");
  document.getElementById("settings-note").textContent =
    "Changes are saved to Shade's settings file after the same checks it gets when Shade starts.";
  const form = document.getElementById("settings-form");
  form.replaceChildren(...(data.editable || []).map(field),
    el("button", { type: "submit", id: "settings-save" }, "Save settings"));
  form.onsubmit = (e) => { e.preventDefault(); save(form); };
  document.getElementById("checks").replaceChildren(...data.checks.map((c) =>
    el("li", { class: c.ok ? "ok" : "bad", dataset: { check: c.check } }, CHECK_WORDS[c.check] || c.check,
      c.ok ? "" : `: ${c.problem}`)));
  document.getElementById("settings").replaceChildren(...data.settings.map((s) =>
    el("tr", { dataset: { key: s.name } }, el("td", {}, s.name), el("td", {}, shown(s.value)), el("td", { class: "muted" }, s.source))));
  document.getElementById("folders").replaceChildren(...Object.entries(data.paths).map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {}, v))));
}
