// Pairing codes and daemon addresses. Pure: no browser APIs.

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Normalise a daemon address typed by the user ("127.0.0.1:47821",
 * "http://localhost:47821/") to "http://host:port". Only loopback addresses are
 * accepted: the daemon never listens elsewhere, and the token must not leave the machine.
 * @param {string} text
 * @returns {string}
 */
export function normalizeDaemonUrl(text) {
  let raw = String(text || "").trim();
  if (!raw) throw new Error("Enter the Shade app's address, e.g. http://127.0.0.1:47821");
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) raw = `http://${raw}`;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${text}" is not an address; use e.g. http://127.0.0.1:47821`);
  }
  if (url.protocol !== "http:") throw new Error("The Shade app speaks plain http on this computer; use http://127.0.0.1:PORT");
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new Error(`Shade only talks to this computer (127.0.0.1 or localhost), not ${url.hostname}`);
  }
  if (!url.port) throw new Error("Add the port, e.g. http://127.0.0.1:47821 (the Shade app's tray menu shows it)");
  return `http://${url.hostname}:${url.port}`;
}

/**
 * Parse a pairing code "shade:<port>:<token>" as shown by `shade token --pairing-code`.
 * @param {string} text
 * @returns {{daemonUrl: string, token: string}}
 */
export function parsePairingCode(text) {
  const code = String(text || "").trim();
  const m = /^shade:(\d{1,5}):([A-Za-z0-9_-]{43})$/.exec(code);
  if (!m) {
    throw new Error("That is not a Shade pairing code. It looks like shade:47821:… — copy it from Shade's tray menu (\"Copy pairing code\").");
  }
  const port = Number(m[1]);
  if (port < 1 || port > 65535) throw new Error(`Port ${port} in the pairing code is out of range.`);
  return { daemonUrl: `http://127.0.0.1:${port}`, token: m[2] };
}

/**
 * Validate a native host reply {ok, url, token, pairing_code}.
 * @returns {{daemonUrl: string, token: string}}
 */
export function parseNativeReply(reply) {
  if (!reply || typeof reply !== "object") throw new Error("The Shade native host sent no answer.");
  if (!reply.ok) throw new Error(reply.error || "The Shade native host refused to pair.");
  if (reply.pairing_code) {
    const fromCode = parsePairingCode(reply.pairing_code);
    return { daemonUrl: reply.url ? normalizeDaemonUrl(reply.url) : fromCode.daemonUrl, token: fromCode.token };
  }
  if (typeof reply.token !== "string" || !reply.url) throw new Error("The Shade native host's answer lacks url or token.");
  return { daemonUrl: normalizeDaemonUrl(reply.url), token: reply.token };
}
