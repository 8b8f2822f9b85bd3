// A Chrome service worker is stopped after ~30 s without extension events or API
// calls, even while a fetch (our SSE stream) is open. A job can wait that long in
// the daemon's queue, so a cheap API call every 20 s keeps the worker alive
// until the job is over. (Firefox's event page is kept alive the same way.)
import { ext } from "./browser.js";

/** Start keeping the background alive; call the returned function to stop. */
export function keepAlive() {
  const timer = setInterval(() => {
    try { ext.runtime.getPlatformInfo().catch(() => {}); } catch { /* nothing to keep alive */ }
  }, 20000);
  return () => clearInterval(timer);
}
