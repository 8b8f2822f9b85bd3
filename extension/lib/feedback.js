// Progress and results shown on the toolbar badge and in notifications.
import { ext } from "./browser.js";
import { badgeFor } from "./verdict.js";

const active = new Map(); // key -> fraction 0..1 (or null while queued)
let flash = null; // {text, color} shown briefly after a job ends
let flashTimer = null;

function render() {
  const action = ext.action;
  if (!action) return;
  let text = "";
  let color = "#4a308c";
  if (active.size) {
    const values = [...active.values()];
    const known = values.filter((v) => typeof v === "number");
    text = known.length ? `${Math.round((known.reduce((a, b) => a + b, 0) / known.length) * 100)}%` : "…";
  } else if (flash) {
    ({ text, color } = flash);
  }
  action.setBadgeBackgroundColor({ color }).catch(() => {});
  action.setBadgeText({ text }).catch(() => {});
}

/** Record progress (0..1, or null when unknown) for an activity. */
export function progress(key, fraction) {
  active.set(key, typeof fraction === "number" ? fraction : null);
  render();
}

/** End an activity: ok → the verdict's badge ("✓" only for protected, "~" weak) for a few
 * seconds, false → "!" in red, null (cancelled) → nothing. */
export function finish(key, ok, verdict) {
  active.delete(key);
  clearTimeout(flashTimer);
  if (ok === null) {
    flash = null;
  } else {
    flash = ok ? badgeFor(verdict) : { text: "!", color: "#c62828" };
    flashTimer = setTimeout(() => { flash = null; render(); }, ok ? 4000 : 15000);
  }
  render();
}

/** Number of activities running in this browser (shown in the popup). */
export function activeCount() {
  return active.size;
}

/** A system notification; failures (no notification support) are ignored. */
export async function notify(title, message) {
  if (!ext.notifications) return;
  try {
    await ext.notifications.create({
      type: "basic", iconUrl: ext.runtime.getURL("icons/icon-128.png"), title, message: String(message).slice(0, 500),
    });
  } catch {
    /* notifications are a courtesy; the badge already shows the state */
  }
}
