// The app's targets and styles in the options page and popup menus: a style menu from
// the app's style library (the user's first, then the built-in ones), the target list,
// and mode choices the app cannot serve disabled, so a mode that cannot work is not offered.
import { ask } from "./pagekit.js";

/**
 * Fill #style, #target-list and the #mode choices of `doc` from the app's status.
 * Keeps the stored choices selectable even when the app is unreachable.
 */
export async function fillLibrary(doc, defaults) {
  const lib = await ask({ type: "library" });
  const styleSel = doc.querySelector("#style");
  const known = lib && lib.ok ? lib : null;
  if (styleSel) {
    const names = known ? [...known.styles] : [];
    if (defaults.style && !names.includes(defaults.style)) names.push(defaults.style);
    const appDefault = known && known.defaults && known.defaults.style;
    styleSel.replaceChildren(new Option(appDefault ? `App default (${appDefault})` : "App default", ""));
    for (const name of names) styleSel.append(new Option(name, name));
  }
  const list = doc.querySelector("#target-list");
  if (list && known) {
    list.replaceChildren();
    for (const name of known.targets) list.append(new Option(name, name));
  }
  const modeSel = doc.querySelector("#mode");
  if (modeSel && known && Array.isArray(known.modes)) {
    for (const opt of modeSel.options) {
      opt.disabled = !!opt.value && !known.modes.includes(opt.value);
      if (opt.disabled) opt.title = "The Shade app cannot do this now (no targets or styles).";
    }
  }
  return known;
}

/** A File's bytes as base64 (for the background, which uploads them). */
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}
