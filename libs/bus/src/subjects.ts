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
