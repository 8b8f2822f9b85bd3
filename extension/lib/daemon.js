// The HTTP client for the Shade daemon. Only the background uses it: content
// scripts and pages never talk to the daemon and never see the token.
import { ShadeError, asShadeError, errorFromResponse, notPaired, cancelled } from "./errors.js";
import { readEvents } from "./sse.js";
import { TERMINAL_STATES } from "./jobstate.js";

export class DaemonClient {
  /** @param {string} baseUrl e.g. "http://127.0.0.1:47821" @param {string} token */
  constructor(baseUrl, token) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, "");
    this.token = token || "";
  }

  /** fetch() a /v1 path; throws ShadeError for network failures and non-2xx answers. */
  async request(path, { method = "GET", body, signal, auth = true, headers = {} } = {}) {
    if (auth && !this.token) throw notPaired();
    const h = { ...headers };
    if (auth) h.Authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, body, signal, headers: h, cache: "no-store", credentials: "omit" });
    } catch (e) {
      throw asShadeError(e, this.baseUrl);
    }
    if (!res.ok) {
      let parsed = null;
      try { parsed = await res.json(); } catch { /* not JSON */ }
      throw errorFromResponse(res.status, parsed);
    }
    return res;
  }

  async json(path, opts) {
    const res = await this.request(path, opts);
    return res.json();
  }

  health(signal) { return this.json("/v1/health", { auth: false, signal }); }
  status(signal) { return this.json("/v1/status", { signal }); }
  pair() { return this.json("/v1/pair", { method: "POST" }); }
  job(id, signal) { return this.json(`/v1/jobs/${encodeURIComponent(id)}`, { signal }); }
  resultUrl(id) { return `${this.baseUrl}/v1/jobs/${encodeURIComponent(id)}/result`; }
  pause() { return this.json("/v1/pause", { method: "POST" }); }
  styles() { return this.json("/v1/styles"); }

  /** Add a style image to the app's style library under `name`; resolves with the library. */
  addStyle(name, blob, filename) {
    const form = new FormData();
    form.append("name", name);
    form.append("image", blob, filename || "style");
    return this.json("/v1/styles", { method: "POST", body: form });
  }

  deleteStyle(name) { return this.json(`/v1/styles/${encodeURIComponent(name)}`, { method: "DELETE" }); }
  resume() { return this.json("/v1/resume", { method: "POST" }); }

  /** A one-time login link to the app's dashboard (optionally at a view and item); {url, expires_in}. */
  dashboardLink(view, item) {
    const body = JSON.stringify({ ...(view ? { view } : {}), ...(item ? { item } : {}) });
    return this.json("/v1/dashboard/link", { method: "POST", body, headers: { "Content-Type": "application/json" } });
  }

  /** Audit a posted copy: the app finds its original in the history; resolves with the report. */
  audit(blob, filename) {
    const form = new FormData();
    form.append("posted", blob, filename || "posted");
    return this.json("/v1/audits", { method: "POST", body: form });
  }

  async cancel(id) {
    await this.request(`/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  /**
   * Upload an image; returns the job record {id, status}.
   * @param {Blob} blob @param {string} filename @param {Record<string,string>} options
   */
  async submit(blob, filename, options, signal) {
    const form = new FormData();
    form.append("image", blob, filename || "image");
    for (const [k, v] of Object.entries(options || {})) if (v) form.append(k, String(v));
    return this.json("/v1/jobs", { method: "POST", body: form, signal });
  }

  /**
   * Wait for a job to finish, reporting progress; SSE first, polling if the
   * stream is unavailable or ends early. Resolves with the final job record.
   */
  async wait(id, onProgress, signal) {
    try {
      const res = await this.request(`/v1/jobs/${encodeURIComponent(id)}/events`, {
        signal, headers: { Accept: "text/event-stream" },
      });
      for await (const ev of readEvents(res.body)) {
        let rec;
        try { rec = JSON.parse(ev.data); } catch { continue; }
        if (!rec || typeof rec !== "object") continue;
        if (onProgress) onProgress(rec);
        if (TERMINAL_STATES.has(rec.status)) break;
      }
    } catch (e) {
      if (signal && signal.aborted) throw cancelled();
      if (e instanceof ShadeError && (e.code === "not_paired" || e.code === "not_running")) throw e;
      // otherwise fall back to polling
    }
    for (;;) {
      if (signal && signal.aborted) throw cancelled();
      const rec = await this.job(id, signal).catch((e) => { throw asShadeError(e, this.baseUrl); });
      if (onProgress) onProgress(rec);
      if (TERMINAL_STATES.has(rec.status)) return rec;
      await sleep(400, signal);
    }
  }

  /** The shaded image: {blob, mime, filename}. */
  async result(id, signal) {
    const res = await this.request(`/v1/jobs/${encodeURIComponent(id)}/result`, { signal });
    const blob = await res.blob();
    const mime = (res.headers.get("Content-Type") || blob.type || "image/png").split(";")[0].trim();
    const cd = res.headers.get("Content-Disposition") || "";
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    return { blob, mime, filename: m ? decodeURIComponent(m[1]) : "" };
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(t); reject(cancelled()); }, { once: true });
  });
}
