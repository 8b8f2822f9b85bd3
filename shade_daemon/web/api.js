// The dashboard's one door to the daemon: same-origin fetches with the session cookie, the
// CSRF token on every change, JSON errors turned into ApiError. Also a small DOM builder
// (text goes in as text, never as HTML).
const csrf = globalThis.document?.querySelector('meta[name="shade-csrf"]')?.content || "";

export class ApiError extends Error {
  constructor(status, code, message, details = "") {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// What the daemon's error codes mean for the person at the page, and what to do. The daemon's
// own message (setting keys, commands: written for developers) goes under "details".
export const PEOPLE = Object.freeze({
  upload_too_large: "This file is larger than Shade accepts. Pick a smaller copy, or raise \u201cLargest upload\u201d in Settings.",
  image_too_large: "This image has more pixels than Shade accepts. Pick a smaller copy, or raise \u201cLargest image\u201d in Settings.",
  bad_image: "Shade could not read this file as an image. Save it again as PNG, JPEG or WebP, then pick it again.",
  model_not_found: "Shade's model is not installed. Install Shade again to get it, then try again.",
  device_unavailable: "Shade cannot use the graphics card it is set to use. Set \u201cDevice\u201d to automatic in Settings.",
  disk_full: "The disk is full, so Shade cannot keep the image. Free some space, then try again.",
  storage_error: "Shade cannot write to its folder. Check that the folders shown in Settings can be written, then try again.",
  queue_full: "Shade is busy with many other images. Try again in a minute.",
  worker_unavailable: "Shade's shading stopped and is starting again. Try again in a moment.",
});

/** {message, details} for an error code and the daemon's own message. */
export function peopleWords(code, message) {
  const words = PEOPLE[code];
  return words ? { message: words, details: `${code}: ${message || ""}` } : { message: message || "", details: "" };
}

// A refused session is what a daemon restart leaves: say that, not the daemon's words for developers.
const SIGNED_OUT = "This page is no longer signed in to Shade (Shade was restarted). Sign in again: click " +
  "\u201cOpen Shade\u201d in the browser extension's menu or in Shade's tray menu.";

export async function api(path, { method = "GET", json, form } = {}) {
  const headers = {};
  let body;
  if (method !== "GET") headers["X-Shade-CSRF"] = csrf;
  if (form) body = form;
  else if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await res.json() : null;
  if (!res.ok) {
    const err = (data && data.error) || {};
    const details = `${err.code || "http_error"}: ${err.message || `HTTP ${res.status}`}`;
    if (res.status === 401) throw new ApiError(401, err.code || "unauthorized", SIGNED_OUT, details);
    const said = peopleWords(err.code, err.message);
    throw new ApiError(res.status, err.code || "http_error", said.message || "Shade could not do that; try again.",
      said.details || details);
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Say `what` (text, or an error whose details are folded under "details") in the message box. */
export function showMessage(what, isError = false) {
  const box = document.getElementById("message");
  const text = what instanceof Error ? what.message : what;
  const details = what instanceof Error ? what.details : "";
  box.replaceChildren(text || "");
  if (details) box.append(el("details", {}, el("summary", {}, "details"), el("div", { class: "detail" }, details)));
  box.classList.toggle("error", Boolean(isError));
  box.hidden = !text;
}

export function fmt(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}
