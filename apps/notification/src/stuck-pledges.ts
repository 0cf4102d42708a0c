// The stuck-pledge sweep: pledges still pending or authorized PLEDGE_STUCK_AFTER_SECONDS after
// they were created (the pledge service's own grace period for its audit count) are reported to
// admins as pledge.stuck, once per pledge. One transaction per sweep, set-based: one SELECT of the
// candidates (oldest first, bounded, skipping rows another replica's sweep holds), one of their
// campaigns' titles, one INSERT of their notifications, one UPDATE marking them reported; the
// unique key keeps any racing sweep from storing one twice.
import type { Clock } from "@careforall/config";
import { and, asc, inArray, lte, not } from "drizzle-orm";
import { publishStored } from "./apply-events";
import { campaigns, type NotificationRow, pledges } from "./db/schema";
import { ADMINS, OPEN_STATUSES, stuckText } from "./domain";
import type { NotificationMetrics, Pusher } from "./pushes";
import { type NotificationDb, storeNotifications } from "./store";

export interface StuckSweepDeps {
  db: NotificationDb;
  clock: Clock;
  push: Pusher;
  metrics: NotificationMetrics;
  graceSeconds: number;
  /** Pledges reported per sweep at most; the next sweep takes the rest at once. */
  batchSize?: number;
}

export function createStuckSweep({ db, clock, push, metrics, graceSeconds, batchSize = 500 }: StuckSweepDeps) {
  /** One sweep; resolves with the notifications it stored and whether more candidates wait. */
  return async function sweepStuckPledges(): Promise<{ stored: NotificationRow[]; more: boolean }> {
    const cutoff = new Date(clock.now() - graceSeconds * 1000);
    const { stored, more } = await db.transaction(async (tx) => {
      const candidates = await tx
        .select({
          id: pledges.id,
          campaignId: pledges.campaignId,
          status: pledges.status,
          amountMinor: pledges.amountMinor,
          currency: pledges.currency,
          createdAt: pledges.createdAt,
        })
        .from(pledges)
        .where(
          and(inArray(pledges.status, [...OPEN_STATUSES]), not(pledges.stuckNotified), lte(pledges.createdAt, cutoff)),
        )
        .orderBy(asc(pledges.createdAt))
        .limit(batchSize)
        // Another replica's sweep skips what this one holds instead of waiting for it.
        .for("update", { skipLocked: true });
      if (candidates.length === 0) return { stored: [], more: false };
      // The titles apart: drizzle writes a schema-qualified FOR UPDATE OF, which PostgreSQL refuses.
      const titles = new Map(
        (
          await tx
            .select({ id: campaigns.id, title: campaigns.title })
            .from(campaigns)
            .where(inArray(campaigns.id, [...new Set(candidates.map((p) => p.campaignId))]))
        ).map((c) => [c.id, c.title]),
      );
      const stored = await storeNotifications(
        tx,
        candidates.map((p) => ({
          recipient: ADMINS,
          kind: "pledge.stuck" as const,
          subject: p.id,
          ...stuckText({
            pledgeId: p.id,
            status: p.status,
            amountMinor: p.amountMinor,
            currency: p.currency,
            campaignTitle: titles.get(p.campaignId) ?? null,
            since: p.createdAt,
            graceSeconds,
          }),
          pledgeId: p.id,
          campaignId: p.campaignId,
          at: clock.date(),
        })),
      );
      await tx
        .update(pledges)
        .set({ stuckNotified: true })
        .where(
          inArray(
            pledges.id,
            candidates.map((p) => p.id),
          ),
        );
      return { stored, more: candidates.length === batchSize };
    });
    publishStored(stored, metrics, push);
    return { stored, more };
  };
}

export type StuckSweep = ReturnType<typeof createStuckSweep>;
