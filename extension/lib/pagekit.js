// Small helpers for the popup and options page.
import { ext } from "./browser.js";
import { matchPatternFor, normalizeSites } from "./sites.js";
import { getSettings, setSettings } from "./settings.js";

/** Ask the background; resolves with its answer ({ok, …} or {ok:false, error}). */
export async function ask(msg) {
  try {
    return await ext.runtime.sendMessage(msg);
  } catch (e) {
    return { ok: false, error: { code: "no_background", message: String(e && e.message || e) } };
  }
}

/**
 * Switch shading on for `origins`. Must be called straight from a click
 * handler: the permission prompt needs the user's gesture.
 */
export function enableSites(origins, tabId) {
  const patterns = [...new Set(origins.map(matchPatternFor))];
  return ext.permissions.request({ origins: patterns }).then(async (granted) => {
    if (!granted) return { ok: false, error: { code: "permission_denied", message: "Shade needs permission to see uploads on these sites." } };
    const { sites } = await getSettings();
    await setSettings({ sites: normalizeSites([...sites, ...origins]) });
    return ask({ type: "sites-changed", tabId, inject: typeof tabId === "number" });
  });
}

/** Switch shading off for `origin`; gives back the host permission when no other enabled site needs it. */
export async function disableSite(origin) {
  const { sites } = await getSettings();
  const rest = sites.filter((o) => o !== origin);
  await setSettings({ sites: rest });
  const pattern = matchPatternFor(origin);
  const required = ["http://127.0.0.1/*", "http://localhost/*"];
  if (!required.includes(pattern) && !rest.some((o) => matchPatternFor(o) === pattern)) {
    await ext.permissions.remove({ origins: [pattern] }).catch(() => false);
  }
  return ask({ type: "sites-changed" });
}

export function $(sel) {
  return document.querySelector(sel);
}
