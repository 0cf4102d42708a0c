// The demo bank switched off (issue 8), in a stack started with DEMO_BANK=off — production's
// default: POST /api/bank/demo-accounts answers 404 demo-bank-off through the gateway, and the
// fixed test accounts do not exist, so a pledge paid from one is refused (402) and nothing is
// charged; a registered donor still pays from their own account.
import { beforeAll, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { donor, moneyEnv, type Pledge, pledge, SLOW, waitForStatus } from "./money";
import { type Account, type Campaign, call, createCampaign, expectProblem, uniqueEmail, useStack } from "./support";

const e2e = useStack(moneyEnv({ DEMO_BANK: "off" }), { label: "gw_demo_bank_off" });

let owner: Account;
let campaign: Campaign;

beforeAll(async () => {
  owner = await donor(e2e.gw, "Owner Off");
  campaign = await createCampaign(e2e.gw, owner.token, { title: "No demo bank" });
}, 30_000);

test("POST /api/bank/demo-accounts → 404 demo-bank-off problem, with or without a body", async () => {
  for (const body of [undefined, { currency: "USD" }]) {
    const reply = await call(e2e.gw, "POST", "/api/bank/demo-accounts", body);
    const problem = expectProblem(reply, 404);
    expect(problem.type).toEndWith("/demo-bank-off");
    expect(problem.detail).toContain("DEMO_BANK");
  }
});

test("a guest paying from acct_test_slow → 402: the fixed test accounts do not exist", async () => {
  const guest = () =>
    pledge(e2e.gw, campaign.id, {
      amountMinor: 100,
      currency: "BDT",
      donor: { email: uniqueEmail("nodemo"), name: "No Demo" },
      source: SLOW,
    });
  // The pledge service may not know the campaign for a moment (404); then the answer is 402.
  const reply = await waitFor(
    async () => {
      const r = await guest();
      return r.status === 404 ? null : r;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: "the campaign to reach the pledge service" },
  );
  expectProblem(reply, 402);
});

test("a registered donor still pays from their own account, to captured", async () => {
  const mia = await donor(e2e.gw, "Mia Own");
  const reply = await pledge(e2e.gw, campaign.id, { amountMinor: 700, currency: "BDT" }, { token: mia.token });
  expect(reply.status).toBe(202);
  const done: Pledge = await waitForStatus(e2e.gw, reply.body.id, "captured", { token: mia.token });
  expect(done.status).toBe("captured");
});
