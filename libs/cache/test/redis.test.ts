import { afterAll } from "bun:test";
import { createRedisCache, createRedisClient, createRedisRateLimiter } from "@careforall/cache";
import { cacheContract } from "./contract";

const redis = createRedisClient(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
await redis.connect();
const prefix = `cfa_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}:`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

cacheContract("redis", () => ({
  cache: createRedisCache(redis, prefix),
  limiter: createRedisRateLimiter(redis, prefix),
  // Real time: Redis expires on its own clock.
  expire: (s) => Bun.sleep(s * 1000),
}));
