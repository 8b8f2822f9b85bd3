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
  const guardedRoots = new WeakSet();

  async function refresh() {
    try {
      const answer = await ext.runtime.sendMessage({ type: "upload-enabled" });
      state = answer && answer.enabled ? "on" : "off";
    } catch {
      state = "off";
    }
  }
  globalThis.__shadeIntercept = { refresh };
  ext.runtime.onMessage.addListener((msg) => {
    if (msg && msg.type === "shade-sites-changed") refresh();
  });
  const firstAnswer = refresh();

  /** Shade if this site is on; unchanged files if it turned out to be off. */
  async function decide(files) {
    if (state === "unknown") await firstAnswer;
    return state === "on" ? processFiles(files) : files;
  }

  function shadeable(files) {
    return C.imageIndexes(files).filter((i) => !produced.has(files[i]));
  }

  function codedError(code, message) {
    const e = new Error(message);
    e.code = code;
    return e;
  }

  /** Shade one file through the background; resolves with the shaded File. */
  function shadeFile(file, onProgress, signal) {
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
        if (msg.type === "progress") onProgress(msg.fraction);
        else if (msg.type === "result") result = msg;
        else if (msg.type === "chunk") chunks.push(msg.data);
        else if (msg.type === "error") settle(reject, codedError(msg.error.code, msg.error.message));
        else if (msg.type === "done" && result) {
          const shaded = new File([C.fromBase64Chunks(chunks)], file.name,
            { type: result.mime || file.type, lastModified: file.lastModified });
          produced.add(shaded);
          settle(resolve, shaded);
        }
      });
      file.arrayBuffer().then((buf) => {
        if (settled) return;
        port.postMessage({ type: "start", name: file.name, mime: file.type, size: file.size });
        for (const data of C.toBase64Chunks(new Uint8Array(buf))) port.postMessage({ type: "chunk", data });
        port.postMessage({ type: "end" });
      }, (e) => settle(reject, codedError("read_failed", `Could not read ${file.name}: ${e.message || e}`)));
    });
  }

  /**
   * Shade the image files among `files`. Resolves with the list to hand to the
   * page (non-images untouched, in the same order), or null when the user cancelled.
   */
  async function processFiles(files) {
    const indexes = shadeable(files);
    const out = files.slice();
    const ui = Overlay.create();
    const controller = new AbortController();
    ui.onCancel(() => controller.abort());
    const label = indexes.length === 1 ? "your image" : `${indexes.length} images`;
    let k = 0;
    for (;;) {
      try {
        for (; k < indexes.length; k++) {
          const at = k;
          ui.progress(`Shading ${label} before upload…`, C.overallProgress(at, 0, indexes.length));
          out[indexes[at]] = await shadeFile(files[indexes[at]], (f) => {
            ui.progress(`Shading ${label} before upload… ${Math.round(C.overallProgress(at, f, indexes.length) * 100)}%`,
              C.overallProgress(at, f, indexes.length));
          }, controller.signal);
        }
        ui.done(indexes.length === 1 ? "Shaded. Uploading the protected image." : `Shaded ${indexes.length} images.`);
        return out;
      } catch (err) {
        if (err.code === "cancelled" || controller.signal.aborted) {
          ui.close();
          return null;
        }
        const choice = await ui.ask(err.message || String(err));
        if (choice === "retry") continue;
        ui.close();
        if (choice === "original") return out.map((f, i) => (indexes.indexOf(i) >= k ? files[i] : f));
        return null;
      }
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
    guardRoot(input.getRootNode());
    input.value = ""; // the page must not read the originals meanwhile
    decide(files).then((out) => {
      if (!out) return;
      input.files = transfer(out).files;
      dispatch(input, new Event("input", { bubbles: true, composed: true }));
      dispatch(input, new Event("change", { bubbles: true }));
    }).catch((e) => console.error("Shade:", e)).finally(() => busy.delete(input));
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

  window.addEventListener("input", onInputEvent, true);
  window.addEventListener("change", onInputEvent, true);
  window.addEventListener("click", onClick, true);
  window.addEventListener("drop", onDrop, true);
  window.addEventListener("paste", onPaste, true);
})();
