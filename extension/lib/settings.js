// storage.local keys (documented in docs/extension.md):
//   daemonUrl        "http://127.0.0.1:47821"   where the Shade app listens
//   token            43-char API token          from pairing
//   sites            ["https://x.com", …]       origins whose uploads are shaded
//   defaults         {mode, intensity, quality, target, style}  unset fields = the app's config
//   copyToClipboard  bool                       also copy right-click results
//   weakRules        {origin: "send"|"hold"|"none"}  what a weakly protected result does on a site
//                                                (unset: "hold", ask before sending)
import { ext } from "./browser.js";
import { normalizeSites } from "./sites.js";
import { cleanWeakRules } from "./verdict.js";

export const DEFAULT_DAEMON_URL = "http://127.0.0.1:47821";
export const CHOICES = Object.freeze({
  mode: ["poison", "cloak", "both"],
  intensity: ["low", "default", "high"],
  quality: ["fast", "default", "best"],
});

/** Only the option fields the daemon knows, with valid values. */
export function cleanDefaults(d) {
  const out = {};
  if (!d || typeof d !== "object") return out;
  for (const [key, values] of Object.entries(CHOICES)) if (values.includes(d[key])) out[key] = d[key];
  for (const key of ["target", "style"]) {
    const v = typeof d[key] === "string" ? d[key].trim().toLowerCase() : "";
    if (v && /^[a-z0-9][a-z0-9 _-]{0,63}$/.test(v)) out[key] = v;
  }
  return out;
}

/** Which option a mode needs: poison a target, cloak a style, both both. */
export function modeNeeds(mode) {
  return { target: mode !== "cloak", style: mode === "cloak" || mode === "both" };
}

/**
 * Check the defaults against what the app says it has (GET /v1/status: modes, targets,
 * styles, renders_missing_targets, defaults). Returns null when they can work, else a
 * message saying what to pick instead.
 */
export function checkDefaults(d, status) {
  if (!status || typeof status !== "object") return null;
  const app = status.defaults || {};
  const modes = Array.isArray(status.modes) ? status.modes : CHOICES.mode;
  const mode = d.mode || app.mode || "poison";
  if (!modes.includes(mode)) {
    return `Mode "${mode}" cannot work with this Shade app now; it offers ${modes.join(", ") || "none"}.`;
  }
  const needs = modeNeeds(mode);
  const targets = Array.isArray(status.targets) ? status.targets : [];
  const target = d.target || app.target;
  if (needs.target && target && !targets.includes(target) && !status.renders_missing_targets) {
    return `Shade has no image for the target "${target}". Pick one of ${targets.join(", ")}, ` +
      `or add a picture of a ${target} to the targets in the Shade dashboard's library.`;
  }
  const styles = Array.isArray(status.styles) ? status.styles : [];
  const style = d.style || app.style;
  if (needs.style && !style) return `Mode "${mode}" needs a style: pick one of ${styles.join(", ")}, or upload your own.`;
  if (needs.style && !styles.includes(style)) {
    return `Shade has no style "${style}". Pick one of ${styles.join(", ")}, or upload your own.`;
  }
  return null;
}

/** All settings with defaults filled in. */
export async function getSettings() {
  const s = await ext.storage.local.get(["daemonUrl", "token", "sites", "defaults", "copyToClipboard", "weakRules"]);
  return {
    daemonUrl: typeof s.daemonUrl === "string" && s.daemonUrl ? s.daemonUrl.replace(/\/+$/, "") : DEFAULT_DAEMON_URL,
    token: typeof s.token === "string" ? s.token : "",
    sites: normalizeSites(s.sites),
    defaults: cleanDefaults(s.defaults),
    copyToClipboard: s.copyToClipboard === true,
    weakRules: cleanWeakRules(s.weakRules),
  };
}

export async function setSettings(values) {
  await ext.storage.local.set(values);
}
