// `bun scripts/rebuild.ts`: recomputes every campaign's read model (totals, donor count and the
// donations list) from the pledge records, the source of truth. Safe to run on a live system:
// each campaign is replaced in one transaction and its fresh snapshot is published.
//
// Needs an admin account (ADMIN_EMAIL / ADMIN_PASSWORD) and the internal service URLs
// (CAMPAIGN_URL, PLEDGE_URL; defaults are the local ports of `./cfa start`).
import type { CampaignApp, DonationModel } from "@careforall/campaign";
import type { PledgeApp, PledgeModel } from "@careforall/pledge";
import { treaty } from "@elysiajs/eden";
import { adminSignIn, runCli } from "./cli";
import { DEFAULT_PORTS } from "./stack";

export interface RebuildOptions {
  gatewayUrl: string;
  campaignUrl: string;
  pledgeUrl: string;
  admin: { email: string; password: string };
  log?: (line: string) => void;
}

export async function rebuildReadModels(options: RebuildOptions): Promise<{ campaigns: number; pledges: number }> {
  const log = options.log ?? console.log;
  const accessToken = await adminSignIn(options.gatewayUrl, options.admin);
  const headers = { authorization: `Bearer ${accessToken}` };
  const campaign = treaty<CampaignApp>(options.campaignUrl, { parseDate: false });
  const pledge = treaty<PledgeApp>(options.pledgeUrl, { parseDate: false });

  let campaigns = 0;
  let pledges = 0;
  let cursor: string | undefined;
  do {
    const page = await campaign.campaigns.get({ query: { limit: 100, ...(cursor ? { cursor } : {}) } });
    if (page.error) throw new Error(`listing campaigns failed: ${page.status}`);
    for (const c of page.data.items) {
      const captured: DonationModel.CapturedPledge[] = [];
      let pledgeCursor: string | undefined;
      do {
        const res = await pledge
          .campaigns({ id: c.id })
          .captured.get({ query: { limit: 100, ...(pledgeCursor ? { cursor: pledgeCursor } : {}) } });
        if (res.error) throw new Error(`reading captured pledges of ${c.id} failed: ${res.status}`);
        const data = res.data as PledgeModel.CapturedPage;
        for (const p of data.items) {
          captured.push({
            pledgeId: p.pledgeId,
            donorKey: p.donorKey,
            amountMinor: p.amountMinor,
            currency: p.currency,
            donorName: p.anonymous ? null : p.donorName,
            message: p.message,
            capturedAt: p.capturedAt,
          });
        }
        pledgeCursor = data.nextCursor ?? undefined;
      } while (pledgeCursor);
      const rebuilt = await campaign.campaigns({ id: c.id }).rebuild.post({ pledges: captured }, { headers });
      if (rebuilt.error) throw new Error(`rebuilding ${c.id} failed: ${rebuilt.status}`);
      const before = c.raisedMinor;
      const after = rebuilt.data.raisedMinor;
      if (before !== after) log(`rebuild: campaign ${c.id} raisedMinor ${before} → ${after}`);
      campaigns++;
      pledges += captured.length;
    }
    cursor = page.data.nextCursor ?? undefined;
  } while (cursor);
  log(`rebuild: ${campaigns} campaigns from ${pledges} captured pledges`);
  return { campaigns, pledges };
}

if (import.meta.main) {
  const env = process.env;
  await runCli(() =>
    rebuildReadModels({
      gatewayUrl: env.GATEWAY_URL ?? `http://127.0.0.1:${DEFAULT_PORTS.gateway}`,
      campaignUrl: env.CAMPAIGN_URL ?? `http://127.0.0.1:${DEFAULT_PORTS.campaign}`,
      pledgeUrl: env.PLEDGE_URL ?? `http://127.0.0.1:${DEFAULT_PORTS.pledge}`,
      admin: {
        email: env.ADMIN_EMAIL ?? "admin@careforall.local",
        password: env.ADMIN_PASSWORD ?? "admin-dev-password",
      },
    }),
  );
}
