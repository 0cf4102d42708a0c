// The payment service as an Elysia app built from explicit dependencies; no I/O at import time.
// main.ts wires real ones (and starts the consumers and the reconciler); tests and the
// single-process profile build it in-process around the same service.
import { verifyWebhookSignature } from "@careforall/bank";
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
import type { BankClient } from "./bank-client";
import type { PaymentConfig } from "./config";
import { paymentMetrics } from "./metrics";
import { paymentRoutes } from "./routes/payments";
import { createPaymentService, type PaymentDb, type PaymentService, type WebhookVerifier } from "./service";

export interface PaymentAppDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  config: Pick<PaymentConfig, "WEBHOOK_SECRET" | "RETRY_BACKOFF_MS" | "JWT_PUBLIC_KEY" | "JWT_ISSUER">;
  log: Logger;
  /** Who payment is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Pass one to share /metrics with the workers (main does). */
  metrics?: HttpMetrics;
  /** Called after each committed change that queued events (main: relay.kick()). */
  onCommitted?: () => void;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
  /** The service the workers also use; built from the deps above when omitted. */
  service?: PaymentService;
  /** Defaults to the bank's own verifier (constant-time, `Bank-Signature` format). */
  verifyWebhookSignature?: WebhookVerifier;
}

/** The service the app and the workers share: build it once in main and pass it to both. */
export function buildPaymentService(deps: Omit<PaymentAppDeps, "checks" | "service" | "identity">): PaymentService {
  const metrics = deps.metrics ?? createHttpMetrics("payment");
  return createPaymentService({
    db: deps.db,
    bank: deps.bank,
    clock: deps.clock,
    config: deps.config,
    log: deps.log,
    metrics: paymentMetrics(metrics, deps.db),
    verifyWebhookSignature: deps.verifyWebhookSignature ?? verifyWebhookSignature,
    onCommitted: deps.onCommitted,
  });
}

export function createPaymentApp(deps: PaymentAppDeps) {
  const { db, log } = deps;
  const metrics = deps.metrics ?? createHttpMetrics("payment");
  const service = deps.service ?? buildPaymentService({ ...deps, metrics });
  // Registers the business gauges on this registry even when the service came from elsewhere.
  paymentMetrics(metrics, db);
  return new Elysia()
    .use(
      httpKit({
        service: "payment",
        log,
        metrics,
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(
      paymentRoutes({
        service,
        guard: authGuard(
          createTokenVerifier({ publicKeyPem: deps.config.JWT_PUBLIC_KEY, issuer: deps.config.JWT_ISSUER }),
        ),
      }),
    );
}

export type PaymentApp = ReturnType<typeof createPaymentApp>;
export {
  type AuthorizeRequest,
  type AuthorizeResult,
  type BankClient,
  type BankOutcome,
  createBankClient,
  createEdenBankClient,
  type Hold,
} from "./bank-client";
export { backoffList, type PaymentConfig, PaymentConfigSchema } from "./config";
export { type PaymentStatus, transition } from "./domain";
export { type PaymentMetrics, paymentMetrics } from "./metrics";
export { PaymentModel } from "./model";
export { CONSUMERS, createPaymentService, type PaymentDb, type PaymentService } from "./service";
export { DURABLES, startPledgeConsumers } from "./workers/pledge-consumers";
export { createReconciler, type Reconciler } from "./workers/reconciler";
