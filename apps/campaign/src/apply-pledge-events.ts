// Applies a batch of pledge.captured / pledge.refunded events in ONE transaction with a fixed
// handful of set-based statements, ending exactly where the same events applied one by one end.
//
// Phases, each one statement whatever the batch size (skipped when it has nothing to do):
//   1. inbox     every event id; only first-seen events go on (invariant 5)
//   2. donations one insert keyed by pledge id (a pledge counts at most once): the first capture's
//                row (already refunded when its refund follows in the batch), or a refunded
//                tombstone when the refund comes first
//   3. refunds   pledges whose row already existed: refunded if still captured, rows locked in
//                pledge order
//   4. donors    one upsert of net per-(campaign, donor) deltas, giving each counter's before/after
//   5. lock      the touched campaigns, `for update`, in id order
//   6. totals    one update of every campaign: totals + version + 1 per batch
//   7. outbox    one campaign.totals_changed per campaign carrying its final snapshot
// Racing batches take their locks in one global order (inbox ids, pledge ids, donor keys, then
// campaign ids, each sorted), so they wait for each other and never deadlock.
import type { Clock } from "@careforall/config";
import { CampaignTotalsChanged, type PledgeChangeEvent } from "@careforall/events";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent, recordInboxMany } from "@careforall/outbox";
import { asc, getTableColumns, inArray, sql } from "drizzle-orm";
import { campaignDonors, campaigns, donations, inbox, outbox } from "./db/schema";
import {
  applyBatch,
  type DonorChange,
  donorDeltas,
  type PledgePlan,
  planPledges,
  type TotalsEffect,
  uniqueEvents,
} from "./domain";
import { type CampaignDb, toCampaign } from "./service";

export const TOTALS_CONSUMER = "campaign-totals";

type Tx = Parameters<Parameters<CampaignDb["transaction"]>[0]>[0];
type Plan = PledgePlan<PledgeChangeEvent>;
type Effect = TotalsEffect & { eventId: string; pledgeId: string };

export interface ApplyPledgeEventsDeps {
  db: CampaignDb;
  clock: Clock;
  log: Logger;
}

/** A donation row as one pledge event describes it. */
function donationRow(e: PledgeChangeEvent, refundedAt: string | null) {
  const p = e.data;
  return {
    pledgeId: p.pledgeId,
    campaignId: p.campaignId,
    donorKey: p.donorKey,
    amountMinor: p.amountMinor,
    currency: p.currency,
    donorName: p.anonymous ? null : p.donorName,
    message: p.message,
    capturedAt: new Date(p.at),
    refundedAt: refundedAt === null ? null : new Date(refundedAt),
  };
}

const effect = (type: TotalsEffect["type"], e: PledgeChangeEvent, donorKey: string, amountMinor: number): Effect => ({
  type,
  // Lower-case, as PostgreSQL prints UUIDs: the donor counters come back keyed that way.
  campaignId: e.data.campaignId.toLowerCase(),
  donorKey,
  amountMinor,
  eventId: e.id,
  pledgeId: e.data.pledgeId,
});

