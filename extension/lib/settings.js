// storage.local keys (documented in docs/extension.md):
//   daemonUrl        "http://127.0.0.1:47821"   where the Shade app listens
//   token            43-char API token          from pairing
//   sites            ["https://x.com", …]       origins whose uploads are shaded
//   defaults         {mode, intensity, quality, target}  unset fields = the app's config
//   copyToClipboard  bool                       also copy right-click results
import { ext } from "./browser.js";
import { normalizeSites } from "./sites.js";

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
  if (typeof d.target === "string" && /^[\w -]{1,64}$/.test(d.target.trim()) && d.target.trim()) out.target = d.target.trim();
  return out;
}

/** All settings with defaults filled in. */
export async function getSettings() {
  const s = await ext.storage.local.get(["daemonUrl", "token", "sites", "defaults", "copyToClipboard"]);
  return {
    daemonUrl: typeof s.daemonUrl === "string" && s.daemonUrl ? s.daemonUrl.replace(/\/+$/, "") : DEFAULT_DAEMON_URL,
    token: typeof s.token === "string" ? s.token : "",
    sites: normalizeSites(s.sites),
    defaults: cleanDefaults(s.defaults),
    copyToClipboard: s.copyToClipboard === true,
  };
}

export async function setSettings(values) {
  await ext.storage.local.set(values);
}
