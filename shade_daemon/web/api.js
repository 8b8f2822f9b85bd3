// The dashboard's one door to the daemon: same-origin fetches with the session cookie, the
// CSRF token on every change, JSON errors turned into ApiError. Also a small DOM builder
// (text goes in as text, never as HTML).
const csrf = document.querySelector('meta[name="shade-csrf"]')?.content || "";

export class ApiError extends Error {
  constructor(status, code, message, details = "") {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
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
    throw new ApiError(res.status, err.code || "http_error", err.message || "Shade could not do that; try again.", details);
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

export function showMessage(text, isError = false) {
  const box = document.getElementById("message");
  box.textContent = text || "";
  box.classList.toggle("error", Boolean(isError));
  box.hidden = !text;
}

export function fmt(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}
