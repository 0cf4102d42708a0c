// The cache and rate-limiter contracts shared by the Redis and in-memory implementations.
export interface Cache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  del(key: string): Promise<void>;
  /**
   * Stores `value` only if `version` is newer than the stored one (atomically), so a late
   * writer never replaces a fresher snapshot. Returns whether it was stored.
   */
  setVersioned(key: string, version: number, value: string, ttlSeconds?: number): Promise<boolean>;
  getVersioned(key: string): Promise<{ version: number; value: string } | null>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets (for `Retry-After`). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Counts one hit on `key` in a fixed window; `limit` 0 disables the limit. */
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
  /**
   * Gives one hit on `key` back, for an attempt that turned out not to count (a login that
   * succeeded: only failures are limited). Counting first and releasing after keeps concurrent
   * attempts from all passing a check made before any was counted. Never below zero.
   */
  release(key: string): Promise<void>;
}
