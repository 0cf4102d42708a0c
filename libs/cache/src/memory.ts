// In-memory cache and rate limiter with the same behaviour as the Redis ones: for the embedded
// profile and unit tests. Time comes from the injected clock.
import { type Clock, systemClock } from "@careforall/config";
import { parseVersioned } from "./redis";
import type { Cache, RateLimiter } from "./types";

export function createMemoryCache(clock: Clock = systemClock): Cache {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const read = (key: string) => {
    const e = entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= clock.now()) {
      entries.delete(key);
      return null;
    }
    return e.value;
  };
  return {
    async setVersioned(key, version, value, ttlSeconds) {
      const current = parseVersioned(read(key));
      if (current && current.version >= version) return false;
      entries.set(key, {
        value: `${version}\n${value}`,
        expiresAt: ttlSeconds ? clock.now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY,
      });
      return true;
    },
    async getVersioned(key) {
      return parseVersioned(read(key));
    },
    get: async (key) => read(key),
    async set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: ttlSeconds ? clock.now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY });
    },
    async del(key) {
      entries.delete(key);
    },
    ping: async () => true,
    close: async () => {
      entries.clear();
    },
  };
}

export function createMemoryRateLimiter(clock: Clock = systemClock): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    async release(key) {
      const w = windows.get(key);
      if (w && w.resetAt > clock.now() && w.count > 0) w.count -= 1;
    },
    async hit(key, limit, windowSeconds) {
      if (limit <= 0) return { allowed: true, remaining: Number.POSITIVE_INFINITY, retryAfterSeconds: 0 };
      const now = clock.now();
      let w = windows.get(key);
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + windowSeconds * 1000 };
        windows.set(key, w);
      }
      w.count += 1;
      return {
        allowed: w.count <= limit,
        remaining: Math.max(0, limit - w.count),
        retryAfterSeconds: Math.max(1, Math.ceil((w.resetAt - now) / 1000)),
      };
    },
  };
}
