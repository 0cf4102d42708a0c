// The campaign service as an Elysia app built from explicit dependencies; no I/O at import time.
// main.ts wires real ones; tests and the single-process profile build it in-process.
import type { Clock } from "@careforall/config";
import {
  authGuard,
  createTokenVerifier,
  type HttpMetrics,
  httpKit,
  type ReadinessChecks,
  type ServiceIdentity,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import type { CampaignConfig } from "./config";
import { campaignRoutes } from "./routes/campaigns";
import { donationRoutes } from "./routes/donations";
import { type CampaignDb, createCampaignService } from "./service";
import { createTotalsService } from "./totals";

export interface CampaignAppDeps {
  db: CampaignDb;
  clock: Clock;
  config: Pick<CampaignConfig, "JWT_PUBLIC_KEY" | "JWT_ISSUER">;
  log: Logger;
  /** Who campaign is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Called after each committed write that produced events; main wires it to relay.kick(). */
  onCommitted?: () => void;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
  /** Pass one to register extra gauges (outbox lag) on the same /metrics. */
  metrics?: HttpMetrics;
}

export function createCampaignApp(deps: CampaignAppDeps) {
  const { db, clock, config, log, onCommitted } = deps;
  const service = createCampaignService({ db, clock, onCommitted });
  const guard = authGuard(createTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER }));
  return new Elysia()
    .use(
      httpKit({
        service: "campaign",
        log,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(campaignRoutes({ service, guard }))
    .use(donationRoutes({ totals: createTotalsService({ db, clock, log, onCommitted }), guard }));
}

export type CampaignApp = ReturnType<typeof createCampaignApp>;
export { type CampaignConfig, CampaignConfigSchema } from "./config";
export { CampaignModel, DonationModel } from "./model";
export { createTotalsService, type TotalsService } from "./totals";
export { startTotalsConsumer } from "./workers/totals-consumer";
