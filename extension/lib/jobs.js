// One shading job from bytes to shaded bytes, through the daemon.
import { DaemonClient } from "./daemon.js";
import { errorFromJob, cancelled, asShadeError, ShadeError } from "./errors.js";
import { getSettings } from "./settings.js";
import { keepAlive } from "./keepalive.js";

/** A client for the configured daemon. */
export async function currentClient() {
  const s = await getSettings();
  return { client: new DaemonClient(s.daemonUrl, s.token), settings: s };
}

/**
 * Shade one image with the user's defaults.
 * @param {{blob: Blob, filename: string, intensity?: string}} input
 * @param {{onProgress?: (rec: any) => void, signal?: AbortSignal, onJob?: (id: string) => void}} hooks
 * @returns {Promise<{id: string, blob: Blob, mime: string, filename: string, job: any}>}
 */
export async function shadeImage(input, { onProgress, signal, onJob } = {}) {
  const { client, settings } = await currentClient();
  const release = keepAlive();
  try {
    return await runJob(client, settings, input, { onProgress, signal, onJob });
  } finally {
    release();
  }
}

async function runJob(client, settings, input, { onProgress, signal, onJob }) {
  // input.intensity: "shade again, stronger" asks for one step up the ladder.
  const options = input.intensity ? { ...settings.defaults, intensity: input.intensity } : settings.defaults;
  const created = await client.submit(input.blob, input.filename, options, signal);
  const id = created.id;
  if (onJob) onJob(id);
  const cancelRemote = () => client.cancel(id).catch(() => {});
  if (signal) signal.addEventListener("abort", cancelRemote, { once: true });
  try {
    const final = await client.wait(id, onProgress, signal);
    if (final.status === "cancelled") throw cancelled();
    if (final.status !== "done") throw errorFromJob(final);
    const res = await client.result(id, signal);
    return { id, job: final, ...res };
  } catch (e) {
    if (signal && signal.aborted) throw cancelled();
    throw e instanceof ShadeError ? e : asShadeError(e, client.baseUrl);
  } finally {
    if (signal) signal.removeEventListener("abort", cancelRemote);
  }
}
