// Settings: each key's value and where it came from (as `shade config` prints them), the
// folders, and checks of whether the settings can work.
import { api, el } from "./api.js";

function shown(value) {
  if (Array.isArray(value)) return value.join(", ") || "(none)";
  return value === "" || value === null || value === undefined ? "(none)" : String(value);
}

export async function show() {
  const data = await api("/v1/config");
  document.getElementById("settings-note").textContent = data.note;
  document.getElementById("checks").replaceChildren(...data.checks.map((c) =>
    el("li", { class: c.ok ? "ok" : "bad", dataset: { check: c.check } }, c.check, c.ok ? "" : `: ${c.problem}`)));
  document.getElementById("settings").replaceChildren(...data.settings.map((s) =>
    el("tr", { dataset: { key: s.name } }, el("td", {}, s.name), el("td", {}, shown(s.value)), el("td", { class: "muted" }, s.source))));
  document.getElementById("folders").replaceChildren(...Object.entries(data.paths).map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {}, v))));
}
