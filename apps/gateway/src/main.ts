// Gateway process: Eden clients to each service, Redis for snapshots and rate limits, a
// broadcast bus subscription keeping snapshots fresh, and the hot read mounted as a Bun
// native route so it skips the framework's per-request hooks.
import type { AuthApp } from "@careforall/auth";
import type { BankApp } from "@careforall/bank";
import { createJetStreamBus, exportBusMetrics, jetStreamOptions } from "@careforall/bus";
import {
  breakerCache,
  createFailoverRateLimiter,
  createMemoryRateLimiter,
  createRedisCache,
  createRedisClient,
  createRedisRateLimiter,
} from "@careforall/cache";
import type { CampaignApp } from "@careforall/campaign";
import { loadConfig, systemClock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import {
  createHttpMetrics,
  createSessionDenylist,
  dependencyBreaker,
  guardedFetch,
  identityFromConfig,
  mintRequestId,
  type ServiceName,
  serve,
  serviceFetch,
} from "@careforall/http";
import { createLogger } from "@careforall/log";
import type { PaymentApp } from "@careforall/payment";
import type { PledgeApp } from "@careforall/pledge";
import { initTelemetry } from "@careforall/telemetry";
import { createPollingLoop } from "@careforall/worker";
import { treaty } from "@elysiajs/eden";
import { createAuditor, createGatewayApp, type GatewayClients, hotCampaignRead } from "./app";
import { GatewayConfigSchema } from "./config";
import { createSnapshotStore } from "./snapshots";
import { startSnapshotRefresher } from "./workers/snapshot-refresher";

const config = loadConfig("gateway", GatewayConfigSchema);
const log = createLogger({ service: "gateway", level: config.LOG_LEVEL });
const telemetry = initTelemetry({ service: "gateway", endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });

// Redis is not on the critical path: behind one breaker, rate limits fall back to per-process
// memory and snapshot reads to the in-process tier and the campaign service while it is away.
const metrics = createHttpMetrics("gateway");
const redisBreaker = dependencyBreaker("redis", log, { openMs: config.REDIS_RETRY_MS });
const redis = createRedisClient(config.REDIS_URL);
await redis.connect().catch((err) => log.warn({ dependency: "redis", err }, "dependency.unavailable_at_start"));
const cache = breakerCache(createRedisCache(redis, config.REDIS_PREFIX), redisBreaker);
const limiter = createFailoverRateLimiter({
  primary: createRedisRateLimiter(redis, config.REDIS_PREFIX),
  fallback: createMemoryRateLimiter(),
  breaker: redisBreaker,
});
metrics.gauge("gateway_redis_degraded", "1 while Redis is unreachable and the gateway runs on its fallbacks", () =>
  limiter.degraded() ? 1 : 0,
);
const bus = await createJetStreamBus({ ...jetStreamOptions(config), log, name: "gateway" });
exportBusMetrics(metrics, bus);

// Upstream calls time out rather than hang a client forever, and each service sits behind its own
// breaker: after UPSTREAM_BREAKER_FAILURES failed calls in a row (refused, reset, timed out) the
// gateway answers 503 at once for UPSTREAM_RETRY_MS instead of making every client wait.
// Every call carries the gateway's service credential for that service.
const identity = await identityFromConfig("gateway", config, { trustsOthers: false });
const upstream = (service: ServiceName) =>
  serviceFetch(
    identity,
    service,
    guardedFetch(service, log, {
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      openMs: config.UPSTREAM_RETRY_MS,
      failureThreshold: config.UPSTREAM_BREAKER_FAILURES,
    }),
  );
const clients: GatewayClients = {
  auth: treaty<AuthApp>(config.AUTH_URL, { fetcher: upstream("auth"), parseDate: false }),
  campaign: treaty<CampaignApp>(config.CAMPAIGN_URL, { fetcher: upstream("campaign"), parseDate: false }),
  pledge: treaty<PledgeApp>(config.PLEDGE_URL, { fetcher: upstream("pledge"), parseDate: false }),
  payment: treaty<PaymentApp>(config.PAYMENT_URL, { fetcher: upstream("payment"), parseDate: false }),
  bank: treaty<BankApp>(config.BANK_URL, { fetcher: upstream("bank"), parseDate: false }),
};

const snapshots = createSnapshotStore({
  cache,
  clock: systemClock,
  log,
  metrics,
  localTtlMs: config.SNAPSHOT_LOCAL_TTL_MS,
  redisTtlSeconds: config.SNAPSHOT_REDIS_TTL_SECONDS,
  origin: {
    async fetch(id, requestId) {
      const res = await clients.campaign.campaigns({ id }).get({ headers: { "x-request-id": requestId } });
      if (res.status === 404) return null;
      if (res.error) throw new Error(`campaign service answered ${res.status}`);
      return res.data as CampaignSnapshot;
    },
  },
});
const refresher = await startSnapshotRefresher(bus, snapshots);

// The money audit, also run in the background so careforall_audit_drift_minor stays current.
const auditor = createAuditor({ clients, log, metrics });
const auditLoop = createPollingLoop({
  name: "gateway.audit",
  log,
  intervalMs: config.AUDIT_INTERVAL_SECONDS * 1000,
  async tick() {
    await auditor.run(mintRequestId());
    return false;
  },
});
if (config.AUDIT_INTERVAL_SECONDS > 0) auditLoop.start();

const app = createGatewayApp({
  auditor,
  // Read through the Redis breaker: while Redis is away, reads go through and writes get a 503.
  denylist: createSessionDenylist(cache),
  clients,
  snapshots,
  limiter,
  config,
  log,
  metrics,
  checks: {
    redis: { check: () => cache.ping(), optional: true },
    nats: { check: () => bus.ping(), optional: true },
    auth: async () => (await clients.auth.health.get()).status === 200,
    campaign: async () => (await clients.campaign.health.get()).status === 200,
    pledge: async () => (await clients.pledge.health.get()).status === 200,
    payment: async () => (await clients.payment.health.get()).status === 200,
    bank: async () => (await clients.bank.health.get()).status === 200,
  },
});

// The hot path, outside Elysia's hooks: request id, security headers, metrics and problem+json
// are applied by the handler and the snapshot store themselves.
const hotRead = hotCampaignRead({ snapshots, log, metrics });
app.config.serve = { ...app.config.serve, routes: { "/api/campaigns/:id": { GET: hotRead } } } as never;

serve(app, {
  port: config.PORT,
  hostname: config.HOST,
  log,
  onShutdown: [
    () => auditLoop.stop(),
    () => refresher.stop(),
    () => bus.close(),
    () => cache.close(),
    () => telemetry.shutdown(),
  ],
});
