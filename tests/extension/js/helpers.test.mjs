// Pure helpers of the extension, run with node's built-in test runner:
//   node --test tests/extension/js/
import test from "node:test";
import assert from "node:assert/strict";

import { SSEParser } from "../../../extension/lib/sse.js";
import { parsePairingCode, normalizeDaemonUrl, parseNativeReply } from "../../../extension/lib/pairing.js";
import { shadedFilename, decodeDataUrl, extensionForMime, baseNameFromUrl } from "../../../extension/lib/images.js";
import { normalizeSites, matchPatternFor, isSiteEnabled, withSite, originOf, COMMON_SITES } from "../../../extension/lib/sites.js";
import { progressFraction, badgeText } from "../../../extension/lib/jobstate.js";
import { errorFromResponse, errorFromJob, asShadeError, ShadeError } from "../../../extension/lib/errors.js";
import { cleanDefaults, checkDefaults } from "../../../extension/lib/settings.js";
import "../../../extension/shared/common.js";

const C = globalThis.ShadeCommon;
const TOKEN = "A".repeat(20) + "b_-" + "9".repeat(20); // 43 chars

test("SSE parser: events split across chunks, CRLF, comments, multi-line data", () => {
  const p = new SSEParser();
  assert.deepEqual(p.push(": keep-alive\n\nevent: progress\r\ndata: {\"step\""), []);
  const evs = p.push(":1}\r\n\r\ndata: a\ndata: b\n\n");
  assert.deepEqual(evs.map((e) => [e.event, e.data]), [["progress", "{\"step\":1}"], ["message", "a\nb"]]);
  // a lone CR at a chunk end waits for a possible LF
  assert.deepEqual(p.push("data: x\r"), []);
  assert.deepEqual(p.push("\n\r\n").map((e) => e.data), ["x"]);
});

test("pairing code: good code gives loopback URL and token", () => {
  assert.deepEqual(parsePairingCode(` shade:47821:${TOKEN} `), { daemonUrl: "http://127.0.0.1:47821", token: TOKEN });
});

test("pairing code: malformed codes are refused with a hint", () => {
  for (const bad of ["", "shade:47821:short", `shade:99999:${TOKEN}`, `shade::${TOKEN}`, `http://x:1:${TOKEN}`, `shade:1:${TOKEN}x`]) {
    assert.throws(() => parsePairingCode(bad), /pairing code|out of range/, bad);
  }
});

