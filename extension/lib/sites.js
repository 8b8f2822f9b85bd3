// Which sites get their uploads shaded. Pure: no browser APIs.

/** Common places artists post; the options page offers to enable them at once. */
export const COMMON_SITES = Object.freeze([
  { name: "ArtStation", origin: "https://www.artstation.com" },
  { name: "DeviantArt", origin: "https://www.deviantart.com" },
  { name: "Instagram", origin: "https://www.instagram.com" },
  { name: "X (Twitter)", origin: "https://x.com" },
  { name: "Bluesky", origin: "https://bsky.app" },
  { name: "Tumblr", origin: "https://www.tumblr.com" },
  { name: "Pixiv", origin: "https://www.pixiv.net" },
  { name: "Cara", origin: "https://cara.app" },
  { name: "Behance", origin: "https://www.behance.net" },
  { name: "Pinterest", origin: "https://www.pinterest.com" },
  { name: "Facebook", origin: "https://www.facebook.com" },
  { name: "Threads", origin: "https://www.threads.net" },
  { name: "Reddit", origin: "https://www.reddit.com" },
  { name: "Mastodon (mastodon.social)", origin: "https://mastodon.social" },
]);

/** The origin ("https://host[:port]") of a URL, or "" for non-web URLs. */
export function originOf(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : "";
  } catch {
    return "";
  }
}

/** A sorted, de-duplicated list of valid web origins. */
export function normalizeSites(list) {
  const out = new Set();
  for (const item of Array.isArray(list) ? list : []) {
    const o = originOf(String(item));
    if (o) out.add(o);
  }
  return [...out].sort();
}

/**
 * The host-permission / content-script match pattern for an origin. Match
 * patterns cannot portably name a port, so the pattern covers the host and the
 * content script asks the background whether its exact origin is enabled.
 */
export function matchPatternFor(origin) {
  const u = new URL(origin);
  return `${u.protocol}//${u.hostname}/*`;
}

/** Whether `origin` is one of the enabled sites (exact origin match). */
export function isSiteEnabled(sites, origin) {
  return !!origin && normalizeSites(sites).includes(origin);
}

/** `sites` with `origin` added or removed. */
export function withSite(sites, origin, enabled) {
  const rest = normalizeSites(sites).filter((o) => o !== origin);
  return enabled ? normalizeSites([...rest, origin]) : rest;
}
