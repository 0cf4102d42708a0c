// Rate limits on the money routes, in a stack started with RATE_LIMIT_PLEDGES=2 and
// RATE_LIMIT_DEMO_ACCOUNTS=2 (per minute): a signed-in donor's 3rd pledge, a guest's 3rd pledge
// by email or by IP, and the 3rd demo account from one IP are 429 with Retry-After, and a refused
// pledge stores nothing. The test client is the gateway's trusted proxy here, so X-Forwarded-For
// picks the client address and each test gets fresh addresses.
import { beforeAll, describe, expect, test } from "bun:test";
import { DECLINED, donor, type MyBank, moneyEnv, type Page, type Pledge, pledge, waitForPledgeView } from "./money";
import {
  type Account,
  type Campaign,
  call,
  createCampaign,
  expectProblem,
  type Reply,
  uniqueEmail,
  useStack,
} from "./support";

const e2e = useStack(
  moneyEnv({ RATE_LIMIT_PLEDGES: "2", RATE_LIMIT_DEMO_ACCOUNTS: "2", TRUSTED_PROXIES: "127.0.0.1,::1" }),
  { label: "gw_money_limits" },
);

let lena: Account & { bank: MyBank };
let mia: Account & { bank: MyBank };
let campaign: Campaign;
let ips = 0;
/** A client address nobody has used yet in this stack. */
const freshIp = () => `198.51.${Math.floor(++ips / 250)}.${(ips % 250) + 1}`;
const from = (ip: string) => ({ "x-forwarded-for": ip });

beforeAll(async () => {
  [lena, mia] = await Promise.all([donor(e2e.gw, "Lena Limit"), donor(e2e.gw, "Mia Other")]);
  campaign = await createCampaign(e2e.gw, lena.token, { title: "Popular cause" });
  await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422, () => from(freshIp()));
}, 30_000);

function expectRateLimited(reply: Reply) {
  const problem = expectProblem(reply, 429);
  expect(problem.type).toContain("rate-limited");
  const retryAfter = reply.res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
}

const guest = (email: string) => ({
  amountMinor: 1_000,
  currency: "BDT",
  donor: { email, name: "Guest" },
  source: DECLINED,
});

describe("pledges (RATE_LIMIT_PLEDGES=2)", () => {
  test("a signed-in donor's 3rd pledge within a minute → 429 with Retry-After, and it stores nothing", async () => {
    const body = { amountMinor: 1_000, currency: "BDT" };
    for (let i = 0; i < 2; i++) {
      expect((await pledge(e2e.gw, campaign.id, body, { token: lena.token, headers: from(freshIp()) })).status).toBe(
        202,
      );
    }
    // A new address does not help: the limit is per donor.
    expectRateLimited(await pledge(e2e.gw, campaign.id, body, { token: lena.token, headers: from(freshIp()) }));
    const mine = await call<Page<Pledge>>(e2e.gw, "GET", "/api/me/pledges", undefined, { token: lena.token });
    expect(mine.body.items).toHaveLength(2);
  });

  test("another donor is not affected", async () => {
    const reply = await pledge(e2e.gw, campaign.id, { amountMinor: 1_000, currency: "BDT" }, { token: mia.token });
    expect(reply.status).toBe(202);
  });

  test("a guest's 3rd pledge with one email → 429, from any address and in any case", async () => {
    const email = uniqueEmail("limited");
    for (let i = 0; i < 2; i++) {
      expect((await pledge(e2e.gw, campaign.id, guest(email), { headers: from(freshIp()) })).status).toBe(202);
    }
    expectRateLimited(await pledge(e2e.gw, campaign.id, guest(email.toUpperCase()), { headers: from(freshIp()) }));
  });

  test("guests' 3rd pledge from one address → 429, whatever the email", async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) {
      expect((await pledge(e2e.gw, campaign.id, guest(uniqueEmail("ip")), { headers: from(ip) })).status).toBe(202);
    }
    expectRateLimited(await pledge(e2e.gw, campaign.id, guest(uniqueEmail("ip")), { headers: from(ip) }));
  });
});

describe("demo accounts (RATE_LIMIT_DEMO_ACCOUNTS=2)", () => {
  test("the 3rd demo account from one address → 429 with Retry-After; another address still gets one", async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) {
      expect((await call(e2e.gw, "POST", "/api/bank/demo-accounts", undefined, { headers: from(ip) })).status).toBe(
        201,
      );
    }
    expectRateLimited(await call(e2e.gw, "POST", "/api/bank/demo-accounts", undefined, { headers: from(ip) }));
    expect(
      (await call(e2e.gw, "POST", "/api/bank/demo-accounts", undefined, { headers: from(freshIp()) })).status,
    ).toBe(201);
  });
});
