// Shading for the upload interceptor: the content script streams one file over
// a port, the background shades it through the daemon and streams it back.
//
// content → background: {type:"start", name, mime, size, intensity?}, {type:"chunk", data}…, {type:"end"}
// background → content: {type:"job", id}, {type:"progress", fraction, stage, words, eta, position},
//                       {type:"result", name, mime, size, chunks, verdict, rule}, {type:"chunk", data}…,
//                       {type:"done"} | {type:"error", error:{code, message}}
// Disconnecting the port cancels the job.
import { ext } from "./browser.js";
import { asShadeError, peopleError } from "./errors.js";
import { getSettings } from "./settings.js";
import { isSiteEnabled, originOf, matchPatternFor } from "./sites.js";
import { progressFraction, stageOf } from "./jobstate.js";
import { shadeImage } from "./jobs.js";
import { CHOICES } from "./settings.js";
import { verdictOf, weakRuleFor } from "./verdict.js";
import * as feedback from "./feedback.js";

export const PORT_NAME = "shade-upload";

/** The web origin a content-script message or port came from. */
export function senderOrigin(sender) {
  if (!sender || sender.id !== ext.runtime.id) return "";
  if (sender.origin && sender.origin !== "null") return originOf(sender.origin);
  return originOf(sender.url || "");
}

/**
 * The origin that decides whether a sender shades: the top-level page's (the tab's URL,
 * which the browser shows us because the enabled site's host permission was granted), so
 * an uploader iframe from a CDN or a subdomain inside an enabled page is shaded too, and
 * an enabled site framed by another page is not. A frame whose tab URL we cannot see
 * does not shade.
 */
export function topLevelOrigin(sender) {
  if (!sender || sender.id !== ext.runtime.id) return "";
  if (sender.tab && sender.tab.url) return originOf(sender.tab.url);
  return sender.frameId === 0 ? senderOrigin(sender) : "";
}

/** Whether the sender's top-level page has upload shading switched on. */
export async function senderEnabled(sender) {
  const origin = topLevelOrigin(sender);
  if (!origin) return false;
  const { sites } = await getSettings();
  return isSiteEnabled(sites, origin);
}

/** Whether Shade can run in frames of `origin` (its host permission was granted). */
export async function frameReachable(origin) {
  const o = originOf(origin || "");
  if (!o) return true; // about:, data:, blob: frames run with their creator's origin
  try {
    return await ext.permissions.contains({ origins: [matchPatternFor(o)] });
  } catch {
    return false;
  }
}

export function handleUploadPort(port) {
  const controller = new AbortController();
  const chunks = [];
  let meta = null;
  let finished = false;
  const key = `upload-${Date.now()}-${Math.random()}`;

  const post = (msg) => { try { port.postMessage(msg); } catch { /* page went away */ } };
  const fail = (e) => {
    const err = asShadeError(e);
    feedback.finish(key, false);
    post({ type: "error", error: err.toJSON() });
  };

  port.onDisconnect.addListener(() => {
    if (!finished) { controller.abort(); feedback.finish(key, null); }
  });

  port.onMessage.addListener(async (msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "start") {
      meta = { name: String(msg.name || "image"), mime: String(msg.mime || ""), size: Number(msg.size) || 0,
        intensity: CHOICES.intensity.includes(msg.intensity) ? msg.intensity : "" };
      return;
    }
    if (msg.type === "chunk") { chunks.push(String(msg.data || "")); return; }
    if (msg.type !== "end" || !meta) return;
    try {
      if (!(await senderEnabled(port.sender))) {
        throw peopleError("site_disabled");
      }
      feedback.progress(key, null);
      const bytes = globalThis.ShadeCommon.fromBase64Chunks(chunks);
      chunks.length = 0;
      const blob = new Blob([bytes], { type: meta.mime });
      const result = await shadeImage({ blob, filename: meta.name, intensity: meta.intensity }, {
        signal: controller.signal,
        onJob: (id) => post({ type: "job", id }),
        onProgress: (rec) => {
          const fraction = progressFraction(rec);
          feedback.progress(key, fraction);
          post({ type: "progress", fraction, stage: stageOf(rec), status: rec.status, words: rec.words || "",
            eta: rec.eta_words || "", position: rec.queue_position || 0 });
        },
      });
      const out = new Uint8Array(await result.blob.arrayBuffer());
      const parts = globalThis.ShadeCommon.toBase64Chunks(out);
      const verdict = verdictOf(result.job);
      const { weakRules } = await getSettings();
      const rule = weakRuleFor(weakRules, topLevelOrigin(port.sender));
      post({ type: "result", id: result.id, name: meta.name, mime: result.mime, size: out.length, chunks: parts.length,
        verdict, rule });
      for (const data of parts) post({ type: "chunk", data });
      finished = true;
      feedback.finish(key, true, verdict);
      post({ type: "done" });
    } catch (e) {
      finished = true;
      if (controller.signal.aborted) feedback.finish(key, null); // the page cancelled
      else fail(e);
    }
  });
}
