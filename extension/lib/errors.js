// The one place that turns daemon answers and network failures into messages
// that say what to do. Pure: no browser APIs.

export const NOT_RUNNING_MESSAGE = "Shade is not running — start it with `shade daemon`.";
export const NOT_PAIRED_MESSAGE =
  "Not paired: this browser is not paired with the Shade app. Open Shade's options and click " +
  "\"Pair automatically\", or paste the code from `shade token --pairing-code`.";

/** An error the user should read. `code` is stable for code paths and tests. */
export class ShadeError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "ShadeError";
    this.code = code;
  }

  toJSON() {
    return { code: this.code, message: this.message };
  }
}

export function notRunning(daemonUrl) {
  const where = daemonUrl ? ` (nothing answered at ${daemonUrl})` : "";
  return new ShadeError("not_running", NOT_RUNNING_MESSAGE.replace(/\.$/, `${where}.`));
}

export function notPaired(detail) {
  return new ShadeError("not_paired", detail ? `${NOT_PAIRED_MESSAGE} (${detail})` : NOT_PAIRED_MESSAGE);
}

export function notPairedYet(daemonUrl) {
  const where = daemonUrl ? ` (nothing answers at ${daemonUrl})` : "";
  return new ShadeError("not_paired",
    `Not paired yet${where}: open Shade's options and click "Pair automatically" (it finds the app on any port), ` +
    "or paste the code from `shade token --pairing-code`. If Shade is not installed, start it with `shade daemon`.");
}

export function cancelled() {
  return new ShadeError("cancelled", "Cancelled.");
}

/**
 * Map a daemon HTTP answer to a ShadeError.
 * @param {number} status HTTP status
 * @param {any} body parsed JSON body, or null
 */
export function errorFromResponse(status, body) {
  const err = body && typeof body === "object" ? body.error || {} : {};
  const code = typeof err.code === "string" ? err.code : "";
  const detail = typeof err.message === "string" ? err.message : "";
  if (status === 401) return notPaired(detail || "the daemon refused the token");
  if (status === 403 && code === "bad_host") {
    return new ShadeError("bad_host", `${detail || "The Shade app refused the address used"}. Set the address to http://127.0.0.1:PORT in Shade's options.`);
  }
  if (status === 403) {
    return notPaired(detail || "the daemon does not know this extension yet; pair again");
  }
  if (status === 413 || code === "image_too_large") {
    return new ShadeError("image_too_large",
      `Image too large: ${detail || "the Shade app refused its size"}. Resize it or raise max_upload_mb / max_pixels in Shade's config.`);
  }
  if (code === "cancelled") return cancelled();
  if (detail) return new ShadeError(code || `http_${status}`, detail);
  return new ShadeError(`http_${status}`, `The Shade app answered ${status}; see its log (shade status).`);
}

/** A failed job record ({status:"failed", error}) as a ShadeError. */
export function errorFromJob(job) {
  const err = (job && job.error) || {};
  if (typeof err === "string") return new ShadeError("job_failed", err);
  if (err.code === "image_too_large") return errorFromResponse(413, { error: err });
  return new ShadeError(err.code || "job_failed", err.message || "Shading failed; see the Shade app's log.");
}

/** Anything thrown while talking to the daemon, as a ShadeError. */
export function asShadeError(error, daemonUrl) {
  if (error instanceof ShadeError) return error;
  if (error && error.name === "AbortError") return cancelled();
  // fetch() rejects with a TypeError when nothing listens on the port.
  if (error instanceof TypeError) return notRunning(daemonUrl);
  return new ShadeError("unexpected", String((error && error.message) || error));
}
