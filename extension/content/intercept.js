// Upload interception on sites where the user switched Shade on.
//
// Capture-phase listeners on the window see a file input's input/change
// (inside open shadow roots too: `input` is composed, and its composedPath()
// names the real input, whose root then gets a capture `change` guard), and
// drop and paste. Image files go to the background to be shaded — this script
// never talks to the daemon — then replace the originals through a
// DataTransfer and the event is dispatched again. Other files pass unchanged.
// If shading fails the page gets nothing until the user picks retry, send
// original, or cancel.
(function () {
  "use strict";
  if (globalThis.__shadeIntercept) {
    globalThis.__shadeIntercept.refresh();
    return;
  }
  const C = globalThis.ShadeCommon;
  const Overlay = globalThis.ShadeOverlay;
  const ext = globalThis.browser ?? globalThis.chrome;

  // "unknown" until the background answers whether this exact origin is on. An
  // upload in that first moment is held until the answer comes, then shaded or
  // handed over unchanged.
  let state = "unknown";
  const ours = new WeakSet(); // events we dispatched
  const produced = new WeakSet(); // files we made (never shaded twice)
  const busy = new WeakSet(); // file inputs being processed
  const pendingForms = new Map(); // form -> number of its file inputs being shaded
  const heldSubmits = new Map(); // form -> {submitter} whose submit waits for shading
  const cards = new WeakMap(); // file input -> its progress card
  const guardedRoots = new WeakSet();

  async function refresh() {
    try {
      const answer = await ext.runtime.sendMessage({ type: "upload-enabled" });
      state = answer && answer.enabled ? "on" : "off";
    } catch {
      state = "off";
    }
  }
  globalThis.__shadeIntercept = { refresh: () => refresh().then(scheduleFrameCheck) };
  ext.runtime.onMessage.addListener((msg) => {
    if (msg && msg.type === "shade-sites-changed") refresh().then(scheduleFrameCheck);
  });
  const firstAnswer = refresh();

  /** Shade if this site is on; unchanged files if it turned out to be off. */
  async function decide(files, input) {
    if (state === "unknown") await firstAnswer;
    return state === "on" ? processFiles(files, input) : files;
  }

  const WEAK_WORDS = "weakly protected: a model trained on it would barely notice";

  /** "art.png: shading 12 of 26 · about 20 s left · 40%", from a progress message. */
  function progressWords(name, msg, whole) {
    const parts = [msg.words || (msg.status === "queued" ? "waiting in the queue" : "starting")];
    if (msg.eta) parts.push(msg.eta);
    if (typeof whole === "number" && msg.status !== "queued") parts.push(`${Math.round(whole * 100)}%`);
    return `Shading ${name} before upload: ${parts.join(" · ")}`;
  }

  function shadeable(files) {
    return C.imageIndexes(files).filter((i) => !produced.has(files[i]));
  }

  function codedError(code, message) {
    const e = new Error(message);
    e.code = code;
    return e;
  }

  /** Shade one file through the background; resolves with {file, verdict, rule}: the shaded
   * File, the daemon's verdict on it and this site's rule for weak results. `intensity`:
   * "" for the user's default, or the step up the ladder of "Shade again, stronger". */
  function shadeFile(file, onProgress, signal, intensity) {
    return new Promise((resolve, reject) => {
      let settled = false;
      let result = null;
      const chunks = [];
      const port = ext.runtime.connect({ name: "shade-upload" });
      const keepAlive = setInterval(() => { try { port.postMessage({ type: "ping" }); } catch { /* gone */ } }, 15000);
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearInterval(keepAlive);
        signal.removeEventListener("abort", onAbort);
        try { port.disconnect(); } catch { /* already gone */ }
        fn(value);
      };
      const onAbort = () => settle(reject, codedError("cancelled", "Cancelled."));
      signal.addEventListener("abort", onAbort, { once: true });
      port.onDisconnect.addListener(() => settle(reject, codedError("extension_gone",
        "Shade's extension stopped while shading; reload the page and try again.")));
      port.onMessage.addListener((msg) => {
        if (!msg) return;
        if (msg.type === "progress") onProgress(msg);
        else if (msg.type === "result") result = msg;
        else if (msg.type === "chunk") chunks.push(msg.data);
        else if (msg.type === "error") {
          const e = codedError(msg.error.code, msg.error.message);
          e.details = msg.error.details || "";
          e.retry = msg.error.retry !== false;
          settle(reject, e);
        }
        else if (msg.type === "done" && result) {
          const shaded = new File([C.fromBase64Chunks(chunks)], file.name,
            { type: result.mime || file.type, lastModified: file.lastModified });
          produced.add(shaded);
          settle(resolve, { file: shaded, name: file.name || "your image", verdict: result.verdict, rule: result.rule });
        }
      });
      file.arrayBuffer().then((buf) => {
        if (settled) return;
        port.postMessage({ type: "start", name: file.name, mime: file.type, size: file.size, intensity: intensity || "" });
        for (const data of C.toBase64Chunks(new Uint8Array(buf))) port.postMessage({ type: "chunk", data });
        port.postMessage({ type: "end" });
      }, (e) => settle(reject, codedError("read_failed", `Could not read ${file.name}: ${e.message || e}`)));
    });
  }

  /**
   * Shade the image files among `files`. Resolves with the list to hand to the
   * page (non-images untouched, in the same order), or null when the user cancelled.
   */
  async function processFiles(files, input) {
    const indexes = shadeable(files);
    const out = files.slice();
    const ui = Overlay.create();
    if (input) cards.set(input, ui);
    if (input && heldSubmits.has(formOf(input))) ui.note(HELD_NOTE);
    const controller = new AbortController();
    ui.onCancel(() => controller.abort());
    const names = indexes.map((i) => files[i].name || "your image");
    const label = indexes.length === 1 ? names[0] : `${indexes.length} images`;
    ui.heading(`Shade: ${label}`);
    const shaded = [];
    let intensity = "";
    let k = 0;
    for (;;) {
      try {
        for (; k < indexes.length; k++) {
          const at = k;
          ui.progress(`Shading ${names[at]} before upload…`, C.overallProgress(at, 0, indexes.length));
          const got = await shadeFile(files[indexes[at]], (msg) => {
            const whole = C.overallProgress(at, msg.fraction, indexes.length);
            ui.progress(progressWords(names[at], msg, whole), whole);
          }, controller.signal, intensity);
          out[indexes[at]] = got.file;
          shaded[at] = got;
        }
        const weak = shaded.filter((s) => !s.verdict || s.verdict.level !== "protected");
        if (!weak.length) {
          ui.done(indexes.length === 1 ? `${label}: protected. Uploading the shaded image.`
            : `${label}: all protected. Uploading the shaded images.`);
          return out;
        }
        const verdicts = weak.map((s) => `${s.name}: ${(s.verdict && s.verdict.words) || WEAK_WORDS}.`).join("\n");
        const rule = weak[0].rule || "hold";
        if (rule === "send") {
          ui.done(`${verdicts}\nSent anyway, as you chose for this site.`, 8000);
          return out;
        }
        if (rule === "none") {
          ui.warn("Not sent", `${verdicts}\nNothing was sent, as you chose for this site.`);
          return null;
        }
        const next = weak.map((s) => s.verdict && s.verdict.next_intensity).find(Boolean) || "";
        const heading = weak.every((s) => s.verdict && s.verdict.level === "not protected") ? "Not protected"
          : "Weakly protected";
        const ask = next ? "Send it anyway, shade it again stronger (a little more visible), or send nothing?"
          : "It is already at the strongest intensity. Send it anyway, or send nothing?";
        const choice = await ui.decide(heading, `${verdicts}\nThe site has not received it yet. ${ask}`, [
          ...(next ? [["stronger", "Shade again, stronger", true]] : []),
          ["send", "Send anyway", !next],
          ["none", "Send nothing", false],
        ]);
        if (choice === "send") {
          ui.done(`${verdicts}\nSent anyway, as you chose.`, 4000);
          return out;
        }
        if (choice === "none") {
          ui.close();
          return null;
        }
        intensity = next;          // shade every image again, from the originals, one step stronger
        k = 0;
        shaded.length = 0;
        for (let i = 0; i < indexes.length; i++) out[indexes[i]] = files[indexes[i]];
      } catch (err) {
        if (err.code === "cancelled" || controller.signal.aborted) {
          ui.close();
          return null;
        }
        let problem = err;
        let choice;
        for (;;) {
          choice = await ui.ask(problem.message || String(problem), { retry: problem.retry !== false,
            details: problem.details, start: problem.code === "not_running" });
          if (choice !== "start") break;
          ui.progress("Starting Shade…", 0);
          problem = await startShade();          // null once Shade answers
          if (!problem) {
            choice = "retry";
            break;
          }
        }
        if (choice === "retry") continue;
        ui.close();
        if (choice === "original") return out.map((f, i) => (indexes.indexOf(i) >= k ? files[i] : f));
        return null;
      }
    }
  }

  /** Ask the background to start the Shade app through its native helper (the user pressed
   * "Start Shade"): null once it answers, else the error to show. */
  async function startShade() {
    try {
      const reply = await ext.runtime.sendMessage({ type: "start-daemon" });
      if (reply && reply.ok) return null;
      const e = (reply && reply.error) || {};
      return { code: e.code || "start_failed", message: e.message || "Shade did not start.", details: e.details || "",
        retry: true };
    } catch (e) {
      return { code: "extension_gone", message: "Shade's extension stopped. Reload the page and try again.",
        details: String(e && e.message || e), retry: true };
    }
  }

  function transfer(files, strings) {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(f);
    for (const [type, value] of strings || []) {
      try { dt.setData(type, value); } catch { /* read-only type */ }
    }
    return dt;
  }

  function stringItems(dt) {
    const out = [];
    for (const type of Array.from(dt.types || [])) {
      if (type !== "Files") out.push([type, dt.getData(type)]);
    }
    return out;
  }

  function dispatch(target, event) {
    ours.add(event);
    (target && target.isConnected ? target : document).dispatchEvent(event);
  }

  // ---- holding a form's submit while its file input is being shaded ----
  // The input is empty while its files are shaded; a submit meanwhile would post without
  // the image. It is held (capture phase, before the site's handlers) and sent again with
  // requestSubmit() once shading ends, with the shaded file, or the card says it was not.

  const HELD_NOTE = "Your post is waiting: it is sent when shading ends.";

  function formOf(input) {
    return input.form || (input.closest && input.closest("form")) || null;
  }

  function onSubmit(event) {
    const form = event.target;
    if (ours.has(event) || !(form instanceof HTMLFormElement) || !pendingForms.get(form)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!heldSubmits.has(form)) heldSubmits.set(form, { submitter: event.submitter || null });
    for (const input of form.querySelectorAll("input[type=file]")) {
      const ui = cards.get(input);
      if (ui) ui.note(HELD_NOTE);
    }
  }

  function beginForm(input) {
    const form = formOf(input);
    if (form) pendingForms.set(form, (pendingForms.get(form) || 0) + 1);
  }

  /** Shading of `input` ended; `delivered`: the page got files (shaded, or the original by choice). */
  function endForm(input, delivered) {
    const form = formOf(input);
    if (!form) return;
    const left = (pendingForms.get(form) || 1) - 1;
    if (left > 0) { pendingForms.set(form, left); return; }
    pendingForms.delete(form);
    const held = heldSubmits.get(form);
    if (!held) return;
    heldSubmits.delete(form);
    if (!delivered) {
      Overlay.create().warn("Shade", "Your post was not sent: the image upload was cancelled. Pick the image again, then post.");
      return;
    }
    const submitter = held.submitter && held.submitter.isConnected && held.submitter.form === form ? held.submitter : null;
    try {
      if (typeof form.requestSubmit === "function") form.requestSubmit(submitter);
      else form.submit();
    } catch (e) {
      console.error("Shade: could not send the held post", e);
    }
  }

  // ---- file inputs ----

  function fileInputOf(event) {
    const t = event.composedPath()[0];
    return t instanceof HTMLInputElement && t.type === "file" ? t : null;
  }

  function guardRoot(node) {
    if (node instanceof ShadowRoot && !guardedRoots.has(node)) {
      guardedRoots.add(node);
      node.addEventListener("change", onInputEvent, true);
    }
  }

  function onInputEvent(event) {
    if (state === "off" || ours.has(event)) return;
    const input = fileInputOf(event);
    if (!input) return;
    if (busy.has(input)) { event.stopImmediatePropagation(); return; }
    const files = Array.from(input.files || []);
    if (!shadeable(files).length) return;
    event.stopImmediatePropagation();
    busy.add(input);
    beginForm(input);
    guardRoot(input.getRootNode());
    input.value = ""; // the page must not read the originals meanwhile
    let delivered = false;
    decide(files, input).then((out) => {
      if (!out) return;
      input.files = transfer(out).files;
      delivered = true;
      dispatch(input, new Event("input", { bubbles: true, composed: true }));
      dispatch(input, new Event("change", { bubbles: true }));
    }).catch((e) => console.error("Shade:", e)).finally(() => {
      busy.delete(input);
      cards.delete(input);
      endForm(input, delivered);
    });
  }

  // A click on a file input inside a shadow root: guard its root before the
  // picker returns, in case the browser's `change` comes without an `input`.
  function onClick(event) {
    const t = event.composedPath()[0];
    if (t instanceof HTMLInputElement && t.type === "file") guardRoot(t.getRootNode());
  }

  // ---- drop and paste ----

  function eventInit(event, keys) {
    const init = { bubbles: true, cancelable: true, composed: true };
    for (const k of keys) if (k in event) init[k] = event[k];
    return init;
  }

  function interceptTransfer(event, dt, remake) {
    if (state === "off" || ours.has(event) || !dt) return;
    const files = Array.from(dt.files || []);
    if (!shadeable(files).length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const target = event.composedPath()[0];
    const strings = stringItems(dt);
    decide(files).then((out) => {
      if (out) dispatch(target, remake(transfer(out, strings)));
    }).catch((e) => console.error("Shade:", e));
  }

  function onDrop(event) {
    // Dropped onto a file input: the browser fills the input and fires
    // input/change, which are intercepted above.
    const t = event.composedPath()[0];
    if (t instanceof HTMLInputElement && t.type === "file") return;
    const init = eventInit(event, ["clientX", "clientY", "screenX", "screenY", "ctrlKey", "shiftKey", "altKey", "metaKey", "button", "buttons"]);
    interceptTransfer(event, event.dataTransfer, (dt) => new DragEvent("drop", { ...init, dataTransfer: dt }));
  }

  function onPaste(event) {
    const init = eventInit(event, []);
    interceptTransfer(event, event.clipboardData, (dt) => new ClipboardEvent("paste", { ...init, clipboardData: dt }));
  }

  // ---- frames Shade cannot reach ----
  // The content script runs in every frame whose host Shade may read (all frames of an
  // enabled site's host, and about:blank/srcdoc frames). An iframe from another host (a
  // CDN uploader) gets no script: the top frame names it on a card, so an upload there is
  // never taken for shaded.

  const reported = new Set();
  let frameScan = null;

  function frameOrigins() {
    const out = new Set();
    for (const f of document.querySelectorAll("iframe[src], frame[src]")) {
      try {
        const u = new URL(f.getAttribute("src"), location.href);
        if ((u.protocol === "http:" || u.protocol === "https:") && u.origin !== location.origin) out.add(u.origin);
      } catch { /* not a URL */ }
    }
    return [...out].filter((o) => !reported.has(o));
  }

  async function checkFrames() {
    frameScan = null;
    if (state === "unknown") await firstAnswer;
    if (state !== "on") return;
    const origins = frameOrigins();
    if (!origins.length) return;
    let answer;
    try { answer = await ext.runtime.sendMessage({ type: "frames-reachable", origins }); } catch { return; }
    const unreachable = (answer && answer.unreachable) || [];
    for (const o of origins) if (!unreachable.includes(o)) reported.add(o);
    const fresh = unreachable.filter((o) => !reported.has(o));
    if (!fresh.length) return;
    for (const o of fresh) reported.add(o);
    const ui = Overlay.create();
    ui.warn("Shade cannot reach an upload frame",
      `This page embeds ${fresh.join(", ")}, which Shade may not read: images uploaded inside ` +
      `${fresh.length === 1 ? "that frame" : "those frames"} are NOT shaded. Add ${fresh.join(" and ")} ` +
      "in Shade's options (Sites → Another site) to cover it, or shade the image first (right-click, or the to-post folder).");
  }

  function scheduleFrameCheck() {
    if (!frameScan) frameScan = setTimeout(checkFrames, 300);
  }

  if (window.top === window) {
    const watchFrames = () => {
      scheduleFrameCheck();
      new MutationObserver(scheduleFrameCheck).observe(document.documentElement,
        { childList: true, subtree: true, attributes: true, attributeFilter: ["src"] });
    };
    if (document.documentElement) watchFrames();
    else document.addEventListener("DOMContentLoaded", watchFrames, { once: true });
  }

  window.addEventListener("submit", onSubmit, true);
  window.addEventListener("input", onInputEvent, true);
  window.addEventListener("change", onInputEvent, true);
  window.addEventListener("click", onClick, true);
  window.addEventListener("drop", onDrop, true);
  window.addEventListener("paste", onPaste, true);
})();