test("daemon address: normalised, loopback only, port required", () => {
  assert.equal(normalizeDaemonUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
  assert.equal(normalizeDaemonUrl("http://localhost:5000/"), "http://localhost:5000");
  assert.throws(() => normalizeDaemonUrl("http://example.com:5000"), /only talks to this computer/);
  assert.throws(() => normalizeDaemonUrl("https://127.0.0.1:5000"), /plain http/);
  assert.throws(() => normalizeDaemonUrl("127.0.0.1"), /port/);
  assert.throws(() => normalizeDaemonUrl(""), /address/);
});

test("native host reply: ok reply parsed, refusal surfaces the host's reason", () => {
  assert.deepEqual(parseNativeReply({ ok: true, url: "http://127.0.0.1:4000", token: TOKEN, pairing_code: `shade:4000:${TOKEN}` }),
    { daemonUrl: "http://127.0.0.1:4000", token: TOKEN });
  assert.throws(() => parseNativeReply({ ok: false, error: "not the Shade extension" }), /not the Shade extension/);
  assert.throws(() => parseNativeReply(null), /no answer/);
  assert.throws(() => parseNativeReply({ ok: true, url: "http://evil.example:1", token: TOKEN }), /only talks/);
});

test("shaded filenames: suffix, extension from result type, unsafe characters", () => {
  assert.equal(shadedFilename("https://cdn.example/art/My%20Painting.jpeg?x=1", "image/jpeg"), "My Painting-shaded.jpg");
  assert.equal(shadedFilename("https://cdn.example/a/b.png", "image/png"), "b-shaded.png");
  assert.equal(shadedFilename("data:image/png;base64,AAAA", "image/png"), "image-shaded.png");
  assert.equal(shadedFilename("blob:https://x/1234", "image/webp"), "image-shaded.webp");
  assert.equal(shadedFilename("https://x/cat-shaded.png", "image/png"), "cat-shaded.png");
  assert.equal(shadedFilename("https://x/a%3Ab%7Cc.png", "image/png"), "a_b_c-shaded.png");
  assert.equal(shadedFilename("https://x/", "image/png"), "image-shaded.png");
  assert.equal(extensionForMime("image/jpeg; charset=binary"), "jpg");
  assert.equal(baseNameFromUrl("not a url"), "image");
});

test("data: URLs decode (base64 and percent-encoded)", () => {
  const { mime, bytes } = decodeDataUrl("data:image/png;base64,iVBORw0K");
  assert.equal(mime, "image/png");
  assert.deepEqual([...bytes.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(new TextDecoder().decode(decodeDataUrl("data:,a%20b").bytes), "a b");
  assert.throws(() => decodeDataUrl("https://x"), /data: URL/);
});

test("sites: exact origins, host patterns without port, add/remove", () => {
  assert.deepEqual(normalizeSites(["https://x.com/path", "bogus", "https://x.com", "http://127.0.0.1:8080/a", "ftp://a"]),
    ["http://127.0.0.1:8080", "https://x.com"]);
  assert.equal(matchPatternFor("http://127.0.0.1:8080"), "http://127.0.0.1/*");
  assert.equal(matchPatternFor("https://www.artstation.com"), "https://www.artstation.com/*");
  assert.ok(isSiteEnabled(["http://127.0.0.1:8080"], "http://127.0.0.1:8080"));
  assert.ok(!isSiteEnabled(["http://127.0.0.1:8080"], "http://127.0.0.1:8081"));
  assert.ok(!isSiteEnabled(["http://127.0.0.1:8080"], ""));
  assert.deepEqual(withSite(["https://a.com"], "https://b.com", true), ["https://a.com", "https://b.com"]);
  assert.deepEqual(withSite(["https://a.com", "https://b.com"], "https://a.com", false), ["https://b.com"]);
  assert.equal(originOf("chrome://extensions"), "");
  for (const s of COMMON_SITES) assert.equal(originOf(s.origin), s.origin);
});

test("job progress from the shapes the daemon may send", () => {
  assert.equal(progressFraction({ status: "running", progress: 0.25 }), 0.25);
  assert.equal(progressFraction({ status: "running", progress: { step: 3, total: 12 } }), 0.25);
  assert.equal(progressFraction({ step: 6, total: 12 }), 0.5);
  assert.equal(progressFraction({ status: "done" }), 1);
  assert.equal(progressFraction({ status: "queued" }), null);
  assert.equal(progressFraction({ status: "queued", progress: 0 }), null);
  assert.equal(badgeText({ status: "running", progress: 0.42 }), "42%");
  assert.equal(badgeText({ status: "queued" }), "…");
});

test("errors say what to do", () => {
  const down = asShadeError(new TypeError("Failed to fetch"), "http://127.0.0.1:1");
  assert.match(down.message, /The Shade app is not running on this computer\. Start Shade/);
  assert.match(down.details, /127\.0\.0\.1:1/);          // the address goes under "details"
  assert.equal(down.retry, true);
  assert.equal(asShadeError(new TypeError("x")).code, "not_running");
  const e401 = errorFromResponse(401, { error: { code: "unauthorized", message: "bad token" } });
  assert.equal(e401.code, "not_paired");
  assert.match(e401.message, /not paired/i);
  assert.equal(errorFromResponse(403, null).code, "not_paired");
  assert.equal(errorFromResponse(403, { error: { code: "origin_not_allowed", message: "origin x" } }).code, "not_paired");
  const host = errorFromResponse(403, { error: { code: "bad_host", message: "the Host header must be 127.0.0.1:PORT" } });
  assert.match(host.message, /set the address to http:\/\/127\.0\.0\.1/);
  assert.match(host.details, /Host header/);
  const big = errorFromResponse(413, { error: { code: "too_large", message: "upload is 80 MB; the limit is 64 MB" } });
  assert.equal(big.code, "image_too_large");
  assert.match(big.message, /larger than Shade accepts/);
  assert.match(big.details, /upload is 80 MB/);
  assert.equal(big.retry, false);                         // retrying the same image cannot help
  assert.equal(errorFromResponse(400, { error: { code: "image_too_large", message: "120 megapixels" } }).code, "image_too_large");
  const bad = errorFromResponse(400, { error: { code: "bad_image", message: "cannot identify image file" } });
  assert.match(bad.message, /could not read this file as an image/);
  assert.match(bad.details, /cannot identify image file/);
  assert.match(errorFromResponse(500, null).message, /could not shade this image/);
  assert.match(errorFromResponse(500, null).details, /500/);
  const job = errorFromJob({ status: "failed", error: { code: "bad_image", message: "truncated PNG" } });
  assert.match(job.message, /could not read this file/);
  assert.match(job.details, /truncated PNG/);
  const err = new ShadeError("x", "y");
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: "x", message: "y", retry: true });
});

test("defaults keep only known options", () => {
  assert.deepEqual(cleanDefaults({ mode: "cloak", intensity: "loud", quality: "", target: " dog ", extra: 1 }),
    { mode: "cloak", target: "dog" });
  assert.deepEqual(cleanDefaults(null), {});
  assert.deepEqual(cleanDefaults({ target: "<script>" }), {});
});

test("defaults are checked against the app's modes, targets and styles", () => {
  const status = { modes: ["poison", "cloak", "both"], targets: ["cat", "coffee"], styles: ["mine", "munch"],
    renders_missing_targets: false, defaults: { mode: "poison", target: "cat", style: "munch" } };
  assert.equal(checkDefaults({}, status), null);
  assert.equal(checkDefaults({ mode: "cloak", style: "mine" }, status), null);
  assert.match(checkDefaults({ target: "dog" }, status), /no image for the target "dog".*cat, coffee.*add a picture of a dog to the targets/);
  assert.equal(checkDefaults({ mode: "cloak", target: "dog" }, status), null); // cloak needs no target
  assert.equal(checkDefaults({ target: "dog" }, { ...status, renders_missing_targets: true }), null);
  assert.match(checkDefaults({ mode: "both", style: "rembrandt" }, status), /no style "rembrandt".*mine, munch/);
  assert.match(checkDefaults({ mode: "cloak" }, { ...status, modes: ["poison"] }), /cannot work/);
  assert.equal(checkDefaults({ target: "dog" }, null), null); // nothing to check against
  assert.deepEqual(cleanDefaults({ style: " Van-Gogh " }), { style: "van-gogh" });
});

test("content helpers: which files are images, base64 chunks round-trip, overall progress", () => {
  const files = [
    { name: "a.png", type: "image/png" }, { name: "notes.txt", type: "text/plain" },
    { name: "b.JPG", type: "" }, { name: "anim.gif", type: "image/gif" }, { name: "c.webp", type: "image/webp" },
    { name: "noext", type: "" },
  ];
  assert.deepEqual(C.imageIndexes(files), [0, 2, 4]);
  const bytes = new Uint8Array(100_003).map((_, i) => (i * 7919) % 256);
  const chunks = C.toBase64Chunks(bytes, 10_000);
  assert.equal(chunks.length, 11);
  assert.deepEqual(C.fromBase64Chunks(chunks), bytes);
  assert.deepEqual(C.fromBase64Chunks(C.toBase64Chunks(new Uint8Array(0))), new Uint8Array(0));
  assert.equal(C.overallProgress(1, 0.5, 2), 0.75);
  assert.equal(C.overallProgress(0, 7, 2), 0.5);
  assert.equal(C.overallProgress(0, 0.5, 0), 0);
});
