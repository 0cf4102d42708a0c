import { describe, expect, test } from "bun:test";
import { createMemoryCache, createMemoryRateLimiter, createTieredCache } from "@careforall/cache";
import { manualClock } from "@careforall/config";
import { cacheContract } from "./contract";

cacheContract("memory", () => {
  const clock = manualClock();
  return {
    cache: createMemoryCache(clock),
    limiter: createMemoryRateLimiter(clock),
    expire: async (s) => clock.advance(s * 1000),
  };
});

describe("tiered cache", () => {
  test("serves from memory until the local TTL, then re-reads the shared layer", async () => {
    const clock = manualClock();
    const remote = createMemoryCache(clock);
    const tiered = createTieredCache(remote, { localTtlMs: 500, clock });
    await remote.set("k", "v1");
    expect(await tiered.get("k")).toBe("v1");
    await remote.set("k", "v2");
    expect(tiered.peek("k")).toBe("v1");
    clock.advance(600);
    expect(tiered.peek("k")).toBeUndefined();
    expect(await tiered.get("k")).toBe("v2");
  });

  test("invalidate drops only the local copy; set writes through", async () => {
    const remote = createMemoryCache();
    const tiered = createTieredCache(remote, { localTtlMs: 60_000 });
    await tiered.set("k", "v1");
    expect(await remote.get("k")).toBe("v1");
    await remote.set("k", "v2");
    tiered.invalidate("k");
    expect(await tiered.get("k")).toBe("v2");
  });

  test("evicts the oldest entry beyond maxEntries", async () => {
    const tiered = createTieredCache(createMemoryCache(), { maxEntries: 2 });
    await tiered.set("a", "1");
    await tiered.set("b", "2");
    await tiered.set("c", "3");
    expect(tiered.peek("a")).toBeUndefined();
    expect(tiered.peek("c")).toBe("3");
  });
});
