// The chat process: the shared boot (config, PostgreSQL, JetStream, metrics, listen, ordered stop)
// around chat's own parts — the campaign directory's consumer, the fan-out and Redis (rate limits,
// ended sessions) behind a breaker with an in-memory fallback for the limits.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { breakerCache, createFailoverRateLimiter, createMemoryRateLimiter } from "@careforall/cache";
import { createSessionDenylist, dependencyBreaker } from "@careforall/http";
import { createChatApp } from "./app";
import { ChatConfigSchema } from "./config";
import { schema } from "./db/schema";
import { startCampaignConsumer } from "./workers/campaign-events";

export const chatService = defineService({
  name: "chat",
  config: ChatConfigSchema,
  async start({ config, log, clock, bus, metrics, identity, checks, database, cache, fanout, consume }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    consume(await startCampaignConsumer(bus, { db, clock, log }));

    // Redis is not on the critical path of a post: while it is away, limits count per process
    // (each replica limits on its own) and ended sessions cannot be checked, so posts get 503 with
    // Retry-After (the verifier's rule for writes) while reads go on.
    const shared = await cache();
    const redis = dependencyBreaker("redis", log, { openMs: config.REDIS_RETRY_MS });
    const limiter = createFailoverRateLimiter({
      primary: shared.limiter,
      fallback: createMemoryRateLimiter(clock),
      breaker: redis,
    });
    metrics.gauge(
      "careforall_chat_redis_degraded",
      "1 while Redis is unreachable and rate limits are per process",
      () => (limiter.degraded() ? 1 : 0),
    );

    return createChatApp({
      identity,
      db,
      clock,
      config,
      log,
      metrics,
      fanout: await fanout(),
      limiter,
      denylist: createSessionDenylist(breakerCache(shared.cache, redis)),
      checks: { ...checks, redis: { check: () => shared.cache.ping(), optional: true } },
    });
  },
});

export type { ChatApp } from "./app";
export { ChatModel } from "./model";

if (import.meta.main) await runService(chatService);
