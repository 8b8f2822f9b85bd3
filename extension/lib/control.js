// What the popup and options page ask the background to do: status, pairing,
// site switches, pause/resume. Only extension pages may ask.
import { ext } from "./browser.js";
import { DaemonClient } from "./daemon.js";
import { ShadeError, asShadeError, notPaired, notPairedYet, peopleError } from "./errors.js";
import { NATIVE_HOST_NAME } from "./identity.js";
import { parseNativeReply, parsePairingCode, normalizeDaemonUrl } from "./pairing.js";
import { getSettings, setSettings, cleanDefaults, checkDefaults } from "./settings.js";
import { currentClient } from "./jobs.js";
import { syncRegistration, injectIntoTab } from "./registration.js";
import * as feedback from "./feedback.js";
import { openDashboard } from "./audit.js";

/** Connection and queue state for the popup. */
export async function statusReport() {
  const { client, settings } = await currentClient();
  const out = {
    daemonUrl: settings.daemonUrl, paired: !!settings.token, connected: false,
    health: null, status: null, error: null, localActive: feedback.activeCount(),
  };
  try {
    out.health = await client.health();
    out.connected = true;
  } catch (e) {
    const err = asShadeError(e, client.baseUrl);
    // Never paired and nothing at the default address: the app may well run on another
    // port, and pairing finds it; so pairing is the first step to name.
    out.error = (err.code === "not_running" && !settings.token ? notPairedYet(client.baseUrl) : err).toJSON();
    return out;
  }
  if (!settings.token) {
    out.error = notPaired().toJSON();
    return out;
  }
  try {
    out.status = await client.status();
  } catch (e) {
    out.error = asShadeError(e, client.baseUrl).toJSON();
    if (out.error.code === "not_paired") out.paired = false;
  }
  return out;
}

/** Record this extension's origin with the daemon, then keep the address and token. */
export async function completePairing(daemonUrl, token) {
  const client = new DaemonClient(daemonUrl, token);
  const answer = await client.pair();
  await setSettings({ daemonUrl, token });
  return { ok: true, daemonUrl, origin: answer && answer.origin };
}

/** Ask the native-messaging host (registered by the Shade installer) for `type`, then pair
 * with the app it names: (reply, pairing). `missing`, `failed`: the error codes when the
 * host does not answer, and when its answer holds no address and token. */
async function nativePairing(type, missing, failed) {
  let reply;
  try {
    reply = await ext.runtime.sendNativeMessage(NATIVE_HOST_NAME, { type });
  } catch (e) {
    throw peopleError(missing, `the native helper did not answer: ${e && e.message || e}`);
  }
  let parsed;
  try {
    parsed = parseNativeReply(reply);
  } catch (e) {
    throw peopleError(failed, e.message);
  }
  return [reply, await completePairing(parsed.daemonUrl, parsed.token)];
}

/** Pair through the native-messaging host. */
export async function pairNative() {
  const [, paired] = await nativePairing("pair", "native_host_missing", "pairing_failed");
  return paired;
}

/** Start the Shade app through the native host ("Start Shade" on a failed upload), then pair
 * with it: the app that starts may be a new one with its own address and token. */
export async function startNative() {
  const [reply, paired] = await nativePairing("start", "cannot_start", "start_failed");
  return { ...paired, started: !!reply.started };
}

/** Pair with a pasted code "shade:<port>:<token>". */
export async function pairWithCode(code, daemonUrl) {
  let parsed;
  try {
    parsed = parsePairingCode(code);
  } catch (e) {
    throw peopleError("bad_pairing_code", e.message);
  }
  // Keep a typed host (localhost vs 127.0.0.1) when its port matches the code's.
  let url = parsed.daemonUrl;
  if (daemonUrl) {
    try {
      const typed = normalizeDaemonUrl(daemonUrl);
      if (new URL(typed).port === new URL(url).port) url = typed;
    } catch { /* use the code's address */ }
  }
  return completePairing(url, parsed.token);
}

/** Whether a message comes from one of this extension's own pages. */
export function fromExtensionPage(sender) {
  return !!sender && sender.id === ext.runtime.id && typeof sender.url === "string" &&
    sender.url.startsWith(ext.runtime.getURL(""));
}

/** Handle one request from the popup or options page. */
export async function handleControl(msg) {
  try {
    switch (msg.type) {
      case "status": return { ok: true, ...(await statusReport()) };
      case "pair-native": return await pairNative();
      case "pair-code": return await pairWithCode(msg.code, msg.daemonUrl);
      case "set-daemon-url": {
        const daemonUrl = normalizeDaemonUrl(msg.daemonUrl);
        await setSettings({ daemonUrl });
        return { ok: true, daemonUrl };
      }
      case "sites-changed": {
        const patterns = await syncRegistration();
        if (typeof msg.tabId === "number" && msg.inject) {
          await injectIntoTab(msg.tabId).catch(() => {});
        }
        return { ok: true, patterns };
      }
      case "pause":
      case "resume": {
        const { client } = await currentClient();
        await (msg.type === "pause" ? client.pause() : client.resume());
        return { ok: true };
      }
      case "open-dashboard": {
        const opened = await openDashboard(msg.view);
        return { ok: true, url: opened.url };
      }
      case "settings": return { ok: true, settings: redact(await getSettings()) };
      case "set-defaults": return await setDefaults(msg.defaults);
      case "add-style": return await addStyle(msg);
      case "library": {
        const { client } = await currentClient();
        const status = await client.status();
        return { ok: true, modes: status.modes, targets: status.targets, styles: status.styles,
          renders_missing_targets: !!status.renders_missing_targets, defaults: status.defaults || {} };
      }
      default: return { ok: false, error: { code: "unknown", message: `unknown request ${msg.type}` } };
    }
  } catch (e) {
    const err = e instanceof ShadeError ? e : asShadeError(e);
    return { ok: false, error: err.toJSON() };
  }
}

/**
 * Save new defaults after checking them against the app's status (its modes, targets and
 * styles), so a target or style the app lacks is heard now, not at the next upload.
 */
export async function setDefaults(raw) {
  const defaults = cleanDefaults(raw);
  const { client } = await currentClient();
  let status;
  try {
    status = await client.status();
  } catch (e) {
    const err = asShadeError(e, client.baseUrl);
    return { ok: false, error: { code: err.code, message: `Not saved: ${err.message} Shade checks the choice with the app.` } };
  }
  const problem = checkDefaults(defaults, status);
  if (problem) return { ok: false, error: { code: "bad_defaults", message: problem } };
  await setSettings({ defaults });
  return { ok: true, defaults };
}

/** Upload a style image (base64 from an extension page) into the app's style library. */
async function addStyle(msg) {
  const bytes = globalThis.ShadeCommon.base64ToBytes(String(msg.data || ""));
  const { client } = await currentClient();
  const name = String(msg.name || "").trim().toLowerCase();
  const library = await client.addStyle(name, new Blob([bytes], { type: String(msg.mime || "") }), String(msg.filename || "style"));
  return { ok: true, name: library.name, styles: library.styles };
}

function redact(settings) {
  return { ...settings, token: settings.token ? "set" : "" };
}
