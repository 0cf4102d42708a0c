// Redis off the critical path: the shared tier is called through a circuit breaker, and when it is
// unreachable the limiter answers from a per-process in-memory limiter instead of refusing (a
// donation is never turned away because the limiter's store is down; each replica then limits on
// its own, which is the safe default), and cache calls fail at once instead of waiting on Redis.
// When Redis is back — possibly empty — counters and snapshots simply start again from there.
import type { Breaker } from "@careforall/resilience";
import type { Cache, RateLimiter, RateLimitResult } from "./types";

export interface FailoverRateLimiter extends RateLimiter {
  /** True while the shared limiter is unreachable and limits are per process. */
  degraded(): boolean;
}

export function createFailoverRateLimiter({
  primary,
  fallback,
  breaker,
}: {
  primary: RateLimiter;
  fallback: RateLimiter;
  breaker: Breaker;
}): FailoverRateLimiter {
  return {
    degraded: () => breaker.state() === "open",
    async release(key) {
      try {
        await breaker.run(() => primary.release(key));
      } catch {
        await fallback.release(key);
      }
    },
    async hit(key, limit, windowSeconds): Promise<RateLimitResult> {
      try {
        return await breaker.run(() => primary.hit(key, limit, windowSeconds));
      } catch {
        return fallback.hit(key, limit, windowSeconds);
      }
    },
  };
}

/** Every call of `cache` through `breaker`: while it is open, calls fail at once (BreakerOpenError). */
export function breakerCache(cache: Cache, breaker: Breaker): Cache {
  return {
    get: (key) => breaker.run(() => cache.get(key)),
    set: (key, value, ttl) => breaker.run(() => cache.set(key, value, ttl)),
    del: (key) => breaker.run(() => cache.del(key)),
    setVersioned: (key, version, value, ttl) => breaker.run(() => cache.setVersioned(key, version, value, ttl)),
    getVersioned: (key) => breaker.run(() => cache.getVersioned(key)),
    // Readiness asks Redis itself, so /ready tells when it is back even before the next trial call.
    ping: () => cache.ping(),
    close: () => cache.close(),
  };
}
