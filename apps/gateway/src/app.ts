// The gateway: the only public origin. It validates at the edge, rate limits, verifies tokens,
// serves the hot campaign read from its snapshot cache, hosts the WebSocket edge (/api/ws, fed by
// the fan-out), documents everything under /docs, and reaches internal services only through Eden
// Treaty clients built from their app types.
import type { AuthApp } from "@careforall/auth";
import type { BankApp } from "@careforall/bank";
import type { Fanout } from "@careforall/bus";
import type { RateLimiter } from "@careforall/cache";
import type { CampaignApp } from "@careforall/campaign";
import type { ChatApp } from "@careforall/chat";
import { type Clock, systemClock } from "@careforall/config";
import {
  createTokenVerifier,
  type HttpMetrics,
  httpKit,
  type ReadinessChecks,
  type SessionDenylist,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { NotificationApp } from "@careforall/notification";
import type { PaymentApp } from "@careforall/payment";
import type { PledgeApp } from "@careforall/pledge";
import type { Treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import { createBankAccounts } from "./bank-accounts";
import { cacheControl } from "./cache-control";
import type { GatewayConfig } from "./config";
import { parseTrustedProxies } from "./domain/client-ip";
import type { RouteLike } from "./openapi/document";
import { createRealtime, type RealtimeUpstreams, websocketOptions } from "./realtime";
import { clientUpstreams } from "./realtime/upstreams";
import { type Auditor, adminRoutes, createAuditor } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { bankRoutes } from "./routes/bank";
import { campaignRoutes } from "./routes/campaigns";
import { chatRoutes } from "./routes/chat";
import { gatewayContext } from "./routes/context";
import { docsRoutes } from "./routes/docs";
import { notificationRoutes } from "./routes/notifications";
import { pledgeRoutes } from "./routes/pledges";
import { webRoutes } from "./routes/web";
import type { SnapshotStore } from "./snapshots";

export interface GatewayClients {
  auth: Treaty.Create<AuthApp>;
  campaign: Treaty.Create<CampaignApp>;
  pledge: Treaty.Create<PledgeApp>;
  payment: Treaty.Create<PaymentApp>;
  bank: Treaty.Create<BankApp>;
  chat: Treaty.Create<ChatApp>;
  notification: Treaty.Create<NotificationApp>;
}

export interface GatewayDeps {
  clients: GatewayClients;
  snapshots: SnapshotStore;
  limiter: RateLimiter;
  config: Pick<
    GatewayConfig,
    | "JWT_PUBLIC_KEY"
    | "JWT_ISSUER"
    | "RATE_LIMIT_AUTH"
    | "RATE_LIMIT_LOGIN_PER_ACCOUNT"
    | "RATE_LIMIT_DEMO_ACCOUNTS"
    | "RATE_LIMIT_PLEDGES"
    | "RATE_LIMIT_TEST_ACCOUNT_PLEDGES"
    | "TRUSTED_PROXIES"
    | "WS_FRAMES_PER_SECOND"
    | "WS_FRAME_BURST"
    | "WS_MAX_FOLLOWS"
    | "WS_MAX_ROOMS"
    | "WS_IDLE_TIMEOUT_SECONDS"
    | "WS_BACKPRESSURE_LIMIT_BYTES"
  >;
  log: Logger;
  metrics: HttpMetrics;
  checks?: ReadinessChecks;
  /** The money audit; main.ts shares one with its periodic run so the gauges stay current. */
  auditor?: Auditor;
  /** Sessions ended at auth (Redis): their access tokens are refused (401). */
  denylist?: SessionDenylist;
  /** Live pushes for GET /api/ws (NATS core across replicas; memory in one process). */
  fanout: Fanout;
  /** What the WebSocket asks other services; by default the Eden clients above. */
  realtimeUpstreams?: RealtimeUpstreams;
  clock?: Clock;
  /** The web app's build to serve at `/` (main.ts: WEB_DIST_DIR); without it `/` stays a 404. */
  web?: { distDir: string };
}

export function createGatewayApp(deps: GatewayDeps) {
  const { clients, snapshots, limiter, config, log, metrics } = deps;
  const verifier = createTokenVerifier({
    publicKeyPem: config.JWT_PUBLIC_KEY,
    issuer: config.JWT_ISSUER,
    ...(deps.denylist ? { denylist: deps.denylist } : {}),
    log,
  });
  const context = gatewayContext(verifier, parseTrustedProxies(config.TRUSTED_PROXIES));
  // /docs/json describes the finished app's routes: the table is filled in once the app is built.
  const table: { routes: readonly RouteLike[] } = { routes: [] };
  // Set once the app exists: the listening server's publish (nothing to publish to before it listens).
  let publish: (topic: string, json: string) => number = () => 0;
  const realtime = createRealtime({
    verifier,
    fanout: deps.fanout,
    snapshots,
    upstreams: deps.realtimeUpstreams ?? clientUpstreams(clients),
    publish: (topic, json) => publish(topic, json),
    limits: {
      perSecond: config.WS_FRAMES_PER_SECOND,
      burst: config.WS_FRAME_BURST,
      maxFollows: config.WS_MAX_FOLLOWS,
      maxRooms: config.WS_MAX_ROOMS,
    },
    clock: deps.clock ?? systemClock,
    log,
    metrics,
  });
  // Bun's WebSocket settings are the server's: they belong to the root app.
  const app = new Elysia({
    websocket: websocketOptions({
      idleTimeoutSeconds: config.WS_IDLE_TIMEOUT_SECONDS,
      backpressureLimitBytes: config.WS_BACKPRESSURE_LIMIT_BYTES,
    }),
  })
    // The public origin: it authenticates users itself, and no service calls it.
    .use(
      httpKit({ service: "gateway", log, metrics, trust: "public", ...(deps.checks ? { checks: deps.checks } : {}) }),
    )
    .use(cacheControl(table))
    .use(docsRoutes(table))
    .use(
      authRoutes({
        auth: clients.auth,
        limiter,
        limitPerMinute: config.RATE_LIMIT_AUTH,
        loginFailuresPerAccount: config.RATE_LIMIT_LOGIN_PER_ACCOUNT,
        log,
        context,
      }),
    )
    .use(campaignRoutes({ campaign: clients.campaign, snapshots, log, context }))
    .use(
      pledgeRoutes({
        pledge: clients.pledge,
        accounts: createBankAccounts(clients.bank),
        limiter,
        limitPerMinute: config.RATE_LIMIT_PLEDGES,
        testAccountLimitPerMinute: config.RATE_LIMIT_TEST_ACCOUNT_PLEDGES,
        log,
        context,
      }),
    )
    .use(
      bankRoutes({
        bank: clients.bank,
        payment: clients.payment,
        limiter,
        demoAccountsPerMinute: config.RATE_LIMIT_DEMO_ACCOUNTS,
        log,
        context,
      }),
    )
    .use(chatRoutes({ chat: clients.chat, log, context }))
    .use(notificationRoutes({ notification: clients.notification, log, context }))
    .use(adminRoutes({ auditor: deps.auditor ?? createAuditor({ clients, log, metrics }), context }))
    .use(realtime.routes)
    .use(deps.web ? webRoutes({ distDir: deps.web.distDir, log }) : new Elysia({ name: "gateway-web" }));
  table.routes = app.routes;
  // Bun's graceful stop waits for every WebSocket to close: they are told to go (1001) first, so
  // a stopping gateway never waits on its clients (they reconnect to another replica).
  const stop = app.stop.bind(app);
  app.stop = (closeActiveConnections?: boolean) => {
    realtime.closeAll();
    return stop(closeActiveConnections);
  };
  publish = (topic, json) => app.server?.publish(topic, json) ?? 0;
  return app;
}

export type GatewayApp = ReturnType<typeof createGatewayApp>;
export { type GatewayConfig, GatewayConfigSchema } from "./config";
export { createAuditor } from "./routes/admin";
export { campaignReadHandler, hotCampaignRead } from "./routes/campaigns";
export { createSnapshotStore, type SnapshotOrigin, type SnapshotStore } from "./snapshots";
