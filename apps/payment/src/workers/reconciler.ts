// The reconciler (invariant 2: nothing stays pending forever): payments still waiting on the
// bank after RECONCILE_AFTER_MS are claimed with FOR UPDATE SKIP LOCKED (replicas split the
// work), the claim commits — no lock is held across a bank call — and each is converged by
// asking the bank (by idempotency key while authorizing, by hold afterwards).
import type { Clock } from "@careforall/config";
import type { Logger } from "@careforall/log";
import { createPollingLoop } from "@careforall/worker";
import { sql } from "drizzle-orm";
import type { PaymentConfig } from "../config";
import { payments } from "../db/schema";
import type { PaymentDb, PaymentService } from "../service";

export interface ReconcilerOptions {
  db: PaymentDb;
  service: PaymentService;
  clock: Clock;
  config: Pick<PaymentConfig, "RECONCILE_AFTER_MS" | "RECONCILE_INTERVAL_MS" | "BANK_TIMEOUT_MS">;
  log: Logger;
  batchSize?: number;
}

export interface Reconciler {
  start(): void;
  stop(): Promise<void>;
  /** Claims one batch and converges it; returns the payment ids it worked on. */
  runOnce(): Promise<string[]>;
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { db, service, clock, config, log } = options;
  const batchSize = options.batchSize ?? 50;
  // Long enough for a few bank calls; a crashed reconciler's claim lapses after it.
  const leaseMs = Math.max(config.RECONCILE_AFTER_MS, 3 * config.BANK_TIMEOUT_MS);

  async function claim(): Promise<string[]> {
    const now = clock.now();
    const staleBefore = new Date(now - config.RECONCILE_AFTER_MS).toISOString();
    // Raw SQL: drizzle cannot say FOR UPDATE SKIP LOCKED in an UPDATE's subquery. The lease
    // (next_attempt_at) is the claim; the row lock lasts only for this statement.
    const rows = (await db.execute(sql`
      update ${payments} set next_attempt_at = ${new Date(now + leaseMs).toISOString()}::timestamptz
      where id in (
        select id from ${payments}
        where (status in ('authorizing', 'authorized', 'capturing', 'refunding')
               or (status = 'captured' and (cancel_requested or refund_requested)))
          and updated_at <= ${staleBefore}::timestamptz
          and next_attempt_at <= ${new Date(now).toISOString()}::timestamptz
        order by updated_at
        limit ${batchSize}
        for update skip locked)
      returning id`)) as unknown as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  async function runOnce(): Promise<string[]> {
    const ids = await claim();
    await Promise.all(
      ids.map(async (id) => {
        try {
          const row = await service.reconcile(id);
          log.info({ paymentId: id, status: row?.status }, "payment.reconciled");
        } catch (err) {
          log.error({ err, paymentId: id }, "payment.reconcile_failed");
        }
      }),
    );
    return ids;
  }

  const loop = createPollingLoop({
    name: "payment.reconciler",
    log,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    async tick() {
      await runOnce();
      return false;
    },
  });

  return {
    start: loop.start,
    stop: loop.stop,
    runOnce,
  };
}
