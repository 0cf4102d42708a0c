// Pure rules for campaign totals (invariant 3: a campaign's total is the sum of its captured
// minus refunded pledges). raisedMinor and pledgeCount move by each captured/refunded pledge;
// donorCount counts donors with at least one captured, unrefunded pledge.

export interface Totals {
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
}

export interface DonorChange {
  /** The donor's captured pledges on this campaign before and after the change. */
  before: number;
  after: number;
}

export function applyCapture(t: Totals, amountMinor: number, donor: DonorChange): Totals {
  return {
    raisedMinor: t.raisedMinor + amountMinor,
    pledgeCount: t.pledgeCount + 1,
    donorCount: t.donorCount + (donor.before === 0 && donor.after > 0 ? 1 : 0),
  };
}

export function applyRefund(t: Totals, amountMinor: number, donor: DonorChange): Totals {
  return {
    raisedMinor: t.raisedMinor - amountMinor,
    pledgeCount: t.pledgeCount - 1,
    donorCount: t.donorCount - (donor.before > 0 && donor.after === 0 ? 1 : 0),
  };
}

/** Totals recomputed from scratch from the captured (unrefunded) pledges: the rebuild's answer. */
export function totalsFrom(pledges: ReadonlyArray<{ amountMinor: number; donorKey: string }>): Totals {
  return {
    raisedMinor: pledges.reduce((sum, p) => sum + p.amountMinor, 0),
    pledgeCount: pledges.length,
    donorCount: new Set(pledges.map((p) => p.donorKey)).size,
  };
}

// ---- Batches (the consumer applies many pledge events in one transaction) ----
//
// A batch must end in the state the same events reach one by one, in order. Two facts make
// that set-based: a refunded pledge is terminal (later events of that pledge change nothing),
// and every totals rule is a sum whose per-donor steps telescope (see applyBatch).

/** What the batch rules read from a pledge event. */
export interface PledgeStep {
  id: string;
  type: string;
  data: { pledgeId: string };
}

/** Each event id once, first occurrence kept, order unchanged: a batch may carry one delivery twice. */
export function uniqueEvents<E extends { id: string }>(events: readonly E[]): E[] {
  const seen = new Set<string>();
  const unique: E[] = [];
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    unique.push(e);
  }
  return unique;
}

/**
 * The events of one pledge that can still matter: the first capture before its first refund
 * (the pledge id is the donation's key, so only it can insert the row) and that first refund
 * (everything after it meets a refunded, terminal row).
 */
export interface PledgePlan<E extends PledgeStep> {
  pledgeId: string;
  capture: E | null;
  refund: E | null;
}

/** One plan per pledge touched by captures or refunds, sorted by pledge id (one lock order for every batch). */
export function planPledges<E extends PledgeStep>(events: readonly E[]): PledgePlan<E>[] {
  const plans = new Map<string, PledgePlan<E>>();
  for (const e of events) {
    if (e.type !== "pledge.captured" && e.type !== "pledge.refunded") continue;
    // UUIDs compare case-insensitively in PostgreSQL; the key must too.
    const pledgeId = e.data.pledgeId.toLowerCase();
    const plan = plans.get(pledgeId) ?? { pledgeId, capture: null, refund: null };
    plans.set(pledgeId, plan);
    if (plan.refund) continue;
    if (e.type === "pledge.refunded") plan.refund = e;
    else plan.capture ??= e;
  }
  return [...plans.values()].sort((a, b) => compare(a.pledgeId, b.pledgeId));
}

/** A capture or refund that moved money on a campaign (the donation row was inserted or refunded). */
export interface TotalsEffect {
  type: "capture" | "refund";
  campaignId: string;
  donorKey: string;
  amountMinor: number;
}

export interface DonorDelta {
  campaignId: string;
  donorKey: string;
  /** Net change of the donor's captured pledges on the campaign; 0 is kept (the row exists afterwards). */
  delta: number;
}

/** Net counter change per (campaign, donor), sorted by campaign then donor (one lock order for every batch). */
export function donorDeltas(effects: readonly TotalsEffect[]): DonorDelta[] {
  const byKey = new Map<string, DonorDelta>();
  for (const e of effects) {
    const key = `${e.campaignId}\u0000${e.donorKey}`;
    const d = byKey.get(key) ?? { campaignId: e.campaignId, donorKey: e.donorKey, delta: 0 };
    byKey.set(key, d);
    d.delta += e.type === "capture" ? 1 : -1;
  }
  return [...byKey.values()].sort((a, b) => compare(a.campaignId, b.campaignId) || compare(a.donorKey, b.donorKey));
}

/**
 * A campaign's totals after a batch of its effects, given each touched donor's counter before
 * and after the whole batch. Equal to folding applyCapture / applyRefund over the effects in
 * any order: a donor's counter moves by ±1 steps, so the donors gained minus lost along the way
 * is always (after > 0) − (before > 0).
 */
export function applyBatch(t: Totals, effects: readonly TotalsEffect[], donors: readonly DonorChange[]): Totals {
  let raisedMinor = t.raisedMinor;
  let pledgeCount = t.pledgeCount;
  for (const e of effects) {
    const sign = e.type === "capture" ? 1 : -1;
    raisedMinor += sign * e.amountMinor;
    pledgeCount += sign;
  }
  let donorCount = t.donorCount;
  for (const d of donors) donorCount += Number(d.after > 0) - Number(d.before > 0);
  return { raisedMinor, donorCount, pledgeCount };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
