// Campaign end dates through real processes (issue 8), in a stack whose campaign service sweeps
// every 200 ms (END_SWEEP_INTERVAL_MS): a donation before endsAt is accepted and counts once the
// bank captures it; after endsAt a donation is refused (409) and nothing is stored; the campaign
// then reads `closed` from the gateway's pushed snapshot and the closed list; it can no longer be
// changed. The exact instant (ended, not yet swept) is pinned by the pledge and campaign tests.
import { beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import postgres from "postgres";
import { accepted, donor, type MyBank, moneyEnv, pledge, waitForPledgeView, waitForStatus } from "./money";
import { type Account, type Campaign, call, createCampaign, expectProblem, useStack } from "./support";

const e2e = useStack(moneyEnv({ END_SWEEP_INTERVAL_MS: "200" }), { label: "gw_campaign_end" });

const END_IN_MS = 4_000;
let owner: Account & { bank: MyBank };
let giver: Account & { bank: MyBank };
let campaign: Campaign;
let endsAt: number;

beforeAll(async () => {
  [owner, giver] = await Promise.all([donor(e2e.gw, "Olga Owner"), donor(e2e.gw, "Gita Giver")]);
  endsAt = Date.now() + END_IN_MS;
  campaign = await createCampaign(e2e.gw, owner.token, {
    title: "Ends soon",
    endsAt: new Date(endsAt).toISOString(),
  });
  await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
}, 30_000);

async function pledgesStored(campaignId: string): Promise<number> {
  const sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select count(*)::int as n from pledge.pledges where campaign_id = ${campaignId}`;
    return rows[0]?.n as number;
  } finally {
    await sql.end();
  }
}

describe("a campaign with an end", () => {
  test("before endsAt a donation is accepted; after it a donation is refused with 409 and nothing is stored; the earlier one still counts", async () => {
    expect(campaign).toMatchObject({ status: "active", endsAt: new Date(endsAt).toISOString() });
    const before = await accepted(e2e.gw, campaign.id, { amountMinor: 1_500, currency: "BDT" }, { token: giver.token });
    expect(Date.now()).toBeLessThan(endsAt);

    // Wait for the wall clock to pass the end (polled, not slept).
    await waitFor(() => Date.now() > endsAt + 50, { timeoutMs: END_IN_MS + 5_000, what: "endsAt to pass" });
    const late = await pledge(e2e.gw, campaign.id, { amountMinor: 2_000, currency: "BDT" }, { token: giver.token });
    const problem = expectProblem(late, 409);
    // Ended (not yet swept) or already closed by the sweep: refused either way.
    expect(problem.type).toMatch(/campaign-(ended|closed)$/);
    expect(await pledgesStored(campaign.id)).toBe(1);

    await waitForStatus(e2e.gw, before.id, "captured", { token: giver.token });
    await waitFor(
      async () => {
        const read = await call<Campaign>(e2e.gw, "GET", `/api/campaigns/${campaign.id}`);
        return read.body.status === "closed" && read.body.raisedMinor === 1_500 ? read : null;
      },
      { timeoutMs: 15_000, what: "the gateway to read the campaign closed, with the earlier donation counted" },
    );
  }, 40_000);

  test("the sweep's close reaches every read: the campaign, the closed list, and a PATCH is refused", async () => {
    const closed = await waitFor(
      async () => {
        const read = await call<Campaign>(e2e.gw, "GET", `/api/campaigns/${campaign.id}`);
        return read.body.status === "closed" ? read : null;
      },
      { timeoutMs: 15_000, what: "the campaign to read closed" },
    );
    expect(closed.body).toMatchObject({ id: campaign.id, status: "closed", endsAt: campaign.endsAt });
    expect(closed.body.version).toBeGreaterThan(campaign.version);

    const list = await call<{ items: Campaign[] }>(e2e.gw, "GET", "/api/campaigns?status=closed&limit=100");
    expect(list.status).toBe(200);
    expect(list.body.items.map((c) => c.id)).toContain(campaign.id);

    const patch = await call(
      e2e.gw,
      "PATCH",
      `/api/campaigns/${campaign.id}`,
      { title: "Reopened?" },
      {
        token: owner.token,
      },
    );
    expect(expectProblem(patch, 409).type).toMatch(/campaign-closed$/);

    const after = await pledge(e2e.gw, campaign.id, { amountMinor: 700, currency: "BDT" }, { token: giver.token });
    expect(expectProblem(after, 409).type).toMatch(/campaign-closed$/);
    expect(await pledgesStored(campaign.id)).toBe(1);
  });

  test("an open-ended campaign is left alone by the sweep", async () => {
    // Created after the ended campaign was swept (the tests above): the sweeps since then, every
    // 200 ms, leave it active, and it takes donations.
    const open = await createCampaign(e2e.gw, owner.token, { title: "Open ended" });
    await waitForPledgeView(e2e.gw, open.id, "EUR", 422);
    await accepted(e2e.gw, open.id, { amountMinor: 300, currency: "BDT" }, { token: giver.token });
    const read = await call<Campaign>(e2e.gw, "GET", `/api/campaigns/${open.id}`);
    expect(read.body).toMatchObject({ status: "active", endsAt: null });
  });
});
