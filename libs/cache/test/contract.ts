// One behaviour, two implementations: the Redis and in-memory cache/rate limiter must agree.
import { describe, expect, test } from "bun:test";
import type { Cache, RateLimiter } from "@careforall/cache";

export function cacheContract(
  name: string,
  make: () => { cache: Cache; limiter: RateLimiter; expire: (s: number) => Promise<void> },
) {
  describe(`${name} cache contract`, () => {
    test("get/set/del round trip", async () => {
      const { cache } = make();
      const key = `k:${crypto.randomUUID()}`;
      expect(await cache.get(key)).toBeNull();
      await cache.set(key, "v1");
      expect(await cache.get(key)).toBe("v1");
      await cache.set(key, "v2");
      expect(await cache.get(key)).toBe("v2");
      await cache.del(key);
      expect(await cache.get(key)).toBeNull();
      expect(await cache.ping()).toBe(true);
    });

    test("versioned values only move forward, even under concurrent writers", async () => {
      const { cache } = make();
      const key = `ver:${crypto.randomUUID()}`;
      expect(await cache.getVersioned(key)).toBeNull();
      expect(await cache.setVersioned(key, 2, "two\nlines")).toBe(true);
      expect(await cache.setVersioned(key, 1, "one")).toBe(false);
      expect(await cache.setVersioned(key, 2, "two again")).toBe(false);
      expect(await cache.getVersioned(key)).toEqual({ version: 2, value: "two\nlines" });
      const results = await Promise.all([5, 3, 9, 4, 8].map((v) => cache.setVersioned(key, v, `v${v}`)));
      expect(results.some(Boolean)).toBe(true);
      expect(await cache.getVersioned(key)).toEqual({ version: 9, value: "v9" });
    });

    test("values expire after their TTL", async () => {
      const { cache, expire } = make();
      const key = `ttl:${crypto.randomUUID()}`;
      await cache.set(key, "v", 1);
      expect(await cache.get(key)).toBe("v");
      await expire(1.1);
      expect(await cache.get(key)).toBeNull();
    });

    test("rate limiter allows `limit` hits per window and reports Retry-After", async () => {
      const { limiter, expire } = make();
      const key = `rl:${crypto.randomUUID()}`;
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await limiter.hit(key, 3, 1));
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
      expect(results[3]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(results[1]!.remaining).toBe(1);
      await expire(1.1);
      expect((await limiter.hit(key, 3, 1)).allowed).toBe(true);
    });

    test("concurrent hits are counted exactly", async () => {
      const { limiter } = make();
      const key = `rlc:${crypto.randomUUID()}`;
      const results = await Promise.all(Array.from({ length: 25 }, () => limiter.hit(key, 10, 60)));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
    });

    test("a released hit is given back, never below zero", async () => {
      const { limiter } = make();
      const key = `rlr:${crypto.randomUUID()}`;
      await limiter.release(key); // nothing to give back: no negative credit
      expect((await limiter.hit(key, 2, 60)).remaining).toBe(1);
      await limiter.release(key);
      expect((await limiter.hit(key, 2, 60)).remaining).toBe(1);
      expect((await limiter.hit(key, 2, 60)).allowed).toBe(true);
      expect((await limiter.hit(key, 2, 60)).allowed).toBe(false);
    });

    test("limit 0 turns the limit off", async () => {
      const { limiter } = make();
      for (let i = 0; i < 5; i++) expect((await limiter.hit("off", 0, 60)).allowed).toBe(true);
    });
  });
}
