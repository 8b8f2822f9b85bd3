import { ask, enableSites, disableSite, $ } from "../lib/pagekit.js";
import { getSettings, setSettings } from "../lib/settings.js";
import { fillLibrary, fileToBase64 } from "../lib/library.js";
import { COMMON_SITES, originOf } from "../lib/sites.js";
import { ext } from "../lib/browser.js";
import { WEAK_RULES, weakRuleFor } from "../lib/verdict.js";

function say(sel, text, good) {
  const el = $(sel);
  el.textContent = text;
  el.className = `message ${good ? "good" : "bad"}`;
}

async function showConnection() {
  const r = await ask({ type: "status" });
  const el = $("#conn");
  if (r && r.ok && r.connected && !r.error) {
    el.textContent = `Paired and connected to Shade ${(r.health && r.health.version) || ""} at ${r.daemonUrl}`;
    el.className = "state good";
  } else {
    // On this page the pairing buttons are right below: say so rather than "open the settings".
    const code = r && r.error && r.error.code;
    el.textContent = code === "not_paired" ? "Not paired yet: click \"Pair automatically\" below, or paste the pairing code."
      : (r && r.error && r.error.message) || "Not connected.";
    el.className = "state bad";
  }
}

async function renderSites() {
  const { sites, weakRules } = await getSettings();
  const common = $("#common-sites");
  common.replaceChildren();
  for (const site of COMMON_SITES) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = site.origin;
    box.checked = sites.includes(site.origin);
    box.disabled = box.checked;
    label.append(box, ` ${site.name}`);
    li.append(label);
    common.append(li);
  }
  const list = $("#enabled-sites");
  list.replaceChildren();
  if (!sites.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "None yet — uploads everywhere are left alone.";
    list.append(li);
  }
  for (const origin of sites) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Remove";
    b.addEventListener("click", async () => { await disableSite(origin); renderSites(); });
    // What a weakly protected result does on this site (kept with the site).
    const rule = document.createElement("select");
    rule.className = "weak-rule";
    rule.dataset.origin = origin;
    rule.title = "When a result is only weakly protected";
    for (const [value, words] of Object.entries(WEAK_RULES)) rule.append(new Option(words, value));
    rule.value = weakRuleFor(weakRules, origin);
    rule.addEventListener("change", async () => {
      const { weakRules: now } = await getSettings();
      await setSettings({ weakRules: { ...now, [origin]: rule.value } });
      say("#sites-message", `Saved: when a result is weakly protected on ${origin}, ${WEAK_RULES[rule.value].toLowerCase()}.`, true);
    });
    const ruleLabel = document.createElement("label");
    ruleLabel.append(" if weakly protected: ", rule);
    li.append(`${origin} `, ruleLabel, " ", b);
    list.append(li);
  }
}

function afterEnable(r) {
  if (r && r.ok) say("#sites-message", "Saved. Reload open tabs of those sites if they were already open.", true);
  else say("#sites-message", (r && r.error && r.error.message) || "Could not enable.", false);
  renderSites();
}

/** "App default" says what the app's default is ("App default: poison"), once the app answers. */
async function nameAppDefaults() {
  const r = await ask({ type: "status" });
  const app = (r && r.status && r.status.defaults) || {};
  for (const key of ["mode", "intensity", "quality", "style"]) {
    const first = $(`#${key}`).querySelector('option[value=""]');
    if (first && app[key]) first.textContent = `App default: ${app[key]}`;
  }
  if (app.target) $("#target").placeholder = `app default: ${app.target}`;
}

