// The dashboard: one page, one view per hash (#queue, #preview/<job>, #history, #audit, #library, #settings).
import { showMessage } from "./api.js";
import * as queue from "./queue.js";
import * as preview from "./preview.js";
import * as history from "./history.js";
import * as audit from "./audit.js";
import * as library from "./library.js";
import * as settings from "./settings.js";
import * as add from "./add.js";

const VIEWS = { queue, preview, history, audit, library, settings };

function route() {
  const [name, item] = location.hash.replace(/^#/, "").split("/");
  const view = VIEWS[name] ? name : "queue";
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.view !== view;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === view);
  showMessage("");
  Promise.resolve(VIEWS[view].show(item)).catch((e) => showMessage(e, true));
}

queue.start();
add.setup();
history.setup();
audit.setup();
library.setup();
window.addEventListener("hashchange", route);
route();
