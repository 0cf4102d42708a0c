// The payment service's business metrics on the app's /metrics registry: payments by status,
// duplicate webhooks ignored, webhooks refused for their signature, reconciler actions, unknown
// bank outcomes (and, from main, outbox lag).
import type { HttpMetrics } from "@careforall/http";
import { count } from "drizzle-orm";
import { Gauge } from "prom-client";
import { payments } from "./db/schema";
import { PAYMENT_STATUSES } from "./domain/payment-machine";
import type { PaymentDb } from "./service";

export interface PaymentMetrics {
  webhookDuplicates: { inc(): void };
  webhookMismatches: { inc(): void };
  /** A webhook refused for a missing, forged or stale Bank-Signature. */
  webhookSignatureFailures: { inc(): void };
  reconcilerActions: { inc(labels: { action: string }): void };
  bankUnknownOutcomes: { inc(labels: { operation: string }): void };
}

const registered = new WeakMap<HttpMetrics, PaymentMetrics>();

/** Registers the payment metrics once per registry (the app and the workers share them). */
export function paymentMetrics(metrics: HttpMetrics, db: PaymentDb): PaymentMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;
  new Gauge({
    name: "careforall_payments_by_status",
    help: "Payments per status",
    labelNames: ["status"],
    registers: [metrics.registry],
    async collect() {
      const rows = await db.select({ status: payments.status, n: count() }).from(payments).groupBy(payments.status);
      const counts = new Map(rows.map((r) => [r.status, r.n]));
      for (const status of PAYMENT_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  const created: PaymentMetrics = {
    webhookDuplicates: metrics.counter(
      "careforall_payment_webhook_duplicates_ignored_total",
      "Bank webhooks already applied (same event id), acknowledged without effect",
    ),
    webhookMismatches: metrics.counter(
      "careforall_payment_webhook_mismatches_total",
      "Signed bank webhooks that did not fit their payment or that the bank's records did not bear out (ignored)",
    ),
    webhookSignatureFailures: metrics.counter(
      "careforall_webhook_signature_failures_total",
      "Bank webhooks refused for a missing, forged or stale Bank-Signature (400)",
    ),
    reconcilerActions: metrics.counter(
      "careforall_payment_reconciler_actions_total",
      "Reconciler decisions by action",
      ["action"],
    ),
    bankUnknownOutcomes: metrics.counter(
      "careforall_payment_bank_unknown_outcomes_total",
      "Bank calls that timed out, failed with 5xx or lost their response",
      ["operation"],
    ),
  };
  registered.set(metrics, created);
  return created;
}

/** Counters that go nowhere, for a service built without a registry. */
export const noopPaymentMetrics: PaymentMetrics = {
  webhookDuplicates: { inc() {} },
  webhookMismatches: { inc() {} },
  webhookSignatureFailures: { inc() {} },
  reconcilerActions: { inc() {} },
  bankUnknownOutcomes: { inc() {} },
};
