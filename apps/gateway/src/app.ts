// The gateway: the only public origin. It validates at the edge, rate limits, verifies tokens,
// serves the hot campaign read from its snapshot cache, documents everything under /docs, and
// reaches internal services only through Eden Treaty clients built from their app types.
import type { AuthApp } from "@careforall/auth";
import type { RateLimiter } from "@careforall/cache";
import type { CampaignApp } from "@careforall/campaign";
import { createTokenVerifier, type HttpMetrics, httpKit, type ReadinessChecks } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { Treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import type { GatewayConfig } from "./config";
import { parseTrustedProxies } from "./domain/client-ip";
import { authRoutes } from "./routes/auth";
import { campaignRoutes } from "./routes/campaigns";
import { gatewayContext } from "./routes/context";
import { docsRoutes } from "./routes/docs";
import type { SnapshotStore } from "./snapshots";

export interface GatewayClients {
  auth: Treaty.Create<AuthApp>;
  campaign: Treaty.Create<CampaignApp>;
}

export interface GatewayDeps {
  clients: GatewayClients;
  snapshots: SnapshotStore;
  limiter: RateLimiter;
  config: Pick<GatewayConfig, "JWT_PUBLIC_KEY" | "JWT_ISSUER" | "RATE_LIMIT_AUTH" | "TRUSTED_PROXIES">;
  log: Logger;
  metrics: HttpMetrics;
  checks?: ReadinessChecks;
}

export function createGatewayApp(deps: GatewayDeps) {
  const { clients, snapshots, limiter, config, log, metrics } = deps;
  const verifier = createTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER });
  const context = gatewayContext(verifier, parseTrustedProxies(config.TRUSTED_PROXIES));
  return new Elysia()
    .use(httpKit({ service: "gateway", log, metrics, ...(deps.checks ? { checks: deps.checks } : {}) }))
    .use(docsRoutes())
    .use(authRoutes({ auth: clients.auth, limiter, limitPerMinute: config.RATE_LIMIT_AUTH, log, context }))
    .use(campaignRoutes({ campaign: clients.campaign, snapshots, log, context }));
}

export type GatewayApp = ReturnType<typeof createGatewayApp>;
export { type GatewayConfig, GatewayConfigSchema } from "./config";
export { campaignReadHandler, hotCampaignRead } from "./routes/campaigns";
export { createSnapshotStore, type SnapshotOrigin, type SnapshotStore } from "./snapshots";
