// Redis taken away for real (a private redis-server, SIGKILLed, then started again empty): the
// limiter keeps answering from process memory instead of refusing, cache calls fail at once while
// the breaker is open, each transition is reported once, and when Redis is back the shared tier is
// used again with no restart of anything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  breakerCache,
  createFailoverRateLimiter,
  createMemoryRateLimiter,
  createRedisCache,
  createRedisClient,
  createRedisRateLimiter,
} from "@careforall/cache";
import { BreakerOpenError, createBreaker } from "@careforall/resilience";
import { type KillableServer, startRedisServer, waitFor } from "@careforall/testkit";
import type Redis from "ioredis";

let server: KillableServer;
let redis: Redis;
const transitions: string[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedisClient(server.url);
  await redis.connect();
});
afterAll(async () => {
  redis.disconnect();
  await server.kill();
});

describe("Redis away and back", () => {
  test("limits fall back to process memory, cache calls fail at once, and both recover by themselves", async () => {
    // A short open period so the trial calls after the restart come quickly (real time: Redis).
    const breaker = createBreaker({ name: "redis", openMs: 100, onChange: (s) => transitions.push(s) });
    const limiter = createFailoverRateLimiter({
      primary: createRedisRateLimiter(redis, "t:"),
      fallback: createMemoryRateLimiter(),
      breaker,
    });
    const cache = breakerCache(createRedisCache(redis, "t:"), breaker);

    // Up: counted in Redis.
    expect(await limiter.hit("donor", 2, 60)).toMatchObject({ allowed: true, remaining: 1 });
    expect(await redis.get("t:rl:donor")).toBe("1");
    expect(limiter.degraded()).toBe(false);

    await server.kill();

    // Down: the first hit finds out (one failed command), and is answered from memory.
    expect(await limiter.hit("donor", 2, 60)).toMatchObject({ allowed: true });
    expect(limiter.degraded()).toBe(true);
    expect(transitions).toEqual(["open"]);
    // The fallback still limits: a third hit in the window is refused, never waved through.
    expect(await limiter.hit("donor", 2, 60)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.hit("donor", 2, 60)).toMatchObject({ allowed: false });
    // While open, the cache does not even try Redis.
    expect(await cache.get("k").catch((e: unknown) => e)).toBeInstanceOf(BreakerOpenError);

    await server.start();

    // Back (and empty): a trial call after the open period finds it, and the shared tier is used again.
    await waitFor(
      async () => {
        await limiter.hit("after", 5, 60);
        return !limiter.degraded();
      },
      { what: "the limiter to use Redis again", timeoutMs: 15_000 },
    );
    expect(transitions).toEqual(["open", "closed"]);
    expect(Number(await redis.get("t:rl:after"))).toBeGreaterThanOrEqual(1);
    await cache.set("k", "v");
    expect(await cache.get("k")).toBe("v");
  });
});
