// Reading the daemon's job records. Pure: no browser APIs.

export const TERMINAL_STATES = new Set(["done", "failed", "cancelled"]);

/**
 * Progress of a job record or progress event as a fraction 0..1 (null when unknown).
 * Accepts {progress: 0.4}, {progress: {step, total}}, {step, total}, {percent}.
 */
export function progressFraction(rec) {
  if (!rec || typeof rec !== "object") return null;
  if (rec.status === "done") return 1;
  if (rec.status === "queued") return null; // waiting: no progress to show yet
  const p = rec.progress;
  if (typeof p === "number" && Number.isFinite(p)) return clamp(p > 1 ? p / 100 : p);
  const src = p && typeof p === "object" ? p : rec;
  if (typeof src.fraction === "number") return clamp(src.fraction);
  if (typeof src.percent === "number") return clamp(src.percent / 100);
  if (typeof src.step === "number" && typeof src.total === "number" && src.total > 0) return clamp(src.step / src.total);
  return null;
}

function clamp(x) {
  return Math.min(1, Math.max(0, x));
}

/** The stage name ("loading", "optimizing", …) if the record has one. */
export function stageOf(rec) {
  const p = rec && rec.progress;
  return (p && typeof p === "object" && p.stage) || (rec && rec.stage) || "";
}

/** Short human text for a badge: "42%", "…" while queued. */
export function badgeText(rec) {
  if (!rec) return "";
  if (rec.status === "queued") return "…";
  const f = progressFraction(rec);
  return f === null ? "…" : `${Math.round(f * 100)}%`;
}
