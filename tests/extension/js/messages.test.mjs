// Every message the extension can show a person, checked against the words that belong only
// under "details": command names, setting keys, HTTP and exception text (issue 28). The list
// is gathered from the sources themselves (the MESSAGES table, every literal handed to the
// cards, notifications and pages), so a new message cannot slip past it.
//   node --test tests/extension/js/
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { MESSAGES, errorFromResponse, errorFromJob, asShadeError } from "../../../extension/lib/errors.js";
import { WEAK_RULES, verdictOf, verdictLine, badgeFor } from "../../../extension/lib/verdict.js";

const EXT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "extension");

// Words a person must never meet outside "details".
const FORBIDDEN = [
  /`/, /\bshade (daemon|token|install|anchors|styles|status|open|protect|models)\b/i, /--[a-z]/,
  /\b[a-z]+_[a-z_]+\b/,                 // setting keys and error codes (max_upload_mb, bad_image)
  /Traceback|Exception|TypeError|OSError|PIL\b|errno|Bearer|Authorization|HTTP \d|\b[45]\d\d\b/,
  /Open Shade's options/,               // the issue: said on the options page itself
];

function clean(text, where) {
  for (const bad of FORBIDDEN) assert.doesNotMatch(text, bad, `${where}: ${JSON.stringify(text)}`);
}

function sources(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(p));
    else if (/\.(js|html)$/.test(entry.name)) out.push(p);
  }
  return out;
}

test("every message in the table speaks to people and says what to do", () => {
  for (const [code, [message, retry]] of Object.entries(MESSAGES)) {
    clean(message, code);
    assert.equal(typeof retry, "boolean");
    if (code !== "cancelled" && code !== "no_image") assert.ok(message.split(/[.!?]\s/).length >= 2 || /\. |, then /.test(message), `${code} says what to do`);
  }
});

test("daemon and network errors keep their developer words under details", () => {
  const answers = [
    [401, { error: { code: "unauthorized", message: "missing Authorization: Bearer header" } }],
    [400, { error: { code: "bad_image", message: "cannot identify image file <_io.BytesIO>; PIL.UnidentifiedImageError" } }],
    [400, { error: { code: "anchor_not_found", message: "no anchor 'dog': shade anchors add dog IMAGE" } }],
    [413, { error: { code: "upload_too_large", message: "over max_upload_mb" } }],
    [503, { error: { code: "model_not_found", message: "run `shade models pull taef2`" } }],
    [500, { error: { code: "internal_error", message: "Traceback (most recent call last)" } }],
    [418, null],
  ];
  for (const [status, body] of answers) {
    const e = errorFromResponse(status, body);
    clean(e.message, `answer ${status}`);
    if (body) assert.ok(e.details.includes(body.error.message), "the developer's words are kept under details");
  }
  clean(errorFromJob({ status: "failed", error: { code: "storage_error", message: "OSError: [Errno 28]" } }).message, "job");
  clean(asShadeError(new TypeError("Failed to fetch"), "http://127.0.0.1:9").message, "network");
  clean(asShadeError(new Error("TypeError: x is undefined")).message, "unexpected");
});

test("every literal message in the extension's sources is clean", () => {
  // Strings handed to people: cards (progress/done/warn/ask/decide/note), notifications,
  // page messages (say, textContent), and pages' own text.
  const calls = /\b(?:progress|done|warn|ask|decide|note|notify|say|heading)\(\s*(?:"[^"]*"\s*,\s*)?(`[^`]*`|"[^"]*")/g;
  let checked = 0;
  for (const file of sources(EXT)) {
    const text = readFileSync(file, "utf8");
    if (file.endsWith(".html")) {
      const visible = text.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/g, "").replace(/<[^>]+>/g, " ")
        .replace(/\s+/g, " ");
      for (const bad of [/`/, /\bshade (daemon|token|install|anchors|status)\b/i, /Open Shade's options/]) {
        assert.doesNotMatch(visible, bad, file);
      }
      checked++;
      continue;
    }
    for (const m of text.matchAll(calls)) {
      const literal = m[1].slice(1, -1).replace(/\$\{[^}]*\}/g, "X");
      for (const bad of [/`/, /\bshade (daemon|token|install|anchors|status)\b/i, /Traceback|Bearer/, /Open Shade's options/]) {
        assert.doesNotMatch(literal, bad, `${file}: ${literal}`);
      }
      checked++;
    }
  }
  assert.ok(checked > 20, `only ${checked} messages found: the pattern above no longer finds them`);
});

test("the verdict's words never call a weak result protected", () => {
  const weak = verdictOf({ verdict: { level: "weak", words: "weakly protected: a model trained on it would barely notice",
    advice: "Shade it again, stronger", next_intensity: "high" } });
  assert.match(verdictLine("art.png", weak), /^art\.png: weakly protected/);
  assert.notEqual(badgeFor(weak).text, "✓");
  // A daemon that gave no verdict: never "protected" unless its measurements say so.
  assert.equal(verdictOf({ measurements: {} }).level, "weak");
  assert.equal(verdictOf({ measurements: { weak: false } }).level, "protected");
  assert.equal(badgeFor(verdictOf({ measurements: { weak: false } })).text, "✓");
  assert.deepEqual(Object.keys(WEAK_RULES), ["send", "hold", "none"]);
  for (const words of Object.values(WEAK_RULES)) clean(words, "rule");
});

test("the dashboard says the daemon's errors in people's words, the daemon's own under details", async () => {
  const { PEOPLE, peopleWords } = await import("../../../shade_daemon/web/api.js");
  for (const [code, message] of Object.entries(PEOPLE)) {
    clean(message, `dashboard ${code}`);
    const said = peopleWords(code, "over max_upload_mb (`shade config`)");
    assert.equal(said.message, message);
    assert.ok(said.details.includes("max_upload_mb"), "the developer's words are kept under details");
  }
  for (const code of ["upload_too_large", "image_too_large", "device_unavailable", "disk_full", "storage_error"]) {
    assert.ok(code in PEOPLE, `${code} has people's words`);
  }
});
