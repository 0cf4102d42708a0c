// The money audit (invariant 3): for every campaign, its displayed total, the captured − refunded
// sum of its pledge records, and the balance the bank moved into its account must agree.
// Pure: the route gathers the three sources, this compares them.

export interface CampaignTotal {
  campaignId: string;
  raisedMinor: number;
}

export interface LedgerLine {
  campaignId: string;
  capturedMinusRefundedMinor: number;
}

export interface AuditLine {
  campaignId: string;
  raisedMinor: number;
  capturedMinusRefundedMinor: number;
  bankBalanceMinor: number;
  driftMinor: number;
}

export interface AuditReport {
  campaigns: AuditLine[];
  totalDriftMinor: number;
  stuckPledges: number;
  checkedAt: string;
}

/**
 * Drift is how far the three figures are apart: |total − pledges| + |pledges − bank|. A campaign
 * present in only some sources counts 0 where it is missing (no pledges, no bank account yet).
 */
export function compareLedgers(
  totals: CampaignTotal[],
  ledger: LedgerLine[],
  bankBalances: ReadonlyMap<string, number>,
  stuckPledges: number,
  now: Date,
): AuditReport {
  const pledged = new Map(ledger.map((l) => [l.campaignId, l.capturedMinusRefundedMinor]));
  const ids = new Set([...totals.map((t) => t.campaignId), ...pledged.keys(), ...bankBalances.keys()]);
  const raised = new Map(totals.map((t) => [t.campaignId, t.raisedMinor]));
  const campaigns = [...ids].sort().map((campaignId) => {
    const raisedMinor = raised.get(campaignId) ?? 0;
    const capturedMinusRefundedMinor = pledged.get(campaignId) ?? 0;
    const bankBalanceMinor = bankBalances.get(campaignId) ?? 0;
    const driftMinor =
      Math.abs(raisedMinor - capturedMinusRefundedMinor) + Math.abs(capturedMinusRefundedMinor - bankBalanceMinor);
    return { campaignId, raisedMinor, capturedMinusRefundedMinor, bankBalanceMinor, driftMinor };
  });
  return {
    campaigns,
    totalDriftMinor: campaigns.reduce((sum, c) => sum + c.driftMinor, 0),
    stuckPledges,
    checkedAt: now.toISOString(),
  };
}
