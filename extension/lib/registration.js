// Dynamic registration of the upload-shading content scripts on the enabled sites.
import { ext } from "./browser.js";
import { getSettings } from "./settings.js";
import { matchPatternFor } from "./sites.js";

export const SCRIPT_ID = "shade-uploads";
export const CONTENT_FILES = ["shared/common.js", "content/overlay.js", "content/intercept.js"];

let chain = Promise.resolve();

/**
 * Register the content scripts for every enabled site whose host permission
 * was granted (serialised, so overlapping storage changes cannot race).
 * @returns {Promise<string[]>} the match patterns registered
 */
export function syncRegistration() {
  const run = chain.then(doSync, doSync);
  chain = run.catch(() => {});
  return run;
}

async function doSync() {
  const { sites } = await getSettings();
  const patterns = [...new Set(sites.map(matchPatternFor))];
  const granted = [];
  for (const p of patterns) {
    if (await ext.permissions.contains({ origins: [p] })) granted.push(p);
  }
  const [existing] = await ext.scripting.getRegisteredContentScripts({ ids: [SCRIPT_ID] });
  if (!granted.length) {
    if (existing) await ext.scripting.unregisterContentScripts({ ids: [SCRIPT_ID] });
  } else if (!existing || !sameSet(existing.matches, granted) || !sameSet(existing.js, CONTENT_FILES)) {
    // Every frame of an enabled page: iframes (an uploader on another port of the host,
    // or another granted host), about:blank / srcdoc / blob: frames through their
    // creator's origin. Whether a frame shades is judged by the top-level page's origin.
    // An existing registration is updated in place: unregistering it first would leave a
    // moment in which a page that loads gets no script and its uploads go unshaded.
    const script = {
      id: SCRIPT_ID, matches: granted, js: CONTENT_FILES, runAt: "document_start", allFrames: true,
      matchOriginAsFallback: true, persistAcrossSessions: true,
    };
    const apply = (s) => existing ? ext.scripting.updateContentScripts([s]) : ext.scripting.registerContentScripts([s]);
    try {
      await apply(script);
    } catch (e) {
      // A browser without matchOriginAsFallback in the scripting API: every frame, minus about:blank.
      delete script.matchOriginAsFallback;
      await apply(script);
    }
  }
  await tellTabs();
  return granted;
}

function sameSet(a, b) {
  const x = new Set(a || []);
  return x.size === new Set(b).size && b.every((p) => x.has(p));
}

/** Content scripts already in pages re-ask whether their site is enabled. */
async function tellTabs() {
  let tabs = [];
  try { tabs = await ext.tabs.query({}); } catch { return; }
  await Promise.all(tabs.map((t) => ext.tabs.sendMessage(t.id, { type: "shade-sites-changed" }).catch(() => {})));
}

/** Put the content scripts into an open tab now, so enabling needs no reload. */
export async function injectIntoTab(tabId) {
  await ext.scripting.executeScript({ target: { tabId, allFrames: true }, files: CONTENT_FILES });
}
