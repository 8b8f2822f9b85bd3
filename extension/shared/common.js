// Pure helpers shared by the content scripts and the background.
// A classic script (content scripts cannot be ES modules); it publishes
// globalThis.ShadeCommon, so the background imports it for its side effect and
// node's test runner can load it the same way.
(function (root) {
  "use strict";

  // Formats the daemon can shade (it sniffs the bytes; this only picks which
  // files to send, so anything else passes through unchanged).
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
  const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "webp"];

  // Raw bytes per message between content script and background. Chrome caps a
  // message at 64 MiB of JSON; 4 MiB raw is ~5.4 MiB of base64.
  const CHUNK_BYTES = 4 * 1024 * 1024;

  /** True when a File/Blob-like {name, type} looks like an image the daemon can shade. */
  function isShadeableImage(file) {
    if (!file) return false;
    const type = String(file.type || "").toLowerCase();
    if (IMAGE_TYPES.includes(type)) return true;
    if (type) return false; // a declared non-image (or GIF/SVG) type passes through
    const name = String(file.name || "").toLowerCase();
    const dot = name.lastIndexOf(".");
    return dot >= 0 && IMAGE_EXTENSIONS.includes(name.slice(dot + 1));
  }

  /** Indexes of the files to shade, in order. */
  function imageIndexes(files) {
    const out = [];
    Array.from(files || []).forEach((f, i) => { if (isShadeableImage(f)) out.push(i); });
    return out;
  }

  /** Base64 of a Uint8Array (chunked so large images do not blow the call stack). */
  function bytesToBase64(bytes) {
    let binary = "";
    const step = 0x8000;
    for (let i = 0; i < bytes.length; i += step) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
    }
    return btoa(binary);
  }

  /** Uint8Array from base64. */
  function base64ToBytes(text) {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  /** Split bytes into base64 chunks of at most `size` raw bytes. */
  function toBase64Chunks(bytes, size) {
    const step = size || CHUNK_BYTES;
    const chunks = [];
    for (let i = 0; i < bytes.length; i += step) chunks.push(bytesToBase64(bytes.subarray(i, i + step)));
    if (chunks.length === 0) chunks.push("");
    return chunks;
  }

  /** Join base64 chunks back into one Uint8Array. */
  function fromBase64Chunks(chunks) {
    const parts = chunks.map(base64ToBytes);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** Overall progress (0..1) over `count` files when file `index` is at `fraction`. */
  function overallProgress(index, fraction, count) {
    if (!count) return 0;
    const f = Math.min(1, Math.max(0, Number(fraction) || 0));
    return Math.min(1, (index + f) / count);
  }

  root.ShadeCommon = Object.freeze({
    IMAGE_TYPES, CHUNK_BYTES, isShadeableImage, imageIndexes,
    bytesToBase64, base64ToBytes, toBase64Chunks, fromBase64Chunks, overallProgress,
  });
})(globalThis);
