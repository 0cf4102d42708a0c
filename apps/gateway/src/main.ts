// The gateway process: the shared boot (config, JetStream, Redis, metrics, listen, ordered stop)
// around the gateway's own parts — Eden clients to each service, snapshots and rate limits behind
// the Redis breaker, the snapshot refresher, the money audit (its result published as
// audit.completed), the fan-out that feeds /api/ws, and the hot read mounted as a Bun native route
// so it skips the framework's per-request hooks.
import type { AuthApp } from "@careforall/auth";
import type { BankApp } from "@careforall/bank";
import { defineService, runService } from "@careforall/boot";
import { breakerCache, createFailoverRateLimiter, createMemoryRateLimiter } from "@careforall/cache";
import type { CampaignApp } from "@careforall/campaign";
import type { ChatApp } from "@careforall/chat";
import type { CampaignSnapshot } from "@careforall/events";
import { createSessionDenylist, dependencyBreaker } from "@careforall/http";
import type { NotificationApp } from "@careforall/notification";
import type { PaymentApp } from "@careforall/payment";
import type { PledgeApp } from "@careforall/pledge";
import { treaty } from "@elysiajs/eden";
import { createAuditor, createGatewayApp, type GatewayClients, hotCampaignRead } from "./app";
import { GatewayConfigSchema } from "./config";
import { createSnapshotStore } from "./snapshots";
import { createAuditLoop } from "./workers/audit-loop";
import { startSnapshotRefresher } from "./workers/snapshot-refresher";

export const gatewayService = defineService({
  name: "gateway",
  config: GatewayConfigSchema,
  // Nobody calls the gateway with a service credential: it trusts no other service's key.
  trustsOthers: false,
  async start({ config, log, clock, bus, metrics, checks, cache, fanout, consume, onStop, upstream }) {
    // Redis is not on the critical path: behind one breaker, rate limits fall back to per-process
    // memory and snapshot reads to the in-process tier and the campaign service while it is away.
    const shared = await cache();
    const redisBreaker = dependencyBreaker("redis", log, { openMs: config.REDIS_RETRY_MS });
    const snapshotCache = breakerCache(shared.cache, redisBreaker);
    const limiter = createFailoverRateLimiter({
      primary: shared.limiter,
      fallback: createMemoryRateLimiter(),
      breaker: redisBreaker,
    });
    metrics.gauge(
      "careforall_gateway_redis_degraded",
      "1 while Redis is unreachable and the gateway runs on its fallbacks",
      () => (limiter.degraded() ? 1 : 0),
    );

    // Upstream calls time out rather than hang a client forever, and each service sits behind its own
    // breaker: after UPSTREAM_BREAKER_FAILURES failed calls in a row (refused, reset, timed out) the
    // gateway answers 503 at once for UPSTREAM_RETRY_MS instead of making every client wait.
    // Every call carries the gateway's service credential for that service (ctx.upstream).
    const guard = {
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      openMs: config.UPSTREAM_RETRY_MS,
      failureThreshold: config.UPSTREAM_BREAKER_FAILURES,
    };
    const auth = upstream("auth", guard);
    const campaign = upstream("campaign", guard);
    const pledge = upstream("pledge", guard);
    const payment = upstream("payment", guard);
    const bank = upstream("bank", guard);
    const chat = upstream("chat", guard);
    const notification = upstream("notification", guard);
    const clients: GatewayClients = {
      auth: treaty<AuthApp>(auth.url, { fetcher: auth.fetch, parseDate: false }),
      campaign: treaty<CampaignApp>(campaign.url, { fetcher: campaign.fetch, parseDate: false }),
      pledge: treaty<PledgeApp>(pledge.url, { fetcher: pledge.fetch, parseDate: false }),
      payment: treaty<PaymentApp>(payment.url, { fetcher: payment.fetch, parseDate: false }),
      bank: treaty<BankApp>(bank.url, { fetcher: bank.fetch, parseDate: false }),
      chat: treaty<ChatApp>(chat.url, { fetcher: chat.fetch, parseDate: false }),
      notification: treaty<NotificationApp>(notification.url, { fetcher: notification.fetch, parseDate: false }),
    };

    const snapshots = createSnapshotStore({
      cache: snapshotCache,
      clock,
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
    consume(await startSnapshotRefresher(bus, snapshots));

    // The money audit, also run in the background so careforall_audit_drift_minor stays current.
    const auditor = createAuditor({ clients, log, metrics });
    const auditLoop = createAuditLoop({
      auditor,
      bus,
      clock,
      log,
      intervalMs: config.AUDIT_INTERVAL_SECONDS * 1000,
    });
    if (config.AUDIT_INTERVAL_SECONDS > 0) auditLoop.start();
    onStop("audit", () => auditLoop.stop());

    const app = createGatewayApp({
      web: { distDir: config.WEB_DIST_DIR },
      auditor,
      // One listener per topic for the whole process, feeding every local socket of /api/ws.
      fanout: await fanout(),
      clock,
      // Read through the Redis breaker: while Redis is away, reads go through and writes get a 503.
      denylist: createSessionDenylist(snapshotCache),
      clients,
      snapshots,
      limiter,
      config,
      log,
      metrics,
      checks: {
        redis: { check: () => snapshotCache.ping(), optional: true },
        ...checks,
        auth: async () => (await clients.auth.health.get()).status === 200,
        campaign: async () => (await clients.campaign.health.get()).status === 200,
        pledge: async () => (await clients.pledge.health.get()).status === 200,
        payment: async () => (await clients.payment.health.get()).status === 200,
        bank: async () => (await clients.bank.health.get()).status === 200,
        chat: async () => (await clients.chat.health.get()).status === 200,
        notification: async () => (await clients.notification.health.get()).status === 200,
      },
    });

    // The hot path, outside Elysia's hooks: request id, security headers, metrics and problem+json
    // are applied by the handler and the snapshot store themselves.
    const hotRead = hotCampaignRead({ snapshots, log, metrics });
    app.config.serve = { ...app.config.serve, routes: { "/api/campaigns/:id": { GET: hotRead } } } as never;
    return app;
  },
});

if (import.meta.main) await runService(gatewayService);
