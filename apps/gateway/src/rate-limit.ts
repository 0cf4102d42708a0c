// Fixed-window limits per minute in Redis, shared by every gateway replica. Every key must be
// under its limit; the longest Retry-After wins. Without Redis, main's failover limiter counts in
// process memory instead (a donation is never refused because Redis is away); a limiter that
// still fails is answered 503, never waved through.
import type { RateLimiter } from "@careforall/cache";
import { serviceUnavailable, tooManyRequests } from "@careforall/http";
import type { Logger } from "@careforall/log";

export async function enforceLimits(
  limiter: RateLimiter,
  log: Logger,
  keys: string[],
  perMinute: number,
): Promise<void> {
  if (perMinute <= 0) return;
  const results = await Promise.all(keys.map((k) => limiter.hit(k, perMinute, 60))).catch((err) => {
    log.error({ err }, "rate_limit.unavailable");
    throw serviceUnavailable("Rate limiting is unavailable; try again shortly");
  });
  const refused = results.filter((r) => !r.allowed);
  if (refused.length) throw tooManyRequests(Math.max(...refused.map((r) => r.retryAfterSeconds)));
}
