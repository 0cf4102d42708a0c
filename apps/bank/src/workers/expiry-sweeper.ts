// Expires holds still `held` past their expiry: status → expired, the held amount goes back to
// the payer's available balance, and a hold.expired webhook is queued, all in one transaction.
// Batches are claimed FOR UPDATE SKIP LOCKED, so N replicas split the work without blocking.
import type { Clock } from "@careforall/config";
import type { Logger } from "@careforall/log";
import { createPollingLoop } from "@careforall/worker";
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import { accounts, holds } from "../db/schema";
import { type BankDb, enqueueWebhook } from "../ledger";

export interface ExpirySweeperDeps {
  db: BankDb;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  batchSize?: number;
  /** Called after a sweep expired something (main: wake the webhook sender). */
  onCommitted?: () => void;
}

export interface ExpirySweeper {
  /** Expires one batch of due holds; returns how many. */
  sweepOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createExpirySweeper({ db, clock, log, intervalMs, batchSize = 100, onCommitted }: ExpirySweeperDeps) {
  async function sweepOnce(): Promise<number> {
    const count = await db.transaction(async (tx) => {
      const now = clock.date();
      // SKIP LOCKED (drizzle's .for option): a hold locked by a capture/release in flight, or by
      // another replica's sweep, is left alone; if it is still held it comes up next round.
      const due = await tx
        .select({ id: holds.id })
        .from(holds)
        .where(and(eq(holds.status, "held"), lte(holds.expiresAt, now)))
        .orderBy(asc(holds.expiresAt))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      if (due.length === 0) return 0;
      const expired = await tx
        .update(holds)
        .set({ status: "expired", updatedAt: now })
        .where(
          and(
            inArray(
              holds.id,
              due.map((d) => d.id),
            ),
            eq(holds.status, "held"),
          ),
        )
        .returning();
      // One update per payer, in id order, so concurrent sweeps and transfers cannot deadlock.
      const releaseByAccount = new Map<string, number>();
      for (const h of expired)
        releaseByAccount.set(h.accountId, (releaseByAccount.get(h.accountId) ?? 0) + h.amountMinor);
      for (const accountId of [...releaseByAccount.keys()].sort()) {
        await tx
          .update(accounts)
          .set({ heldMinor: sql`${accounts.heldMinor} - ${releaseByAccount.get(accountId)!}` })
          .where(eq(accounts.id, accountId));
      }
      for (const h of expired) {
        await enqueueWebhook(tx, clock, "hold.expired", {
          holdId: h.id,
          paymentRef: h.paymentRef,
          amountMinor: h.amountMinor,
          currency: h.currency,
          status: "expired",
          reason: null,
        });
      }
      return expired.length;
    });
    if (count > 0) {
      log.info({ count }, "bank.holds_expired");
      onCommitted?.();
    }
    return count;
  }

  const loop = createPollingLoop({
    name: "bank.sweeper",
    log,
    intervalMs: intervalMs,
    async tick() {
      return (await sweepOnce()) >= batchSize;
    },
  });

  return {
    sweepOnce,
    start: loop.start,
    stop: loop.stop,
  } satisfies ExpirySweeper;
}
