// The attack of issue 8 through real processes: someone inside the network who knows only a
// user's public id (every campaign shows its ownerId) calls the services behind the gateway
// directly — read the user's email and account, get a grant on it, hold and capture their money,
// turn the bank's fault knobs, open funded accounts, release a payment, read the pledge ledger.
// Every call is refused (401 without a valid credential for that service, 403 from a service the
// route does not name), and the victim's account has not moved.
import { beforeAll, expect, test } from "bun:test";
import type { ServiceName } from "@careforall/http";
import { forgeServiceToken } from "@careforall/testkit";
import { donor, type MyBank, moneyEnv, myBank } from "./money";
import { type Account, call, type Reply, useStack } from "./support";

const e2e = useStack(moneyEnv(), { label: "gw_internal_attacks" });

let victim: Account & { bank: MyBank };

beforeAll(async () => {
  victim = await donor(e2e.gw, "Victim");
}, 30_000);

/** A service token signed with the stack's real key of `caller`, with chosen claims. */
function token(caller: ServiceName, audience: string, { expired = false } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return forgeServiceToken({
    caller,
    audience,
    issuedAt: expired ? now - 600 : now,
    expiresAt: expired ? now - 540 : now + 60,
    keys: e2e.keys.services,
  });
}

interface Attack {
  service: Exclude<ServiceName, "gateway" | "archiver">;
  method: string;
  path: () => string;
  body?: () => unknown;
  /** A service that is not this route's caller. */
  wrongCaller: ServiceName;
}

const attacks: Attack[] = [
  { service: "auth", method: "GET", path: () => `/users/${victim.session.user.id}`, wrongCaller: "pledge" },
  {
    service: "bank",
    method: "GET",
    path: () => `/bank/accounts/by-owner/user/${victim.session.user.id}`,
    wrongCaller: "campaign",
  },
  {
    service: "bank",
    method: "POST",
    path: () => "/bank/grants",
    body: () => ({ accountId: victim.bank.bankAccountId, ownerUserId: victim.session.user.id }),
    wrongCaller: "gateway",
  },
  {
    service: "bank",
    method: "POST",
    path: () => "/bank/authorize",
    body: () => ({
      idempotencyKey: `attack-${Bun.randomUUIDv7()}`,
      accountId: victim.bank.bankAccountId,
      grant: "forged",
      amountMinor: 500,
      currency: "BDT",
      campaignId: "attack",
      paymentRef: "attack",
    }),
    wrongCaller: "pledge",
  },
  {
    service: "bank",
    method: "PUT",
    path: () => "/bank/faults",
    body: () => ({ errorRate: 1 }),
    wrongCaller: "payment",
  },
  { service: "bank", method: "POST", path: () => "/bank/accounts", body: () => ({}), wrongCaller: "campaign" },
  {
    service: "bank",
    method: "POST",
    path: () => "/bank/check-balance",
    body: () => ({ accountId: victim.bank.bankAccountId }),
    wrongCaller: "payment",
  },
  {
    service: "payment",
    method: "POST",
    path: () => "/payments/release",
    body: () => ({ paymentId: Bun.randomUUIDv7() }),
    wrongCaller: "pledge",
  },
  { service: "pledge", method: "GET", path: () => "/ledger", wrongCaller: "payment" },
];

async function attack(a: Attack, headers: Record<string, string>): Promise<Reply<{ type?: string }>> {
  return call<{ type?: string }>(e2e.stack.urls[a.service], a.method, a.path(), a.body?.(), {
    internal: false,
    headers,
  });
}

test("every direct call without a valid credential → 401, from a service the route does not name → 403", async () => {
  const before = await myBank(e2e.gw, victim.token);
  const seen: string[] = [];
  for (const a of attacks) {
    const name = `${a.method} ${a.service}${a.path()}`;
    const answers = {
      none: await attack(a, {}),
      garbage: await attack(a, { "x-service-token": "not-a-token" }),
      expired: await attack(a, { "x-service-token": await token("gateway", a.service, { expired: true }) }),
      otherAudience: await attack(a, { "x-service-token": await token("gateway", "campaign") }),
      wrongCaller: await attack(a, { "x-service-token": await token(a.wrongCaller, a.service) }),
    };
    const statuses = Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, r.status]));
    expect({ name, statuses }).toEqual({
      name,
      statuses: {
        none: 401,
        garbage: 401,
        expired: 401,
        otherAudience: 401,
        wrongCaller: 403,
      },
    });
    expect(answers.none.body.type).toEndWith("/service-credential");
    expect(answers.wrongCaller.body.type).toEndWith("/caller-not-accepted");
    seen.push(name);
  }
  expect(seen).toHaveLength(attacks.length);

  // Nothing moved: the victim's account is as it was, and the bank's fault knobs are still off.
  expect(await myBank(e2e.gw, victim.token)).toEqual(before);
  const faults = await call<{ errorRate: number }>(e2e.stack.urls.bank, "GET", "/bank/faults");
  expect(faults.status).toBe(200);
  expect(faults.body.errorRate).toBe(0);
});

test("the platform's own callers still get through (the check refuses strangers, not everyone)", async () => {
  const lookup = await call<{ id: string }>(
    e2e.stack.urls.bank,
    "GET",
    `/bank/accounts/by-owner/user/${victim.session.user.id}`,
  );
  expect(lookup.status).toBe(200);
});
