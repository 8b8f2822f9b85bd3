// The in-page card that shows shading progress and asks what to do on failure.
// Its buttons only react to real clicks (event.isTrusted), so the page's own
// scripts cannot press "Send original" for the user.
(function (root) {
  "use strict";
  if (root.ShadeOverlay) return;

  const CSS = `
    :host { all: initial; }
    .card { width: 320px;
      box-sizing: border-box; padding: 12px 14px; border-radius: 10px; background: #1f1733; color: #f3eeff;
      font: 13px/1.4 system-ui, sans-serif; box-shadow: 0 6px 24px rgba(0,0,0,.35); }
    .title { font-weight: 600; margin-bottom: 4px; }
    .message { white-space: pre-wrap; overflow-wrap: anywhere; }
    .bar { height: 6px; margin: 8px 0; border-radius: 3px; background: #3a2d5c; overflow: hidden; }
    .fill { height: 100%; width: 0; background: #9d7bff; transition: width .2s; }
    .buttons { display: flex; gap: 6px; justify-content: flex-end; margin-top: 6px; }
    button { font: inherit; padding: 4px 10px; border-radius: 6px; border: 1px solid #9d7bff;
      background: transparent; color: inherit; cursor: pointer; }
    button.primary { background: #9d7bff; color: #140d24; }
    .card[data-state="error"] { background: #3b1220; }
    .card[data-state="error"] .bar, .card[data-state="warning"] .bar { display: none; }
    .card[data-state="warning"] { background: #3b2a08; }
    .note { margin-top: 4px; font-style: italic; }
    .note:empty { display: none; }
    .card[data-state="decide"] { background: #3b2a08; }
    .card[data-state="decide"] .bar { display: none; }
    details { margin-top: 4px; font-size: 12px; opacity: .85; }
    details:not([data-filled]) { display: none; }
  `;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  /** Show a card; returns its controller. */
  function create() {
    // A finished card fading out makes way for the new one.
    for (const old of document.querySelectorAll('#shade-overlay[data-state="done"]')) old.remove();
    const host = el("div");
    host.id = "shade-overlay";
    host.style.cssText = "all: initial; display: block; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647;";
    const shadow = host.attachShadow({ mode: "open" });
    const style = el("style");
    style.textContent = CSS;
    const card = el("div", "card");
    card.setAttribute("role", "alertdialog");
    card.setAttribute("aria-live", "polite");
    const title = el("div", "title", "Shade");
    const message = el("div", "message");
    const note = el("div", "note");
    const bar = el("div", "bar");
    const fill = el("div", "fill");
    bar.appendChild(fill);
    const buttons = el("div", "buttons");
    // Developer detail (the daemon's code, the raw message) goes here, folded away.
    const details = el("details");
    const detailText = el("div", "detail");
    details.append(el("summary", "", "details"), detailText);
    card.append(title, message, note, bar, buttons, details);
    shadow.append(style, card);
    (document.body || document.documentElement).appendChild(host);

    let cancelHandler = null;

    function setButtons(list) {
      buttons.replaceChildren();
      for (const [action, label, primary, onClick] of list) {
        const b = el("button", primary ? "primary" : "", label);
        b.type = "button";
        b.dataset.action = action;
        b.addEventListener("click", (ev) => {
          ev.stopPropagation();
          if (ev.isTrusted) onClick();
        });
        buttons.appendChild(b);
      }
    }

    function setState(state) {
      card.dataset.state = state;
      host.dataset.state = state;
    }

    function setDetails(text) {
      detailText.textContent = text || "";
      if (text) details.dataset.filled = "1"; else delete details.dataset.filled;
    }

    return {
      /** The card's heading (the image's name while it is shaded). */
      heading(text) { title.textContent = text || "Shade"; },
      /** Developer detail under "details" ("" hides it). */
      details: setDetails,
      /** Progress text and fraction (0..1); offers Cancel. */
      progress(text, fraction) {
        setState("working");
        message.textContent = text;
        fill.style.width = `${Math.round(Math.min(1, Math.max(0, fraction || 0)) * 100)}%`;
        if (!buttons.querySelector('[data-action="cancel"]') || buttons.children.length !== 1) {
          setButtons([["cancel", "Cancel upload", false, () => cancelHandler && cancelHandler()]]);
        }
      },
      onCancel(fn) { cancelHandler = fn; },
      /** A second line under the message (e.g. "your post waits for this"). */
      note(text) { note.textContent = text || ""; },
      /** A warning that stays until dismissed (e.g. an upload frame Shade cannot reach). */
      warn(heading, text) {
        setState("warning");
        title.textContent = heading;
        message.textContent = text;
        setButtons([["dismiss", "Dismiss", false, () => host.remove()]]);
      },
      /** Show a failure and wait for the user's choice: "start" | "retry" | "original" | "cancel".
       * `retry`: whether trying again can help (then it is the first choice); `start`: the app
       * is not running and a "Start Shade" button comes first; `details`: the developer's
       * detail, folded under "details". */
      ask(text, { retry = true, start = false, details: detail = "" } = {}) {
        setState("error");
        title.textContent = "Shade could not shade this image";
        message.textContent = `${text}\nThe site has not received your image.`;
        setDetails(detail);
        return new Promise((resolve) => {
          setButtons([
            ...(start ? [["start", "Start Shade", true, () => resolve("start")]] : []),
            ...(retry ? [["retry", "Try again", !start, () => resolve("retry")]] : []),
            ["original", "Send the original", false, () => resolve("original")],
            ["cancel", "Cancel upload", !retry, () => resolve("cancel")],
          ]);
        }).then((choice) => { title.textContent = "Shade"; setDetails(""); return choice; });
      },
      /** A question with its choices ([action, label, primary]...); resolves with the action. */
      decide(heading, text, choices) {
        setState("decide");
        title.textContent = heading;
        message.textContent = text;
        return new Promise((resolve) => {
          setButtons(choices.map(([action, label, primary]) => [action, label, primary, () => resolve(action)]));
        });
      },
      /** The end: `text` stays `ms` milliseconds (a verdict that is not "protected" stays longer). */
      done(text, ms = 2500) {
        setState("done");
        message.textContent = text;
        fill.style.width = "100%";
        setButtons([]);
        setTimeout(() => host.remove(), ms);
      },
      close() { host.remove(); },
    };
  }

  root.ShadeOverlay = Object.freeze({ create });
})(globalThis);
