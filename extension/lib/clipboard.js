// Copying a shaded image to the clipboard, from the tab the user right-clicked in
// (a service worker has no clipboard). Clipboards take PNG only.
import { ext } from "./browser.js";

async function asPng(blob) {
  if (blob.type === "image/png") return blob;
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  return canvas.convertToBlob({ type: "image/png" });
}

/** Copy `blob` as PNG through the page in `tabId`. Throws when the browser refuses. */
export async function copyImage(tabId, blob) {
  const png = await asPng(blob);
  const b64 = globalThis.ShadeCommon.bytesToBase64(new Uint8Array(await png.arrayBuffer()));
  const [res] = await ext.scripting.executeScript({
    target: { tabId },
    args: [b64],
    func: async (data) => {
      try {
        const bin = atob(data);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        await navigator.clipboard.write([new ClipboardItem({ "image/png": new Blob([bytes], { type: "image/png" }) })]);
        return { ok: true };
      } catch (e) {
        return { ok: false, error: String(e && e.message || e) };
      }
    },
  });
  const out = res && res.result;
  if (!out || !out.ok) throw new Error(`could not copy to the clipboard (${(out && out.error) || "no answer"}); the file was saved`);
}
