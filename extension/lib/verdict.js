// The daemon's verdict on a shaded image, as every surface of the extension shows it (the
// upload card, the notification, the badge), and the site rule for results that are not
// protected. The words come from the daemon (shading.verdict); nothing here calls a
// result protected unless the daemon did. Pure: no browser APIs.

export const WEAK_WORDS = "weakly protected: a model trained on it would barely notice";

// What a weak (or unprotected) result does on a site: the user's choice, kept per site.
export const WEAK_RULES = Object.freeze({
  send: "Send it anyway",
  hold: "Hold it and ask me",
  none: "Send nothing",
});
export const DEFAULT_WEAK_RULE = "hold";

/** The job's verdict ({level, words, advice, next_intensity, effect}); one that is never
 * "protected" when the daemon gave none (an older daemon, or no measurements). */
export function verdictOf(job) {
  const v = job && job.verdict;
  if (v && typeof v === "object" && typeof v.level === "string" && typeof v.words === "string") return v;
  const m = (job && job.measurements) || {};
  if (m.weak === false) return { level: "protected", words: "protected", advice: "", next_intensity: null };
  return { level: "weak", words: WEAK_WORDS, advice: "", next_intensity: null };
}

export function isProtected(verdict) {
  return !!verdict && verdict.level === "protected";
}

/** A site rule from storage: one of WEAK_RULES' keys, "hold" when unset or unknown. */
export function weakRuleFor(rules, origin) {
  const r = rules && typeof rules === "object" ? rules[origin] : undefined;
  return Object.hasOwn(WEAK_RULES, r) ? r : DEFAULT_WEAK_RULE;
}

/** The rules object cleaned: valid origins to valid rules only. */
export function cleanWeakRules(rules) {
  const out = {};
  if (!rules || typeof rules !== "object") return out;
  for (const [origin, rule] of Object.entries(rules)) {
    if (/^https?:\/\/[^/]+$/.test(origin) && Object.hasOwn(WEAK_RULES, rule)) out[origin] = rule;
  }
  return out;
}

/** The headline of a finished image: "NAME: protected." / "NAME: weakly protected: …". */
export function verdictLine(name, verdict) {
  const v = verdict || verdictOf(null);
  return `${name}: ${v.words}.`;
}

/** The badge after a job: a tick only for protected, "~" for weak, "!" otherwise. */
export function badgeFor(verdict) {
  if (isProtected(verdict)) return { text: "✓", color: "#2e7d32" };
  if (verdict && verdict.level === "weak") return { text: "~", color: "#b26a00" };
  return { text: "!", color: "#c62828" };
}
