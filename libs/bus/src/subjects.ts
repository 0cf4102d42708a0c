// Naming rules shared by both buses: event type → NATS subject, type filters with NATS
// wildcard semantics, and the stream/consumer names derived from a deployment prefix.

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** `pledge.created` → `${prefix}.evt.pledge.created`. */
export function eventSubject(prefix: string, type: string): string {
  return `${prefix}.evt.${type}`;
}

/** Throws unless `type` is a concrete event type (dot-separated tokens, no wildcards). */
export function assertEventType(type: string): void {
  if (typeof type !== "string" || type === "" || !type.split(".").every((t) => TOKEN.test(t))) {
    throw new Error(`invalid event type ${JSON.stringify(type)}: expected dot-separated [A-Za-z0-9_-] tokens`);
  }
}

/** Throws unless `pattern` is an event type that may use `*` (one token) or a final `>` (the rest). */
export function assertTypePattern(pattern: string): void {
  const tokens = typeof pattern === "string" && pattern !== "" ? pattern.split(".") : [];
  const ok =
    tokens.length > 0 && tokens.every((t, i) => TOKEN.test(t) || t === "*" || (t === ">" && i === tokens.length - 1));
  if (!ok) throw new Error(`invalid event type filter ${JSON.stringify(pattern)}`);
}

/** NATS subject matching on event types, so the in-process bus filters exactly like JetStream. */
export function typeMatches(pattern: string, type: string): boolean {
  const p = pattern.split(".");
  const t = type.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === ">") return t.length > i;
    if (i >= t.length) return false;
    if (token !== "*" && token !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * The narrowest single type pattern that matches everything the given patterns match: equal
 * tokens stay, differing ones become `*`; patterns of different lengths (or with a `>`) share a
 * `>` from the last position they all still have. `[pledge.captured, pledge.refunded]` →
 * `pledge.*`. For servers that take one filter subject per consumer (nats-server before 2.10):
 * without it, a consumer of two types would be sent every event of the stream and discard most.
 */
export function coverPattern(patterns: readonly string[]): string {
  const split = patterns.map((p) => p.split("."));
  if (split.length === 0) throw new Error("coverPattern needs at least one pattern");
  const lengths = new Set(split.map((t) => t.length));
  const open = lengths.size > 1 || split.some((t) => t.includes(">"));
  // With a tail to cover, the tokens before it must exist in every pattern (">" needs one token).
  const fixed = open
    ? Math.min(...split.map((t) => (t.includes(">") ? t.indexOf(">") : t.length - 1)))
    : (split[0] as string[]).length;
  const tokens: string[] = [];
  for (let i = 0; i < fixed; i++) {
    const first = split[0]?.[i] as string;
    tokens.push(split.every((t) => t[i] === first) ? first : "*");
  }
  if (open) tokens.push(">");
  return tokens.join(".");
}

export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => typeMatches(p, type));
}

/** Throws unless the prefix is usable as the leading subject token. */
export function assertPrefix(prefix: string): void {
  if (!TOKEN.test(prefix)) throw new Error(`invalid bus prefix ${JSON.stringify(prefix)}: expected [A-Za-z0-9_-]+`);
}

/** JetStream names allow fewer characters than subjects; one stream per prefix. */
export function streamName(prefix: string): string {
  return `${prefix}_EVENTS`.replace(/[^A-Za-z0-9_]/g, "_");
}

export function consumerName(prefix: string, durable: string): string {
  return `${prefix}_${durable}`.replace(/[^A-Za-z0-9_-]/g, "_");
}
