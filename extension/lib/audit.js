// Right-click "Check this posted image": send the copy the platform serves to the app, which
// finds the original in its history and measures whether the protection survived; the
// verdict is notified and the app's dashboard opens on the report.
import { ext } from "./browser.js";
import { asShadeError, peopleError } from "./errors.js";
import { CHECK_MENU_ID, fetchImage, requestImageAccess, sourceBaseName } from "./contextmenu.js";
import { extensionForMime } from "./images.js";
import { currentClient } from "./jobs.js";
import * as feedback from "./feedback.js";

const HEADLINES = { yes: "Protection survived", weakened: "Protection weakened", no: "Protection did not survive" };

/** Open the app's dashboard (a one-time login link) in a new tab, at `view`/`item`. */
export async function openDashboard(view, item) {
  const { client } = await currentClient();
  const link = await client.dashboardLink(view, item);
  const tab = await ext.tabs.create({ url: link.url });
  return { url: link.url, tabId: tab && tab.id };
}

/**
 * The handler. Resolves with {ok, auditId, survived, latentRatio, entry, dashboard} or
 * {ok: false, error}; never throws (the user sees a notification).
 */
export async function handleCheckPostedClick(info, tab, { open = true } = {}) {
  if (!info || info.menuItemId !== CHECK_MENU_ID) return { ok: false, error: { code: "ignored", message: "not this menu item" } };
  const access = requestImageAccess(info);
  const key = `audit-${Date.now()}-${Math.random()}`;
  feedback.progress(key, null);
  try {
    await access;
    const url = String(info.srcUrl || "");
    if (!url) throw peopleError("no_image");
    const blob = await fetchImage(url, tab, info.frameId);
    const name = `${sourceBaseName(url, blob)}.${extensionForMime(blob.type)}`;
    const { client } = await currentClient();
    const report = await client.audit(blob, name);
    feedback.finish(key, report.survived === "yes");
    const ratio = typeof report.latent_ratio === "number" ? report.latent_ratio.toFixed(3) : "?";
    await feedback.notify(HEADLINES[report.survived] || "Checked",
      `${report.entry_filename || name}: latent ratio ${ratio}. ${report.verdict}`);
    const dashboard = open ? await openDashboard("audit", report.id).catch(() => null) : null;
    return { ok: true, auditId: report.id, survived: report.survived, latentRatio: report.latent_ratio,
      entry: report.entry_filename, platform: report.platform, dashboard };
  } catch (e) {
    const err = asShadeError(e);
    feedback.finish(key, false);
    await feedback.notify("Shade could not check this image", err.message);
    return { ok: false, error: err.toJSON() };
  }
}
