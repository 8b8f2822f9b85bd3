// Shade's background (a service worker in Chromium, an event page in Firefox).
// All traffic to the Shade daemon goes through here.
import "./shared/common.js";
import { ext } from "./lib/browser.js";
import { createMenus, handleContextMenuClick, MENU_ID, CHECK_MENU_ID } from "./lib/contextmenu.js";
import { handleCheckPostedClick, openDashboard } from "./lib/audit.js";
import { handleUploadPort, senderEnabled, frameReachable, PORT_NAME } from "./lib/uploads.js";
import { handleControl, fromExtensionPage, statusReport, pairNative, pairWithCode, startNative } from "./lib/control.js";
import { ShadeError, peopleError } from "./lib/errors.js";
import { syncRegistration } from "./lib/registration.js";

ext.runtime.onInstalled.addListener(() => {
  createMenus().catch((e) => console.error("Shade: menu", e));
  syncRegistration().catch((e) => console.error("Shade: content scripts", e));
});
ext.runtime.onStartup.addListener(() => {
  syncRegistration().catch((e) => console.error("Shade: content scripts", e));
});

ext.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU_ID) handleContextMenuClick(info, tab);
  else if (info.menuItemId === CHECK_MENU_ID) handleCheckPostedClick(info, tab);
});

ext.runtime.onConnect.addListener((port) => {
  if (port.name === PORT_NAME) handleUploadPort(port);
});

ext.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || typeof msg !== "object") return false;
  if (msg.type === "upload-enabled") {
    senderEnabled(sender).then((enabled) => sendResponse({ enabled }), () => sendResponse({ enabled: false }));
    return true;
  }
  if (msg.type === "frames-reachable") {
    // The top frame of an enabled page asks which of its iframes' origins Shade cannot reach.
    const origins = Array.isArray(msg.origins) ? msg.origins.map(String).slice(0, 50) : [];
    senderEnabled(sender).then(async (enabled) => {
      if (!enabled) return sendResponse({ unreachable: [] });
      const unreachable = [];
      for (const o of origins) if (!(await frameReachable(o))) unreachable.push(o);
      sendResponse({ unreachable });
    }, () => sendResponse({ unreachable: [] }));
    return true;
  }
  if (msg.type === "start-daemon") {
    // "Start Shade" on a failed upload: only from a page where Shade is switched on.
    senderEnabled(sender).then(async (enabled) => {
      if (!enabled) return sendResponse({ ok: false, error: { code: "site_disabled", message: "" } });
      try {
        sendResponse(await startNative());
      } catch (e) {
        sendResponse({ ok: false, error: (e instanceof ShadeError ? e : peopleError("start_failed", String(e))).toJSON() });
      }
    }, () => sendResponse({ ok: false, error: { code: "site_disabled", message: "" } }));
    return true;
  }
  if (!fromExtensionPage(sender)) return false;
  handleControl(msg).then(sendResponse);
  return true;
});

ext.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && changes.sites) syncRegistration().catch((e) => console.error("Shade: content scripts", e));
});

ext.permissions.onRemoved?.addListener(() => {
  syncRegistration().catch((e) => console.error("Shade: content scripts", e));
});

// Handles for tests and support (DevTools console of the background):
// `shade.handleContextMenuClick(info, tab)` etc.
globalThis.shade = { handleContextMenuClick, handleCheckPostedClick, openDashboard, syncRegistration, statusReport, pairNative, pairWithCode, startNative, handleControl };
