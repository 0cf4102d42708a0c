// The pledge service as an Elysia app built from explicit dependencies; no I/O at import time.
// main.ts wires real ones (and starts the consumers exported here); tests build it in-process.
import type { Clock } from "@careforall/config";
import {
  authGuard,
  createHttpMetrics,
  createTokenVerifier,
  type HttpMetrics,
  httpKit,
  type ReadinessChecks,
  type ServiceIdentity,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import { Gauge } from "prom-client";
import type { SourceVerifier } from "./bank-client";
import type { PledgeConfig } from "./config";
import { PLEDGE_STATUSES } from "./domain";
import { adminRoutes } from "./routes/admin";
import { internalRoutes } from "./routes/internal";
import { pledgeRoutes } from "./routes/pledges";
import { createPledgeService, type PledgeDb, type PledgeServiceConfig } from "./service";

export interface PledgeAppDeps {
  db: PledgeDb;
  /** The bank seam: verifies a pledge's source and returns a grant. */
  verifier: SourceVerifier;
  clock: Clock;
  config: PledgeServiceConfig & Pick<PledgeConfig, "JWT_PUBLIC_KEY" | "JWT_ISSUER">;
  log: Logger;
  /** Who pledge is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Pass one to share /metrics with main's gauges (outbox lag); otherwise the app makes its own. */
  metrics?: HttpMetrics;
  /** Called after each committed write that produced events; main wires it to relay.kick(). */
  onCommitted?: () => void;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
}

export function createPledgeApp(deps: PledgeAppDeps) {
  const { db, clock, config, log } = deps;
  const metrics = deps.metrics ?? createHttpMetrics("pledge");
  const replays = metrics.counter(
    "careforall_pledge_idempotent_replays_total",
    "Create requests answered from a stored Idempotency-Key",
  );
  const acceptBatches = metrics.counter(
    "careforall_pledge_accept_batches_total",
    "Accept statements sent (group commit); careforall_pledge_accepts_batched_total / this = the mean batch size",
  );
  const acceptsBatched = metrics.counter(
    "careforall_pledge_accepts_batched_total",
    "Accepts sent, over all accept statements",
  );
  const service = createPledgeService({
    db,
    verifier: deps.verifier,
    clock,
    log,
    config,
    onCommitted: deps.onCommitted,
    onReplay: () => replays.inc(),
    onAcceptBatch: (size) => {
      acceptBatches.inc();
      acceptsBatched.inc(size);
    },
  });
  // HttpMetrics.gauge has no labels; one series per status needs prom-client's Gauge directly.
  new Gauge({
    name: "careforall_pledges_by_status",
    help: "Pledges in each status",
    labelNames: ["status"] as const,
    registers: [metrics.registry],
    async collect() {
      const counts = new Map((await service.countByStatus()).map((c) => [c.status, c.count]));
      for (const status of PLEDGE_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  const guard = authGuard(createTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER }));
  return new Elysia()
    .use(
      httpKit({
        service: "pledge",
        log,
        metrics,
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(pledgeRoutes({ service, guard }))
    .use(adminRoutes({ service, guard }))
    .use(internalRoutes({ service, guard }));
}

export type PledgeApp = ReturnType<typeof createPledgeApp>;
export {
  type BankGrantsClient,
  createEdenSourceVerifier,
  type GrantInput,
  type GrantOutcome,
  type SourceVerifier,
} from "./bank-client";
export { type PledgeConfig, PledgeConfigSchema } from "./config";
export { PledgeModel } from "./model";
export { createPledgeService, type PledgeService } from "./service";
export { createCampaignEventHandler, startCampaignConsumer } from "./workers/campaign-events";
export { startIdempotencySweeper } from "./workers/idempotency-sweeper";
export { createPaymentEventHandler, startPaymentConsumer } from "./workers/payment-events";
