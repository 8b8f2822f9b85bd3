// The WebExtension namespace: Firefox's promise-based `browser`, else Chrome's
// `chrome` (promise-returning in MV3).
export const ext = globalThis.browser ?? globalThis.chrome;
