// Campaign totals and the donations read model, fed by pledge.captured / pledge.refunded.
// The consumer applies them in batches, one transaction per batch with its inbox records
// (invariant 5; see apply-pledge-events.ts), and a campaign.totals_changed per touched campaign
// refreshes every gateway's snapshot. Never a SUM on a read; rebuild repairs from pledge records.
import type { Clock } from "@careforall/config";
import { CampaignTotalsChanged, type PledgeChangeEvent } from "@careforall/events";
import { cursorCodec, cursorValues, notFound } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent } from "@careforall/outbox";
import { and, desc, eq, isNull, lt, or } from "drizzle-orm";
import { createPledgeEventsApplier } from "./apply-pledge-events";
import { type CampaignRow, campaignDonors, campaigns, donations, outbox } from "./db/schema";
import { type Totals, totalsFrom } from "./domain";
import type { DonationModel } from "./model";
import { type CampaignDb, toCampaign } from "./service";

export { TOTALS_CONSUMER } from "./apply-pledge-events";

type Tx = Parameters<Parameters<CampaignDb["transaction"]>[0]>[0];

export interface TotalsDeps {
  db: CampaignDb;
  clock: Clock;
  log: Logger;
  onCommitted?: (() => void) | undefined;
}

/** Donations pages continue below (capturedAt, pledgeId) of the last one shown. */
const donationCursor = cursorCodec(
  "donations",
  (v: unknown): v is [string, string] =>
    Array.isArray(v) && v.length === 2 && cursorValues.instant(v[0]) && cursorValues.uuid(v[1]),
);

export function createTotalsService({ db, clock, log, onCommitted }: TotalsDeps) {
  /** Moves the totals and emits the fresh snapshot, inside the caller's transaction. */
  async function bumpTotals(tx: Tx, campaignId: string, next: (row: CampaignRow) => Totals) {
    // Row lock: a rebuild and a batch on the same campaign serialise here instead of losing updates.
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

  const applyInOneTransaction = createPledgeEventsApplier({ db, clock, log });

  /**
   * Applies a batch of pledge.captured / pledge.refunded in one transaction (see
   * apply-pledge-events.ts); per event, whether it moved money.
   */
  async function applyPledgeEvents(events: readonly PledgeChangeEvent[]): Promise<boolean[]> {
    const applied = await applyInOneTransaction(events);
    if (applied.includes(true)) onCommitted?.();
    return applied;
  }

  /** Applies one event (a batch of one). Returns false for duplicates and no-ops. */
  async function applyPledgeEvent(event: PledgeChangeEvent): Promise<boolean> {
    const [applied] = await applyPledgeEvents([event]);
    return applied ?? false;
  }

  async function listDonations(
    campaignId: string,
    query: DonationModel.DonationsQuery,
  ): Promise<DonationModel.DonationPage> {
    const [exists] = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.id, campaignId));
    if (!exists) throw notFound(`Campaign ${campaignId} does not exist`);
    const limit = query.limit ?? 20;
    const cursor = donationCursor.decode(query.cursor);
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
      nextCursor:
        rows.length > limit && last ? donationCursor.encode([last.capturedAt.toISOString(), last.pledgeId]) : null,
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

  return { applyPledgeEvent, applyPledgeEvents, listDonations, rebuild };
}

export type TotalsService = ReturnType<typeof createTotalsService>;
