// Names and bytes of images. Pure: no browser APIs.

const EXT_BY_MIME = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };
export const SHADED_SUFFIX = "-shaded";

export function extensionForMime(mime) {
  return EXT_BY_MIME[String(mime || "").split(";")[0].trim().toLowerCase()] || "png";
}

/** Characters that are not allowed (or are trouble) in a download filename. */
function cleanName(name) {
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\u0000-\u001f\u007f<>:"/\\|?*~]+/g, "_").replace(/^[.\s]+|[.\s]+$/g, "");
  return cleaned.slice(0, 120) || "image";
}

/** The last path segment of a URL without its extension, or "image". */
export function baseNameFromUrl(url) {
  try {
    const u = new URL(url);
    if (u.protocol === "data:" || u.protocol === "blob:") return "image";
    const last = decodeURIComponent(u.pathname.split("/").filter(Boolean).pop() || "");
    const dot = last.lastIndexOf(".");
    return cleanName(dot > 0 ? last.slice(0, dot) : last);
  } catch {
    return "image";
  }
}

/** "photo.jpg" → "photo-shaded.jpg"; the extension follows the result's type. */
export function shadedFilename(sourceUrlOrName, resultMime) {
  const source = String(sourceUrlOrName || "");
  let base;
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) base = baseNameFromUrl(source);
  else {
    const dot = source.lastIndexOf(".");
    base = cleanName(dot > 0 ? source.slice(0, dot) : source);
  }
  if (base.endsWith(SHADED_SUFFIX)) base = base.slice(0, -SHADED_SUFFIX.length);
  return `${base}${SHADED_SUFFIX}.${extensionForMime(resultMime)}`;
}

/**
 * Decode a data: URL.
 * @returns {{mime: string, bytes: Uint8Array}}
 */
export function decodeDataUrl(url) {
  const m = /^data:([^,]*?),(.*)$/s.exec(String(url));
  if (!m) throw new Error("not a data: URL");
  const params = m[1].split(";");
  const mime = (params[0] || "text/plain").toLowerCase();
  const isBase64 = params.slice(1).some((p) => p.toLowerCase() === "base64");
  let bytes;
  if (isBase64) {
    const bin = atob(m[2].replace(/\s+/g, ""));
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  } else {
    bytes = new TextEncoder().encode(decodeURIComponent(m[2]));
  }
  return { mime, bytes };
}
