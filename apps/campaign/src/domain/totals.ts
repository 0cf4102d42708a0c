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
