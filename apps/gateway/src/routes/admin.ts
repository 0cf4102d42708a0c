// GET /api/admin/audit: for every campaign, the displayed total (campaign service), the captured −
// refunded pledge sum (pledge records) and the balance of its bank account (the bank) side by side,
// plus pledges stuck past the grace period. The latest result is exported on /metrics as gauges.
import type { CampaignModel } from "@careforall/campaign";
import { type HttpMetrics, Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { PledgeModel } from "@careforall/pledge";
import { Elysia, t } from "elysia";
import type { GatewayClients } from "../app";
import { type AuditReport, compareLedgers } from "../domain/audit";
import { auditMetrics } from "../metrics";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

const AuditLine = t.Object({
  campaignId: t.String(),
  raisedMinor: t.Integer(),
  capturedMinusRefundedMinor: t.Integer(),
  bankBalanceMinor: t.Integer(),
  driftMinor: t.Integer(),
});
const Audit = t.Object({
  campaigns: t.Array(AuditLine),
  totalDriftMinor: t.Integer(),
  stuckPledges: t.Integer(),
  checkedAt: t.String({ format: "date-time" }),
});

export interface AdminRoutesDeps {
  clients: GatewayClients;
  log: Logger;
  context: GatewayContext;
  metrics: HttpMetrics;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Runs the money audit: campaign totals (campaign service), the pledge ledger (pledge service)
 * and each campaign account's balance (bank), compared by `compareLedgers`. The latest report
 * feeds the drift gauges, so /metrics stays current when main.ts runs it periodically.
 */
export function createAuditor({ clients, log, metrics }: Omit<AdminRoutesDeps, "context">) {
  const gauges = auditMetrics(metrics);

  async function allCampaignTotals(requestId: string) {
    const totals: Array<{ campaignId: string; raisedMinor: number }> = [];
    let cursor: string | undefined;
    do {
      const query = { limit: 100, ...(cursor ? { cursor } : {}) };
      const page = (
        await call(log, "campaign", clients.campaign.campaigns.get({ query, headers: upstreamHeaders(requestId) }))
      ).data as CampaignModel.CampaignPage;
      for (const c of page.items) totals.push({ campaignId: c.id, raisedMinor: c.raisedMinor });
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return totals;
  }

  async function campaignBalance(campaignId: string, requestId: string): Promise<[string, number]> {
    const res = await clients.bank.bank.accounts["by-owner"]({ ownerType: "campaign" })({ ownerId: campaignId }).get({
      headers: upstreamHeaders(requestId),
    });
    if (res.status === 404) return [campaignId, 0];
    const balance = (await call(log, "bank", Promise.resolve(res))).data as { balanceMinor: number };
    return [campaignId, balance.balanceMinor];
  }

  return {
    async run(requestId: string): Promise<AuditReport> {
      const [totals, ledgerRes] = await Promise.all([
        allCampaignTotals(requestId),
        call(log, "pledge", clients.pledge.ledger.get({ headers: upstreamHeaders(requestId) })),
      ]);
      const ledger = ledgerRes.data as PledgeModel.Ledger;
      const ids = [...new Set([...totals.map((c) => c.campaignId), ...ledger.campaigns.map((l) => l.campaignId)])];
      const balances = new Map(await mapLimited(ids, 16, (id) => campaignBalance(id, requestId)));
      const latest = compareLedgers(totals, ledger.campaigns, balances, ledger.stuckPledges, new Date());
      gauges.record(latest);
      // Money in flight (captured at the bank, its event not yet counted) shows as drift for a
      // moment; only drift that persists across audits is an incident, so this is a warning.
      if (latest.totalDriftMinor !== 0) log.warn({ totalDriftMinor: latest.totalDriftMinor }, "audit.drift");
      return latest;
    },
  };
}

export type Auditor = ReturnType<typeof createAuditor>;

export function adminRoutes({ auditor, context }: { auditor: Auditor; context: GatewayContext }) {
  return new Elysia({ name: "gateway-admin-routes" })
    .use(context)
    .get("/api/admin/audit", ({ requestId }) => auditor.run(requestId), {
      admin: true,
      response: { 200: Audit, 401: Problem, 403: Problem, 503: Problem },
      detail: operation({
        id: "auditMoney",
        tag: "admin",
        summary: "The money audit (admin)",
        description:
          "For every campaign, three independent views of its money: the campaign's total, its captured minus " +
          "refunded pledges, and what the bank moved. `driftMinor` is their disagreement and must be 0; " +
          "`stuckPledges` counts pledges left in flight past their grace period. `503` when a service is away.",
        access: "bearer",
        responseExample: examples.audit,
      }),
    });
}
