// The one place that turns daemon answers and network failures into messages for people:
// what happened and what to do, in words. The daemon's own words and codes (written for
// developers: setting names, HTTP statuses) go under "details". Pure: no browser APIs.

// Every message the extension shows for a failure, by code, and whether trying again can
// help. tests/extension/js/messages.test.mjs checks them against a list of words that belong
// under "details" only (command names, setting keys, exception text).
export const MESSAGES = Object.freeze({
  not_running: ["The Shade app is not running on this computer. Start Shade from your applications menu, then try again.", true],
  not_paired: ["Not paired: this browser is not connected to the Shade app yet. Open Shade's settings (the Shade button in the toolbar, then \"Settings & pairing\") and click \"Pair automatically\".", false],
  not_paired_yet: ["Not paired yet: this browser is not connected to the Shade app yet, and nothing answered. Start the Shade app, then click \"Pair automatically\".", false],
  bad_host: ["The Shade app refused the address this browser uses for it. In Shade's settings, set the address to http://127.0.0.1 with the app's port, or click \"Pair automatically\".", false],
  image_too_large: ["This image is larger than Shade accepts. Post a smaller copy, or raise the largest image size in the Shade dashboard's settings.", false],
  bad_image: ["Shade could not read this file as an image. Save it again as PNG, JPEG or WebP, then pick it again.", false],
  model_not_found: ["Shade's model is not installed yet. Open the Shade dashboard to finish setting it up.", false],
  device_unavailable: ["Shade cannot use the graphics card it is set to use. Choose \"automatic\" for the device in the Shade dashboard's settings.", false],
  anchor_not_found: ["The target chosen for new images is not in Shade's library. Pick another target in Shade's settings.", false],
  style_not_found: ["The style chosen for new images is not in Shade's library. Pick another style in Shade's settings.", false],
  bad_options: ["The defaults chosen in Shade's settings do not work together. Pick them again in Shade's settings.", false],
  queue_full: ["Shade is busy with many other images. Try again in a minute.", true],
  disk_full: ["The disk is full, so Shade cannot keep the image. Free some space, then try again.", true],
  storage_error: ["Shade cannot write to its folder. Open the Shade dashboard to see which folder, then try again.", true],
  site_disabled: ["Shading uploads is switched off for this site. Switch it on from the Shade button in the toolbar.", false],
  fetch_failed: ["Shade could not read this image from the page. Allow Shade to read the site when it asks, or save the image and shade the file.", true],
  download_failed: ["Saving the shaded image did not finish. Check your downloads folder has room, then try again.", true],
  no_image: ["There is no image under the pointer.", false],
  cannot_start: ["Shade could not start the app from the browser: its helper is not installed. Start Shade from your applications menu, then try again.", true],
  start_failed: ["The Shade app did not start. Start Shade from your applications menu; if it will not start, reinstall Shade.", true],
  native_host_missing: ["Shade's helper for automatic pairing is not installed. Paste the pairing code from Shade's tray menu instead.", false],
  pairing_failed: ["Pairing did not work. Paste the pairing code from Shade's tray menu instead.", false],
  bad_pairing_code: ["That is not a Shade pairing code. Copy it again from Shade's tray menu (\"Copy pairing code\") and paste all of it.", false],
  extension_gone: ["Shade's extension stopped while shading. Reload the page and try again.", true],
  read_failed: ["Shade could not read the file you picked. Pick it again.", true],
  cancelled: ["Cancelled.", false],
  failed: ["Shade could not shade this image. Try again; if it keeps failing, open the Shade dashboard to see what happened.", true],
});

/** An error the user should read. `code` is stable for code paths and tests; `details` holds
 * the developer's words (the daemon's message, an HTTP status), shown folded under "details". */
export class ShadeError extends Error {
  /** @param {string} code @param {string} message @param {string} [details] */
  constructor(code, message, details = "") {
    super(message);
    this.name = "ShadeError";
    this.code = code;
    this.details = details || "";
    this.retry = code in MESSAGES ? MESSAGES[code][1] : true;
  }

  toJSON() {
    const out = { code: this.code, message: this.message, retry: this.retry };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** The people's error for `code` (the generic failure for codes of no message of their own). */
export function peopleError(code, details = "") {
  const [message] = MESSAGES[code] || MESSAGES.failed;
  const e = new ShadeError(code || "failed", message, details);
  if (!(code in MESSAGES)) e.retry = MESSAGES.failed[1];
  return e;
}

// The messages older callers import by name.
export const NOT_RUNNING_MESSAGE = MESSAGES.not_running[0];
export const NOT_PAIRED_MESSAGE = MESSAGES.not_paired[0];

export function notRunning(daemonUrl) {
  return peopleError("not_running", daemonUrl ? `nothing answered at ${daemonUrl}` : "");
}

export function notPaired(detail) {
  return peopleError("not_paired", detail || "");
}

export function notPairedYet(daemonUrl) {
  const e = peopleError("not_paired_yet", daemonUrl ? `nothing answers at ${daemonUrl}` : "");
  e.code = "not_paired";
  return e;
}

export function cancelled() {
  return peopleError("cancelled");
}

const SAME = { too_large: "image_too_large", upload_too_large: "image_too_large", unsupported_media_type: "bad_image" };

/**
 * Map a daemon HTTP answer to a ShadeError.
 * @param {number} status HTTP status
 * @param {any} body parsed JSON body, or null
 */
export function errorFromResponse(status, body) {
  const err = body && typeof body === "object" ? body.error || {} : {};
  const code = typeof err.code === "string" ? err.code : "";
  const detail = typeof err.message === "string" ? err.message : "";
  const details = [code || `HTTP ${status}`, detail].filter(Boolean).join(": ");
  if (status === 401) return notPaired(details || "the Shade app refused the key");
  if (status === 403 && code === "bad_host") return peopleError("bad_host", details);
  if (status === 403) return notPaired(details || "the Shade app does not know this browser yet");
  if (status === 413) return peopleError("image_too_large", details);
  if (code === "cancelled") return cancelled();
  return peopleError(SAME[code] || code, details || `HTTP ${status}`);
}

/** A failed job record ({status:"failed", error}) as a ShadeError. */
export function errorFromJob(job) {
  const err = (job && job.error) || {};
  if (typeof err === "string") return peopleError("failed", err);
  return peopleError(SAME[err.code] || err.code || "failed", [err.code, err.message].filter(Boolean).join(": "));
}

/** Anything thrown while talking to the daemon, as a ShadeError. */
export function asShadeError(error, daemonUrl) {
  if (error instanceof ShadeError) return error;
  if (error && error.name === "AbortError") return cancelled();
  // fetch() rejects with a TypeError when nothing listens on the port.
  if (error instanceof TypeError) return notRunning(daemonUrl);
  return peopleError("failed", String((error && error.message) || error));
}