export function createPledgeEventsApplier({ db, clock, log }: ApplyPledgeEventsDeps) {
  /** Phases 2 and 3: which events moved money, as effects (the others met a row that absorbs them). */
  async function applyToDonations(tx: Tx, plans: Plan[]): Promise<Effect[]> {
    const effects: Effect[] = [];
    // The first capture's row, refunded at once when its refund follows in this batch; a refund
    // first leaves a tombstone (refunded at its own time) that a late capture finds and skips.
    const rows = plans.map((plan) =>
      plan.capture
        ? donationRow(plan.capture, plan.refund?.data.at ?? null)
        : donationRow(plan.refund!, plan.refund!.data.at),
    );
    const inserted = new Set(
      (await tx.insert(donations).values(rows).onConflictDoNothing().returning({ pledgeId: donations.pledgeId })).map(
        (r) => r.pledgeId,
      ),
    );
    const existing: Plan[] = [];
    for (const plan of plans) {
      if (!inserted.has(plan.pledgeId)) {
        // The row was there (or a racing capture committed it while we waited on its key): only
        // a refund can still change it, and only if it is not refunded yet.
        if (plan.refund) existing.push(plan);
        continue;
      }
      if (!plan.capture) continue; // a tombstone moves no money
      const c = plan.capture;
      effects.push(effect("capture", c, c.data.donorKey, c.data.amountMinor));
      if (plan.refund) effects.push(effect("refund", plan.refund, c.data.donorKey, c.data.amountMinor));
    }
    if (existing.length === 0) return effects;

    // drizzle cannot say UPDATE … FROM a locking, ordered CTE. The rows are locked in pledge
    // order (no deadlock with a racing batch); a row refunded meanwhile drops out on re-check.
    const refunded = (await tx.execute(sql`
      with target as (
        select d.pledge_id, v.at from ${donations} d
        join unnest(${sql.param(existing.map((p) => p.pledgeId))}::text[],
                    ${sql.param(existing.map((p) => p.refund!.data.at))}::text[]) as v(pledge_id, at)
          on d.pledge_id = v.pledge_id::uuid
        where d.refunded_at is null
        order by d.pledge_id
        for update of d
      )
      update ${donations} d set refunded_at = target.at::timestamptz
      from target where d.pledge_id = target.pledge_id
      returning d.pledge_id::text as pledge_id, d.donor_key, d.amount_minor::float8 as amount_minor`)) as unknown as Array<{
      pledge_id: string;
      donor_key: string;
      amount_minor: number;
    }>;
    const byPledge = new Map(existing.map((p) => [p.pledgeId, p.refund!]));
    for (const r of refunded) effects.push(effect("refund", byPledge.get(r.pledge_id)!, r.donor_key, r.amount_minor));
    return effects;
  }

  /** Phase 4: moves every touched donor counter by its net delta; returns before/after per campaign and donor. */
  async function applyToDonors(tx: Tx, effects: Effect[]): Promise<Map<string, DonorChange[]>> {
    const deltas = donorDeltas(effects);
    // drizzle cannot say an upsert whose update adds a value other than the inserted one: a new
    // row starts at max(delta, 0) like the one-event path, an existing row moves by delta. Rows
    // are taken in (campaign, donor) order so racing batches never deadlock.
    const rows = (await tx.execute(sql`
      with delta as (
        select * from unnest(${sql.param(deltas.map((d) => d.campaignId))}::text[],
                             ${sql.param(deltas.map((d) => d.donorKey))}::text[],
                             ${sql.param(deltas.map((d) => d.delta))}::int[])
          with ordinality as v(campaign_id, donor_key, delta, ord)
      )
      insert into ${campaignDonors} as cd (campaign_id, donor_key, captured_count)
      select campaign_id::uuid, donor_key, greatest(delta, 0) from delta order by ord
      on conflict (campaign_id, donor_key) do update set captured_count = cd.captured_count + (
        select delta.delta from delta
        where delta.campaign_id::uuid = excluded.campaign_id and delta.donor_key = excluded.donor_key)
      returning cd.campaign_id::text as campaign_id, cd.donor_key, cd.captured_count`)) as unknown as Array<{
      campaign_id: string;
      donor_key: string;
      captured_count: number;
    }>;
    const after = new Map(rows.map((r) => [`${r.campaign_id}\u0000${r.donor_key}`, r.captured_count]));
    const changes = new Map<string, DonorChange[]>();
    for (const d of deltas) {
      const now = after.get(`${d.campaignId}\u0000${d.donorKey}`)!;
      const list = changes.get(d.campaignId) ?? [];
      list.push({ before: now - d.delta, after: now });
      changes.set(d.campaignId, list);
    }
    return changes;
  }

  /** Phases 5–7: coalesces the effects per campaign into one update and one event each. */
  async function applyToCampaigns(tx: Tx, effects: Effect[], donors: Map<string, DonorChange[]>) {
    const byCampaign = new Map<string, Effect[]>();
    for (const e of effects) {
      const list = byCampaign.get(e.campaignId);
      if (list) list.push(e);
      else byCampaign.set(e.campaignId, [e]);
    }
    // Row locks in id order: concurrent batches on the same hot campaigns queue, never deadlock.
    const locked = await tx
      .select()
      .from(campaigns)
      .where(inArray(campaigns.id, [...byCampaign.keys()]))
      .orderBy(asc(campaigns.id))
      .for("update");
    const found = new Set(locked.map((r) => r.id));
    for (const [campaignId, list] of byCampaign) {
      if (found.has(campaignId)) continue;
      for (const e of list)
        if (e.type === "capture") log.error({ campaignId, pledgeId: e.pledgeId }, "totals.unknown_campaign");
    }
    if (locked.length === 0) return 0;

    const next = locked.map((row) => ({
      id: row.id,
      ...applyBatch(row, byCampaign.get(row.id)!, donors.get(row.id) ?? []),
    }));
    // drizzle's update has no multi-row form; UPDATE … FROM unnest is one statement for them all.
    const updated = await tx
      .update(campaigns)
      .set({
        raisedMinor: sql`v.raised_minor`,
        donorCount: sql`v.donor_count`,
        pledgeCount: sql`v.pledge_count`,
        version: sql`${campaigns.version} + 1`,
        updatedAt: clock.date(),
      })
      .from(
        sql`unnest(${sql.param(next.map((t) => t.id))}::text[], ${sql.param(next.map((t) => t.raisedMinor))}::bigint[],
          ${sql.param(next.map((t) => t.donorCount))}::int[], ${sql.param(next.map((t) => t.pledgeCount))}::int[])
          as v(id, raised_minor, donor_count, pledge_count)`,
      )
      .where(sql`${campaigns.id} = v.id::uuid`)
      .returning(getTableColumns(campaigns));
    await enqueue(
      tx,
      outbox,
      updated.map((row) => newEvent(CampaignTotalsChanged.type, row.id, toCampaign(row), clock)),
    );
    return updated.length;
  }

  /**
   * Applies a batch of pledge.captured / pledge.refunded in one transaction. Returns, per input
   * event, whether it moved money (what applyPledgeEvent returns for it one by one; a repeat of
   * an id earlier in the batch is false).
   */
  return async function applyPledgeEvents(events: readonly PledgeChangeEvent[]): Promise<boolean[]> {
    if (events.length === 0) return [];
    const unique = uniqueEvents(events);
    const summary = { events: events.length, fresh: 0, applied: 0, campaigns: 0 };
    const applied = await db.transaction(async (tx) => {
      const fresh = await recordInboxMany(
        tx,
        inbox,
        TOTALS_CONSUMER,
        unique.map((e) => e.id),
      );
      summary.fresh = fresh.size;
      const plans = planPledges(unique.filter((e) => fresh.has(e.id)));
      if (plans.length === 0) return new Set<string>();
      const effects = await applyToDonations(tx, plans);
      if (effects.length > 0) {
        const donors = await applyToDonors(tx, effects);
        summary.campaigns = await applyToCampaigns(tx, effects, donors);
      }
      return new Set(effects.map((e) => e.eventId));
    });
    summary.applied = applied.size;
    log.debug(summary, "totals.batch_applied");
    const first = new Map<string, number>();
    events.forEach((e, i) => {
      if (!first.has(e.id)) first.set(e.id, i);
    });
    return events.map((e, i) => first.get(e.id) === i && applied.has(e.id));
  };
}
