// The bank's business metrics on the service's /metrics: holds by status, webhook delivery
// states, faults injected by kind, and the ledger imbalance (sum of all entries; must be 0).
// Registered once per HttpMetrics, so the app and the workers share the same counters.
import type { HttpMetrics } from "@careforall/http";
import { sql } from "drizzle-orm";
import { type Counter, Gauge } from "prom-client";
import { entries, HOLD_STATUSES, holds, webhookDeliveries } from "./db/schema";
import type { FaultKind } from "./domain";
import type { BankDb } from "./ledger";

export interface BankMetrics {
  faultsInjected: Counter<"kind">;
  webhookAttempts: Counter<"result">;
  /** Batch calls whose one transaction failed, so their items went through the single path. */
  batchFallbacks: Counter<"operation">;
  /** Counts a fault that fired. */
  fault(kind: FaultKind): void;
}

const registered = new WeakMap<HttpMetrics, BankMetrics>();

const FAULT_KINDS: readonly FaultKind[] = [
  "error",
  "lost_response",
  "latency",
  "webhook_duplicate",
  "webhook_reorder",
  "webhook_drop",
];

export function bankMetrics(metrics: HttpMetrics, db: BankDb): BankMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;

  new Gauge({
    name: "careforall_bank_holds",
    help: "Holds by status",
    labelNames: ["status"] as const,
    registers: [metrics.registry],
    async collect() {
      const rows = await db
        .select({ status: holds.status, n: sql<number>`count(*)::int` })
        .from(holds)
        .groupBy(holds.status);
      for (const status of HOLD_STATUSES) this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
    },
  });
  new Gauge({
    name: "careforall_bank_webhooks",
    help: "Webhook deliveries by state (pending, delivered, dropped by the chaos knob)",
    labelNames: ["state"] as const,
    registers: [metrics.registry],
    async collect() {
      const [row] = await db
        .select({
          pending: sql<number>`count(*) filter (where ${webhookDeliveries.deliveredAt} is null)::int`,
          delivered: sql<number>`count(*) filter (where ${webhookDeliveries.deliveredAt} is not null and not ${webhookDeliveries.dropped})::int`,
          dropped: sql<number>`count(*) filter (where ${webhookDeliveries.dropped})::int`,
        })
        .from(webhookDeliveries);
      this.set({ state: "pending" }, row?.pending ?? 0);
      this.set({ state: "delivered" }, row?.delivered ?? 0);
      this.set({ state: "dropped" }, row?.dropped ?? 0);
    },
  });
  metrics.gauge(
    "careforall_bank_ledger_imbalance_minor",
    "Sum of all ledger entries; anything but 0 is a bug",
    async () => {
      const [row] = await db.select({ sum: sql<string>`coalesce(sum(${entries.amountMinor}), 0)::text` }).from(entries);
      return Number(row?.sum ?? 0);
    },
  );
  const faultsInjected = metrics.counter("careforall_bank_faults_injected_total", "Chaos faults that fired, by kind", [
    "kind",
  ]);
  // Every kind's series exists from the start (0), so a dashboard and a rate() need no first fault.
  for (const kind of FAULT_KINDS) faultsInjected.inc({ kind }, 0);
  const webhookAttempts = metrics.counter("careforall_bank_webhook_attempts_total", "Webhook send attempts by result", [
    "result",
  ]);
  const batchFallbacks = metrics.counter(
    "careforall_bank_batch_fallbacks_total",
    "Batch calls whose one transaction failed, so each item went through the single path",
    ["operation"],
  );
  const created: BankMetrics = {
    faultsInjected,
    webhookAttempts,
    batchFallbacks,
    fault: (kind) => faultsInjected.inc({ kind }),
  };
  registered.set(metrics, created);
  return created;
}
