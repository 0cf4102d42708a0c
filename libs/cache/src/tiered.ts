// An in-process layer in front of a shared cache: hot keys are answered from memory for
// `localTtlMs`, then re-read from the shared layer. `invalidate` drops the local copy (events).
import { type Clock, systemClock } from "@careforall/config";
import type { Cache } from "./types";

export interface TieredCache extends Cache {
  /** Synchronous local read; undefined when not held locally or expired. */
  peek(key: string): string | undefined;
  /** Forget the local copy only (another process changed the shared value). */
  invalidate(key: string): void;
}

export function createTieredCache(
  remote: Cache,
  {
    localTtlMs = 1000,
    maxEntries = 10_000,
    clock = systemClock,
  }: { localTtlMs?: number; maxEntries?: number; clock?: Clock } = {},
): TieredCache {
  const local = new Map<string, { value: string; expiresAt: number }>();
  const remember = (key: string, value: string) => {
    if (local.size >= maxEntries && !local.has(key)) {
      // Maps iterate in insertion order: dropping the first key evicts the oldest entry.
      const oldest = local.keys().next().value;
      if (oldest !== undefined) local.delete(oldest);
    }
    local.set(key, { value, expiresAt: clock.now() + localTtlMs });
  };
  const peek = (key: string) => {
    const e = local.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= clock.now()) {
      local.delete(key);
      return undefined;
    }
    return e.value;
  };
  return {
    peek,
    invalidate: (key) => {
      local.delete(key);
    },
    async get(key) {
      const hit = peek(key);
      if (hit !== undefined) return hit;
      const value = await remote.get(key);
      if (value !== null) remember(key, value);
      return value;
    },
    async set(key, value, ttlSeconds) {
      await remote.set(key, value, ttlSeconds);
      remember(key, value);
    },
    async del(key) {
      local.delete(key);
      await remote.del(key);
    },
    // Versioned values bypass the local layer: their readers (snapshots) keep their own.
    setVersioned: (key, version, value, ttl) => remote.setVersioned(key, version, value, ttl),
    getVersioned: (key) => remote.getVersioned(key),
    ping: () => remote.ping(),
    close: () => remote.close(),
  };
}
