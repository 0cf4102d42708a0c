// The servers profile: each service on PostgreSQL (database created if missing, migrations
// applied under the advisory lock), NATS JetStream and Redis, configured from its environment.
import { createJetStreamBus, createNatsFanout, jetStreamOptions, type NatsSettings } from "@careforall/bus";
import { createRedisCache, createRedisClient, createRedisRateLimiter } from "@careforall/cache";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { initTelemetry } from "@careforall/telemetry";
import type { InfraContext, Infrastructure } from "./boot";
import { deploymentEnvironment, serviceVersion } from "./resource";

/** A setting the service's schema must declare for this part of the infrastructure. */
function setting<T>(ctx: InfraContext, key: string): T {
  const value = ctx.config[key];
  if (value === undefined) throw new Error(`${ctx.service}: ${key} is not part of its configuration`);
  return value as T;
}

export function serversInfrastructure(): Infrastructure {
  return {
    async database(ctx, spec) {
      const url = setting<string>(ctx, "DATABASE_URL");
      await ensureDatabase(url);
      // One PostgreSQL schema per service, named after it.
      await migrate({ url, migrationsFolder: spec.migrationsFolder, schema: ctx.service });
      const max = setting<number>(ctx, "DATABASE_POOL_MAX");
      return createDb({ url, schema: spec.schema, max, name: ctx.service });
    },
    bus(ctx) {
      return createJetStreamBus({
        ...jetStreamOptions(ctx.config as unknown as NatsSettings),
        log: ctx.log,
        name: ctx.service,
      });
    },
    fanout(ctx) {
      return createNatsFanout({
        url: setting<string>(ctx, "NATS_URL"),
        prefix: setting<string>(ctx, "BUS_PREFIX"),
        log: ctx.log,
        name: `${ctx.service}-fanout`,
      });
    },
    async cache(ctx) {
      const prefix = setting<string>(ctx, "REDIS_PREFIX");
      const redis = createRedisClient(setting<string>(ctx, "REDIS_URL"));
      // Redis is never on a service's critical path: it starts without it and reconnects by itself.
      await redis
        .connect()
        .catch((err) => ctx.log.warn({ dependency: "redis", err }, "dependency.unavailable_at_start"));
      const cache = createRedisCache(redis, prefix);
      return { cache, limiter: createRedisRateLimiter(redis, prefix), close: () => cache.close() };
    },
    connect(ctx, target) {
      // The network, looked up per call (so a test that swaps the global fetch still sees it).
      return {
        url: setting<string>(ctx, `${target.toUpperCase()}_URL`),
        fetch: ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)) as typeof fetch,
      };
    },
    telemetry(ctx) {
      return initTelemetry({
        service: ctx.service,
        version: serviceVersion(ctx.service),
        environment: deploymentEnvironment(),
        endpoint: ctx.config.OTEL_EXPORTER_OTLP_ENDPOINT as string | undefined,
      });
    },
  };
}