async function init() {
  nameAppDefaults();
  const settings = await getSettings();
  $("#daemon-url").value = settings.daemonUrl;
  const showDefaults = (d) => {
    for (const key of ["mode", "intensity", "quality", "style"]) $(`#${key}`).value = d[key] || "";
    $("#target").value = d.target || "";
  };
  await fillLibrary(document, settings.defaults);
  showDefaults(settings.defaults);
  $("#copy-to-clipboard").checked = settings.copyToClipboard;

  $("#save-url").addEventListener("click", async () => {
    const r = await ask({ type: "set-daemon-url", daemonUrl: $("#daemon-url").value });
    if (r.ok) { $("#daemon-url").value = r.daemonUrl; say("#pair-message", "Address saved.", true); }
    else say("#pair-message", r.error.message, false);
    showConnection();
  });
  $("#pair-native").addEventListener("click", async () => {
    say("#pair-message", "Asking the Shade app…", true);
    const r = await ask({ type: "pair-native" });
    if (r.ok) { $("#daemon-url").value = r.daemonUrl; say("#pair-message", `Paired with the Shade app at ${r.daemonUrl}.`, true); }
    else say("#pair-message", r.error.message, false);
    showConnection();
  });
  $("#pair-with-code").addEventListener("click", async () => {
    const r = await ask({ type: "pair-code", code: $("#pair-code").value, daemonUrl: $("#daemon-url").value });
    if (r.ok) {
      $("#pair-code").value = "";
      $("#daemon-url").value = r.daemonUrl;
      say("#pair-message", `Paired with the Shade app at ${r.daemonUrl}.`, true);
    } else say("#pair-message", r.error.message, false);
    showConnection();
  });

  // Checked against the app's status (its modes, targets and styles) before it is kept.
  const saveDefaults = async () => {
    const d = {
      mode: $("#mode").value, intensity: $("#intensity").value, quality: $("#quality").value,
      target: $("#target").value, style: $("#style").value,
    };
    const r = await ask({ type: "set-defaults", defaults: d });
    if (r && r.ok) say("#defaults-message", "Saved.", true);
    else {
      say("#defaults-message", (r && r.error && r.error.message) || "Not saved.", false);
      showDefaults((await getSettings()).defaults);
    }
  };
  for (const sel of ["#mode", "#intensity", "#quality", "#target", "#style"]) $(sel).addEventListener("change", saveDefaults);
  $("#copy-to-clipboard").addEventListener("change", async () => {
    await setSettings({ copyToClipboard: $("#copy-to-clipboard").checked });
    say("#defaults-message", "Saved.", true);
  });
  if (location.hash === "#style") $("#own-style").open = true;
  $("#add-style").addEventListener("click", async () => {
    const file = $("#style-file").files[0];
    const name = $("#style-name").value.trim().toLowerCase();
    if (!name || !file) { say("#defaults-message", "Name the style and pick its image first.", false); return; }
    say("#defaults-message", "Adding the style…", true);
    const r = await ask({ type: "add-style", name, filename: file.name, mime: file.type, data: await fileToBase64(file) });
    if (!r || !r.ok) { say("#defaults-message", (r && r.error && r.error.message) || "Could not add the style.", false); return; }
    await fillLibrary(document, (await getSettings()).defaults);
    $("#style").value = r.name;
    $("#style-file").value = "";
    $("#style-name").value = "";
    await saveDefaults();
    if ($("#defaults-message").classList.contains("good")) say("#defaults-message", `Style "${r.name}" added and chosen.`, true);
  });

  $("#enable-selected").addEventListener("click", () => {
    const origins = [...document.querySelectorAll("#common-sites input:checked:not(:disabled)")].map((b) => b.value);
    if (!origins.length) { say("#sites-message", "Tick the sites to enable first.", false); return; }
    enableSites(origins).then(afterEnable);
  });
  $("#add-site").addEventListener("click", () => {
    const raw = $("#custom-site").value.trim();
    const origin = originOf(/^https?:\/\//i.test(raw) ? raw : `https://${raw}`);
    if (!origin) { say("#sites-message", "Type a web address such as https://example.com", false); return; }
    enableSites([origin]).then((r) => { if (r && r.ok) $("#custom-site").value = ""; afterEnable(r); });
  });
  ext.storage.onChanged.addListener((changes) => { if (changes.sites) renderSites(); });

  await renderSites();
  await showConnection();
}

init();
