// After a daemon restart the page's session is gone. Say so in words and how to sign in
// again, then keep checking: once this browser holds a new session (a fresh login from the
// extension's "Open Shade" or the tray menu), the page recovers by itself.
import { api, el } from "./api.js";

const SIGN_IN = "Shade was restarted, so this page has to sign in again. Click \u201cOpen Shade\u201d in the " +
  "browser extension's menu or in Shade's tray menu; this page picks up the new sign-in by itself.";
const DOWN = "Shade is not answering: it may be restarting. This page reconnects by itself when it is back.";

let timer = null;

function banner(text, signIn) {
  let box = document.getElementById("signin");
  if (!box) {
    box = el("div", { id: "signin", class: "signin", role: "alert" });
    document.getElementById("message").before(box);
  }
  box.replaceChildren(...[el("span", {}, text), signIn ? " " : null,
    signIn ? el("button", { type: "button", id: "signin-check", onclick: () => check() }, "I signed in: check again") : null]
    .filter(Boolean));
  box.dataset.state = signIn ? "signin" : "down";
}

let onBack = () => {};

async function check() {
  try {
    await api("/v1/status");
  } catch (e) {
    banner(e.status === 401 || e.status === 403 ? SIGN_IN : DOWN, e.status === 401 || e.status === 403);
    clearTimeout(timer);
    timer = setTimeout(check, 2000);
    return;
  }
  clearTimeout(timer);
  document.getElementById("signin")?.remove();
  onBack();
}

/** The live connection was lost: find out why, tell the user, call `back` when it works again. */
export function lost(back) {
  onBack = back;
  clearTimeout(timer);
  timer = setTimeout(check, 300);
}
