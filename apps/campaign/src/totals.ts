// Campaign totals and the donations read model, fed by pledge.captured / pledge.refunded.
// Each event applies in ONE transaction with its inbox record (invariant 5), the donation row
// keyed by pledge id (a pledge counts at most once), the totals increment, a version bump and
// the campaign.totals_changed event that refreshes every gateway's snapshot. Never a SUM on a read.
import type { Clock } from "@careforall/config";
import { CampaignTotalsChanged, type PledgeChangeEvent } from "@careforall/events";
import { decodeCursor, encodeCursor, notFound } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent, recordInbox } from "@careforall/outbox";
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { campaignDonors, campaigns, donations, inbox, outbox } from "./db/schema";
import { applyCapture, applyRefund, totalsFrom } from "./domain";
import type { DonationModel } from "./model";
import { type CampaignDb, toCampaign } from "./service";

export const TOTALS_CONSUMER = "campaign-totals";

type Tx = Parameters<Parameters<CampaignDb["transaction"]>[0]>[0];

export interface TotalsDeps {
  db: CampaignDb;
  clock: Clock;
  log: Logger;
  onCommitted?: (() => void) | undefined;
}

const isDonationCursor = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string";

export function createTotalsService({ db, clock, log, onCommitted }: TotalsDeps) {
  /** Moves the totals and emits the fresh snapshot, inside the caller's transaction. */
  async function bumpTotals(
    tx: Tx,
    campaignId: string,
    next: (row: typeof campaigns.$inferSelect) => Parameters<typeof applyCapture>[0],
  ) {
    // Row lock: concurrent captures on one hot campaign serialise here instead of losing updates.
    const [row] = await tx.select().from(campaigns).where(eq(campaigns.id, campaignId)).for("update");
    if (!row) return null;
    const totals = next(row);
    const [updated] = await tx
      .update(campaigns)
      .set({ ...totals, version: row.version + 1, updatedAt: clock.date() })
      .where(eq(campaigns.id, campaignId))
      .returning();
    const snapshot = toCampaign(updated!);
    await enqueue(tx, outbox, newEvent(CampaignTotalsChanged.type, campaignId, snapshot, clock));
    return snapshot;
  }

  async function donorDelta(tx: Tx, campaignId: string, donorKey: string, delta: 1 | -1) {
    const [counter] = await tx
      .insert(campaignDonors)
      .values({ campaignId, donorKey, capturedCount: Math.max(delta, 0) })
      .onConflictDoUpdate({
        target: [campaignDonors.campaignId, campaignDonors.donorKey],
        set: { capturedCount: sql`${campaignDonors.capturedCount} + ${delta}` },
      })
      .returning({ after: campaignDonors.capturedCount });
    const after = counter?.after ?? 0;
    return { before: after - delta, after };
  }

  /** Applies pledge.captured / pledge.refunded once. Returns false for duplicates and no-ops. */
  async function applyPledgeEvent(event: PledgeChangeEvent): Promise<boolean> {
    const p = event.data;
    const applied = await db.transaction(async (tx) => {
      if (!(await recordInbox(tx, inbox, TOTALS_CONSUMER, event.id))) return false;
      if (event.type === "pledge.captured") {
        const [inserted] = await tx
          .insert(donations)
          .values({
            pledgeId: p.pledgeId,
            campaignId: p.campaignId,
            donorKey: p.donorKey,
            amountMinor: p.amountMinor,
            currency: p.currency,
            donorName: p.anonymous ? null : p.donorName,
            message: p.message,
            capturedAt: new Date(p.at),
          })
          .onConflictDoNothing()
          .returning({ pledgeId: donations.pledgeId });
        if (!inserted) return false;
        const donor = await donorDelta(tx, p.campaignId, p.donorKey, 1);
        const snapshot = await bumpTotals(tx, p.campaignId, (row) => applyCapture(row, p.amountMinor, donor));
        if (!snapshot) log.error({ campaignId: p.campaignId, pledgeId: p.pledgeId }, "totals.unknown_campaign");
        return true;
      }
      if (event.type === "pledge.refunded") {
        const refund = () =>
          tx
            .update(donations)
            .set({ refundedAt: new Date(p.at) })
            .where(and(eq(donations.pledgeId, p.pledgeId), isNull(donations.refundedAt)))
            .returning({ amountMinor: donations.amountMinor, donorKey: donations.donorKey });
        let [refunded] = await refund();
        if (!refunded) {
          // The refund overtook its pledge.captured (redelivered late, e.g. after a crash): keep the
          // pledge's row as already refunded, so the late capture finds it and counts nothing.
          const [tombstone] = await tx
            .insert(donations)
            .values({
              pledgeId: p.pledgeId,
              campaignId: p.campaignId,
              donorKey: p.donorKey,
              amountMinor: p.amountMinor,
              currency: p.currency,
              donorName: p.anonymous ? null : p.donorName,
              message: p.message,
              capturedAt: new Date(p.at),
              refundedAt: new Date(p.at),
            })
            .onConflictDoNothing()
            .returning({ pledgeId: donations.pledgeId });
          if (tombstone) return false;
          // The row appeared meanwhile (a concurrent capture committed first): refund it now.
          [refunded] = await refund();
          if (!refunded) return false;
        }
        const donor = await donorDelta(tx, p.campaignId, refunded.donorKey, -1);
        await bumpTotals(tx, p.campaignId, (row) => applyRefund(row, refunded.amountMinor, donor));
        return true;
      }
      return false;
    });
    if (applied) onCommitted?.();
    return applied;
  }

  async function listDonations(
    campaignId: string,
    query: DonationModel.DonationsQuery,
  ): Promise<DonationModel.DonationPage> {
    const [exists] = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.id, campaignId));
    if (!exists) throw notFound(`Campaign ${campaignId} does not exist`);
    const limit = query.limit ?? 20;
    const cursor = decodeCursor(query.cursor, isDonationCursor);
    const after = cursor
      ? or(
          lt(donations.capturedAt, new Date(cursor[0])),
          and(eq(donations.capturedAt, new Date(cursor[0])), lt(donations.pledgeId, cursor[1])),
        )
      : undefined;
    const rows = await db
      .select()
      .from(donations)
      .where(and(eq(donations.campaignId, campaignId), isNull(donations.refundedAt), after))
      .orderBy(desc(donations.capturedAt), desc(donations.pledgeId))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((d) => ({
        id: d.pledgeId,
        amountMinor: d.amountMinor,
        currency: d.currency,
        donorName: d.donorName,
        message: d.message,
        capturedAt: d.capturedAt.toISOString(),
      })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.capturedAt.toISOString(), last.pledgeId]) : null,
    };
  }

  /**
   * Rebuild: replaces a campaign's donations and totals with what the pledge records say
   * (captured, unrefunded pledges), in one transaction, and publishes the corrected snapshot.
   */
  async function rebuild(campaignId: string, pledges: DonationModel.CapturedPledge[]) {
    const snapshot = await db.transaction(async (tx) => {
      const [row] = await tx.select().from(campaigns).where(eq(campaigns.id, campaignId)).for("update");
      if (!row) throw notFound(`Campaign ${campaignId} does not exist`);
      await tx.delete(donations).where(eq(donations.campaignId, campaignId));
      await tx.delete(campaignDonors).where(eq(campaignDonors.campaignId, campaignId));
      if (pledges.length > 0) {
        await tx.insert(donations).values(
          pledges.map((p) => ({
            pledgeId: p.pledgeId,
            campaignId,
            donorKey: p.donorKey,
            amountMinor: p.amountMinor,
            currency: p.currency,
            donorName: p.donorName,
            message: p.message,
            capturedAt: new Date(p.capturedAt),
          })),
        );
        const perDonor = new Map<string, number>();
        for (const p of pledges) perDonor.set(p.donorKey, (perDonor.get(p.donorKey) ?? 0) + 1);
        await tx
          .insert(campaignDonors)
          .values([...perDonor].map(([donorKey, capturedCount]) => ({ campaignId, donorKey, capturedCount })));
      }
      return bumpTotals(tx, campaignId, () => totalsFrom(pledges));
    });
    onCommitted?.();
    return snapshot!;
  }

  return { applyPledgeEvent, listDonations, rebuild };
}

export type TotalsService = ReturnType<typeof createTotalsService>;
