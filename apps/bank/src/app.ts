// The bank simulator as an Elysia app built from explicit dependencies; no I/O at import time.
// main.ts wires real ones (and the workers); tests and the single-process profile build it
// in-process. The package also exports the webhook signature helpers the payment service uses.
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
import { createBankBatch } from "./batch";
import type { BankConfig } from "./config";
import { faultsFromConfig, type Random } from "./domain";
import { createFaultStore, type FaultStore } from "./faults";
import type { BankDb } from "./ledger";
import { bankMetrics } from "./metrics";
import { accountRoutes } from "./routes/accounts";
import { faultInjection, faultRoutes } from "./routes/faults";
import { holdRoutes } from "./routes/holds";
import { createBankService } from "./service";

export interface BankAppDeps {
  db: BankDb;
  clock: Clock;
  config: BankConfig;
  log: Logger;
  /** Who this bank is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Chaos draws; inject a scripted one in tests (default Math.random). */
  random?: Random;
  /** Waits for injected latency and the slow test account (default Bun.sleep). */
  sleep?: (ms: number) => Promise<unknown>;
  /** Pass one to share /metrics with the workers (main does). */
  metrics?: HttpMetrics;
  /** Called after each committed write that queued webhooks or events (main: wake the sender and relay). */
  onCommitted?: () => void;
  /** The live chaos knobs, shared with the webhook sender (default: a store seeded from config). */
  faults?: FaultStore;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
}

export function createBankApp(deps: BankAppDeps) {
  const { db, clock, config, log, onCommitted } = deps;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? ((ms: number) => Bun.sleep(ms));
  const metrics = deps.metrics ?? createHttpMetrics("bank");
  const faults = deps.faults ?? createFaultStore({ db, initial: faultsFromConfig(config) });
  // Operator routes act for an administrator: the gateway forwards the admin's access token.
  const guard = authGuard(createTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER }));
  const service = createBankService({ db, clock, config, sleep, onCommitted });
  const business = bankMetrics(metrics, db);
  const batch = createBankBatch({
    db,
    clock,
    config,
    log,
    single: service,
    onCommitted,
    onFallback: (operation) => business.batchFallbacks.inc({ operation }),
  });
  return new Elysia()
    .use(
      httpKit({
        service: "bank",
        log,
        metrics,
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(accountRoutes({ service, guard }))
    .use(
      holdRoutes({
        service,
        batch,
        faults: faultInjection({ faults, random, sleep, metrics: business }),
      }),
    )
    .use(faultRoutes({ faults, guard }));
}

export type BankApp = ReturnType<typeof createBankApp>;
export { type BankConfig, BankConfigSchema, DEV_WEBHOOK_SECRET } from "./config";
export { createBankConsumers } from "./consumers";
export {
  checkWebhookSignature,
  type Faults,
  NO_FAULTS,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_SECONDS,
  type SignatureCheck,
  signWebhook,
  verifyWebhookSignature,
} from "./domain";
export { createFaultStore, type FaultStore } from "./faults";
export { ensureFixedAccounts, TEST_ACCOUNT_SECRET, TEST_ACCOUNTS, type WebhookPayload } from "./ledger";
export { BankModel } from "./model";
export { createExpirySweeper } from "./workers/expiry-sweeper";
export { createWebhookSender } from "./workers/webhook-sender";
