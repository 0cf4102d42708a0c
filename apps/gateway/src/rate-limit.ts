// Fixed-window limits per minute in Redis, shared by every gateway replica. Every key must be
// under its limit; the longest Retry-After wins. Without Redis, main's failover limiter counts in
// process memory instead (a donation is never refused because Redis is away); a limiter that
// still fails is answered 503, never waved through.
import type { RateLimiter } from "@careforall/cache";
import { serviceUnavailable, tooManyRequests } from "@careforall/http";
import type { Logger } from "@careforall/log";

export interface Limit {
  key: string;
  /** 0 turns this one off. */
  perMinute: number;
}

/** Counts one hit on every key, each against its own limit; 429 with the longest Retry-After if any is over. */
export async function enforceLimitSet(limiter: RateLimiter, log: Logger, limits: Limit[]): Promise<void> {
  const active = limits.filter((l) => l.perMinute > 0);
  if (active.length === 0) return;
  const results = await Promise.all(active.map((l) => limiter.hit(l.key, l.perMinute, 60))).catch((err) => {
    log.error({ err }, "rate_limit.unavailable");
    throw serviceUnavailable("Rate limiting is unavailable; try again shortly");
  });
  const refused = results.filter((r) => !r.allowed);
  if (refused.length) throw tooManyRequests(Math.max(...refused.map((r) => r.retryAfterSeconds)));
}

export function enforceLimits(limiter: RateLimiter, log: Logger, keys: string[], perMinute: number): Promise<void> {
  return enforceLimitSet(
    limiter,
    log,
    keys.map((key) => ({ key, perMinute })),
  );
}

/**
 * Gives back the hits enforceLimitSet counted, for an attempt that turned out not to count (a
 * successful login). Best effort: a failure costs the client one hit of its window, nothing more.
 */
export async function releaseLimits(limiter: RateLimiter, log: Logger, limits: Limit[]): Promise<void> {
  await Promise.all(limits.filter((l) => l.perMinute > 0).map((l) => limiter.release(l.key))).catch((err) =>
    log.warn({ err }, "rate_limit.release_failed"),
  );
}

/**
 * The login rule: failures are counted per (IP address, email) and per IP address, never per
 * email alone — a third party failing logins for someone's email from their own address spends
 * only their own allowance, so the owner still signs in from theirs; one address trying many
 * emails is stopped by its per-IP count. Each attempt is counted before it is made (concurrent
 * guesses cannot all slip past a check) and given back when it succeeds, so only failures remain.
 */
export function loginLimits(ip: string, email: string, perIp: number, perAccount: number): Limit[] {
  return [
    { key: `auth:login-failures:ip:${ip}`, perMinute: perIp },
    // RATE_LIMIT_AUTH=0 (load tests) turns login limits off altogether.
    { key: `auth:login-failures:ip-email:${ip}:${email}`, perMinute: perIp > 0 ? perAccount : 0 },
  ];
}
