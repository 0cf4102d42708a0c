// The fixed test accounts' own pledge limit (issue 8), in a stack started with
// RATE_LIMIT_TEST_ACCOUNT_PLEDGES=3 and a donor limit far above it: anyone may pay from
// acct_test_* (secret "test"), so each of those accounts takes at most 3 pledges a minute whoever
// sends them — fresh emails, fresh addresses and signed-in donors alike — answered 429 with
// Retry-After; other test accounts and ordinary accounts are not affected.
import { beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { DECLINED, donor, INSUFFICIENT, moneyEnv, pledge, SLOW } from "./money";
import { type Account, type Campaign, call, createCampaign, expectProblem, uniqueEmail, useStack } from "./support";

const e2e = useStack(
  moneyEnv({ RATE_LIMIT_PLEDGES: "1000", RATE_LIMIT_TEST_ACCOUNT_PLEDGES: "3", TRUSTED_PROXIES: "127.0.0.1,::1" }),
  { label: "gw_test_account_limits" },
);

let owner: Account;
let campaign: Campaign;
let demo: { bankAccountId: string; accountSecret: string };
let ips = 0;
const freshIp = () => `203.0.${Math.floor(++ips / 250)}.${(ips % 250) + 1}`;
const from = (ip: string) => ({ "x-forwarded-for": ip });
const guestFrom = (source: { bankAccountId: string; accountSecret: string }) => ({
  amountMinor: 100,
  currency: "BDT",
  donor: { email: uniqueEmail("tester"), name: "Tester" },
  source,
});

beforeAll(async () => {
  owner = await donor(e2e.gw, "Owner Limit");
  campaign = await createCampaign(e2e.gw, owner.token, { title: "Test account limits" });
  demo = (await call<typeof demo>(e2e.gw, "POST", "/api/bank/demo-accounts", {})).body;
  // Until the pledge service knows the campaign, a pledge answers 404: probe with the demo
  // account, so no test account's budget is spent waiting.
  await waitFor(
    async () => (await pledge(e2e.gw, campaign.id, guestFrom(demo), { headers: from(freshIp()) })).status === 202,
    {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: "the campaign to take pledges",
    },
  );
}, 30_000);

describe("RATE_LIMIT_TEST_ACCOUNT_PLEDGES=3", () => {
  test("a test account's 4th pledge a minute → 429 with Retry-After, whatever the email and address", async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await pledge(e2e.gw, campaign.id, guestFrom(SLOW), { headers: from(freshIp()) });
      expect(reply.status).toBe(202);
    }
    const refused = await pledge(e2e.gw, campaign.id, guestFrom(SLOW), { headers: from(freshIp()) });
    const problem = expectProblem(refused, 429);
    expect(problem.type).toContain("rate-limited");
    const retryAfter = Number(refused.res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // A signed-in donor naming it as source is refused too: the limit is the account's.
    const signedIn = await pledge(
      e2e.gw,
      campaign.id,
      { amountMinor: 100, currency: "BDT", source: SLOW },
      { token: owner.token, headers: from(freshIp()) },
    );
    expectProblem(signedIn, 429);
  });

  test("the other test accounts have budgets of their own, and ordinary accounts none of this", async () => {
    for (const source of [DECLINED, INSUFFICIENT]) {
      const reply = await pledge(e2e.gw, campaign.id, guestFrom(source), { headers: from(freshIp()) });
      expect(reply.status).toBe(202);
    }
    for (let i = 0; i < 5; i++) {
      const reply = await pledge(e2e.gw, campaign.id, guestFrom(demo), { headers: from(freshIp()) });
      expect(reply.status).toBe(202);
    }
  });
});
