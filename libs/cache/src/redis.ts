// Redis-backed cache and fixed-window rate limiter. Every key is prefixed so parallel runs
// (tests, several environments on one Redis) never collide.
import Redis from "ioredis";
import type { Cache, RateLimiter } from "./types";

/** A command not answered within this is failed (a hung Redis must not hang requests). */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1_000;

/**
 * A client that fails fast while Redis is away: no offline queue (a command sent while
 * disconnected fails at once instead of waiting for the reconnect), one retry, and a command
 * timeout. It reconnects on its own in the background. Call `connect()` before first use.
 */
export function createRedisClient(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Reconnect quickly at first, then every 2 s at most, forever.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  // Without a listener ioredis prints every failed reconnect; the failed commands themselves are
  // what callers see (the gateway's breaker logs the outage once).
  redis.on("error", () => {});
  return redis;
}

// Versioned values are stored as "<version>\n<value>"; the compare-and-set runs inside Redis.
const SET_VERSIONED_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)\\n'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2])
end
return 1`;

export function parseVersioned(raw: string | null): { version: number; value: string } | null {
  if (raw === null) return null;
  const nl = raw.indexOf("\n");
  const version = Number(raw.slice(0, nl));
  if (nl < 0 || !Number.isInteger(version)) return null;
  return { version, value: raw.slice(nl + 1) };
}

export function createRedisCache(redis: Redis, prefix: string): Cache {
  return {
    async setVersioned(key, version, value, ttlSeconds = 0) {
      return (await redis.eval(SET_VERSIONED_SCRIPT, 1, prefix + key, version, value, ttlSeconds)) === 1;
    },
    async getVersioned(key) {
      return parseVersioned(await redis.get(prefix + key));
    },
    get: (key) => redis.get(prefix + key),
    async set(key, value, ttlSeconds) {
      if (ttlSeconds && ttlSeconds > 0) await redis.set(prefix + key, value, "EX", ttlSeconds);
      else await redis.set(prefix + key, value);
    },
    async del(key) {
      await redis.del(prefix + key);
    },
    async ping() {
      return (await redis.ping()) === "PONG";
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

// INCR and the first EXPIRE in one round trip and one atomic step, so a crash between them
// can never leave a counter without a TTL.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
return {n, ttl}`;

// DECR only a counter that exists and is above zero, so a release never creates a key without a TTL.
const RELEASE_SCRIPT = `
local n = tonumber(redis.call('GET', KEYS[1]))
if n and n > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

export function createRedisRateLimiter(redis: Redis, prefix: string): RateLimiter {
  return {
    async release(key) {
      await redis.eval(RELEASE_SCRIPT, 1, `${prefix}rl:${key}`);
    },
    async hit(key, limit, windowSeconds) {
      if (limit <= 0) return { allowed: true, remaining: Number.POSITIVE_INFINITY, retryAfterSeconds: 0 };
      const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, `${prefix}rl:${key}`, windowSeconds)) as [number, number];
      const retryAfterSeconds = Math.max(1, ttl);
      return { allowed: count <= limit, remaining: Math.max(0, limit - count), retryAfterSeconds };
    },
  };
}
