// Right-click "Shade before upload" on an image: fetch it, shade it, save it.
import { ext } from "./browser.js";
import { ShadeError, asShadeError, peopleError } from "./errors.js";
import { decodeDataUrl, shadedFilename, baseNameFromUrl, extensionForMime } from "./images.js";
import { originOf, matchPatternFor } from "./sites.js";
import { progressFraction } from "./jobstate.js";
import { shadeImage, currentClient } from "./jobs.js";
import { copyImage } from "./clipboard.js";
import * as feedback from "./feedback.js";
import { verdictOf, verdictLine, isProtected } from "./verdict.js";

export const MENU_ID = "shade-before-upload";
export const CHECK_MENU_ID = "shade-check-posted";

/** The saved file's base name: the URL's file name; for a blob: URL (no name of its own) the
 * image's label or the page's title, else "image-<date>-<time>". */
export function sourceBaseName(url, blob) {
  const base = baseNameFromUrl(url);
  if (!String(url).startsWith("blob:")) return base;
  const hint = String((blob && blob.shadeName) || "").replace(/\.(png|jpe?g|webp)$/i, "").trim();
  if (hint) return shadedFilename(`${hint}.png`, "image/png").replace(/-shaded\.png$/, "");
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `image-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

export async function createMenus() {
  await ext.contextMenus.removeAll();
  ext.contextMenus.create({ id: MENU_ID, title: "Shade before upload", contexts: ["image"] });
  ext.contextMenus.create({ id: CHECK_MENU_ID, title: "Check this posted image", contexts: ["image"] });
}

/**
 * Ask for read access to a cross-origin image's host. Must start while the
 * click's user gesture is live, so it is called before any await.
 */
export function requestImageAccess(info) {
  const src = originOf(info.srcUrl || "");
  const page = originOf(info.frameUrl || info.pageUrl || "");
  if (!src || src === page || !ext.permissions) return Promise.resolve(false);
  try {
    return ext.permissions.request({ origins: [matchPatternFor(src)] }).catch(() => false);
  } catch {
    return Promise.resolve(false);
  }
}

/** Fetch bytes in the page (blob: URLs live there; also a fallback for CORS-readable images). */
async function fetchInPage(url, tab, frameId) {
  if (!tab || tab.id === undefined || tab.id < 0) throw peopleError("fetch_failed", "no tab to read it from");
  const [res] = await ext.scripting.executeScript({
    target: { tabId: tab.id, frameIds: [frameId || 0] },
    args: [url],
    func: async (u) => {
      try {
        const r = await fetch(u);
        if (!r.ok) return { ok: false, error: `HTTP ${r.status}` };
        const b = await r.blob();
        const bytes = new Uint8Array(await b.arrayBuffer());
        let bin = "";
        for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        // A blob: URL has no name: the image's own label, else the page's title, names the file.
        const img = Array.from(document.images).find((i) => i.currentSrc === u || i.src === u);
        const name = (img && (img.getAttribute("download") || img.title || img.alt)) || document.title || "";
        return { ok: true, type: b.type, data: btoa(bin), name };
      } catch (e) {
        return { ok: false, error: String(e && e.message || e) };
      }
    },
  });
  const out = res && res.result;
  if (!out || !out.ok) throw peopleError("fetch_failed", (out && out.error) || "no answer from the page");
  const blob = new Blob([globalThis.ShadeCommon.base64ToBytes(out.data)], { type: out.type });
  blob.shadeName = String(out.name || "");
  return blob;
}

/** The image's bytes as a Blob, from wherever it lives. */
export async function fetchImage(url, tab, frameId) {
  if (url.startsWith("data:")) {
    const { mime, bytes } = decodeDataUrl(url);
    return new Blob([bytes], { type: mime });
  }
  if (url.startsWith("blob:")) return fetchInPage(url, tab, frameId);
  try {
    const res = await fetch(url, { credentials: "include", cache: "force-cache" });
    if (!res.ok) throw peopleError("fetch_failed", `HTTP ${res.status}`);
    return await res.blob();
  } catch (e) {
    if (e instanceof ShadeError) throw e;
    // No host permission and no CORS: read it through the page instead.
    try {
      return await fetchInPage(url, tab, frameId);
    } catch {
      throw new ShadeError("fetch_failed",
        `Shade could not read this image from ${originOf(url) || "its site"}: allow Shade to read that site when it asks, then try again.`);
    }
  }
}

/** Wait until a download completes; rejects if it is interrupted. */
function downloadFinished(id, timeoutMs = 120000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(peopleError("download_failed", "timed out")); }, timeoutMs);
    const cleanup = () => { clearTimeout(timer); ext.downloads.onChanged.removeListener(onChanged); };
    const check = (item) => {
      if (!item) return;
      if (item.state === "complete") { cleanup(); resolve(item); }
      else if (item.state === "interrupted") {
        cleanup();
        reject(peopleError("download_failed", item.error || "interrupted"));
      }
    };
    const onChanged = (delta) => {
      if (delta.id !== id || !delta.state) return;
      ext.downloads.search({ id }).then(([item]) => check(item), () => {});
    };
    ext.downloads.onChanged.addListener(onChanged);
    ext.downloads.search({ id }).then(([item]) => check(item), () => {});
  });
}

/**
 * Save the result. Where the background can make blob: URLs (Firefox's event
 * page) it saves the bytes it holds; a Chrome service worker cannot, so the
 * download is fetched from the daemon with the token in a header.
 */
async function saveResult(result, filename) {
  const { client } = await currentClient();
  let url;
  let revoke = null;
  const opts = { filename, saveAs: false, conflictAction: "uniquify" };
  if (typeof URL.createObjectURL === "function") {
    url = URL.createObjectURL(result.blob);
    revoke = () => URL.revokeObjectURL(url);
  } else {
    url = client.resultUrl(result.id);
    opts.headers = [{ name: "Authorization", value: `Bearer ${client.token}` }];
  }
  try {
    const id = await ext.downloads.download({ url, ...opts });
    const item = await downloadFinished(id);
    return { downloadId: id, path: item.filename };
  } finally {
    if (revoke) setTimeout(revoke, 60000);
  }
}

/**
 * The context-menu handler. Resolves with {ok, jobId, downloadId, filename, path}
 * or {ok: false, error: {code, message}}; never throws (the user sees a notification).
 */
export async function handleContextMenuClick(info, tab) {
  if (!info || info.menuItemId !== MENU_ID) return { ok: false, error: { code: "ignored", message: "not Shade's menu item" } };
  const access = requestImageAccess(info);
  const key = `menu-${Date.now()}-${Math.random()}`;
  feedback.progress(key, null);
  try {
    await access;
    const url = String(info.srcUrl || "");
    if (!url) throw peopleError("no_image");
    const blob = await fetchImage(url, tab, info.frameId);
    const name = `${sourceBaseName(url, blob)}.${extensionForMime(blob.type)}`;
    await feedback.notify(`Shading ${name}`, "Shade is working on it; a second note comes when it is saved.");
    const result = await shadeImage({ blob, filename: name }, {
      onProgress: (rec) => feedback.progress(key, progressFraction(rec)),
    });
    const filename = shadedFilename(name, result.mime);
    const saved = await saveResult(result, filename);
    let clipboard = null;
    const { settings } = await currentClient();
    if (settings.copyToClipboard && tab && tab.id >= 0) {
      try { await copyImage(tab.id, result.blob); clipboard = "copied"; } catch (e) { clipboard = String(e.message || e); }
    }
    const verdict = verdictOf(result.job);
    feedback.finish(key, true, verdict);
    const saidSaved = `Saved ${filename}${clipboard === "copied" ? " and copied it" : ""}.`;
    const advice = isProtected(verdict) ? "" : ` ${verdict.advice || ""}`.trimEnd();
    await feedback.notify(isProtected(verdict) ? "Shaded: protected" : `Shaded: ${verdict.words.split(":")[0]}`,
      `${verdictLine(name, verdict)} ${saidSaved}${advice}`);
    return { ok: true, jobId: result.id, filename, clipboard, verdict, ...saved };
  } catch (e) {
    const err = asShadeError(e);
    feedback.finish(key, false);
    await feedback.notify("Shade could not shade this image", err.message);
    return { ok: false, error: err.toJSON() };
  }
}
