// The real bank behind the seam: the bank app on its own test database, served over HTTP on a
// random port, and the Eden verifier main.ts uses talking to it. A demo account with its secret
// pays (202), a wrong secret or someone else's account is refused (402, no pledge), a user's own
// account pays by ownership, and a bank that stops answering is a 503 with the key released.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import {
  type BankApp,
  type BankAppDeps,
  BankConfigSchema,
  createBankApp,
  createBankConsumers,
  ensureFixedAccounts,
  TEST_ACCOUNT_SECRET,
  TEST_ACCOUNTS,
} from "@careforall/bank";
import { manualClock, parseConfig } from "@careforall/config";
import { createDb, createTestDatabase, type DbHandle, migrate, type TestDatabase } from "@careforall/db";
import type { UserRegisteredEvent } from "@careforall/events";
import { fetchWithTimeout, serviceFetch } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { createTestKeys, serviceHeaders, testServiceIdentity } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { eq, sql } from "drizzle-orm";
import { createEdenSourceVerifier } from "../src/bank-client";
import { pledges } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let bankDatabase: TestDatabase;
let bankHandle: DbHandle<Record<string, never>>;
let bankDb: BankAppDeps["db"];
let server: ReturnType<typeof Bun.serve>;
let bankUrl: string;
let h: PledgeTestApp;
let campaignId: string;
const bankClock = manualClock(Date.now());
const log = silentLogger("pledge-bank-integration");
const bankConfig = parseConfig("bank", BankConfigSchema, {
  NODE_ENV: "test",
  JWT_PUBLIC_KEY: (await createTestKeys()).publicKeyPem,
});

beforeAll(async () => {
  bankDatabase = await createTestDatabase("pledge_bank");
  // @careforall/bank exports no migrations path; its folder sits beside the package's entry file.
  const bankSrc = dirname(Bun.resolveSync("@careforall/bank", import.meta.dir));
  await migrate({ url: bankDatabase.url, migrationsFolder: join(bankSrc, "db", "migrations"), schema: "bank" });
  bankHandle = createDb({ url: bankDatabase.url, schema: {}, max: 8, name: "pledge-bank-integration" });
  // The bank's drizzle schema object is not exported either; its code uses no db.query.*, so the
  // plain database handle is the same at run time.
  bankDb = bankHandle.db as unknown as BankAppDeps["db"];
  await ensureFixedAccounts(bankDb, bankClock, { demoBalanceMinor: bankConfig.DEMO_BALANCE_MINOR });
  const bank: BankApp = createBankApp({
    identity: await testServiceIdentity("bank"),
    db: bankDb,
    clock: bankClock,
    config: bankConfig,
    log,
  });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => bank.handle(request) });
  bankUrl = `http://127.0.0.1:${server.port}`;

  const verifier = createEdenSourceVerifier(
    treaty<BankApp>(bankUrl, {
      parseDate: false,
      fetcher: serviceFetch(await testServiceIdentity("pledge"), "bank", fetchWithTimeout(2_000)),
    }),
    log,
  );
  h = await startPledgeTestApp({ verifier });
  campaignId = (await h.campaign()).id;
});

afterAll(async () => {
  server?.stop(true);
  await h?.stop();
  await bankHandle?.close();
  await bankDatabase?.drop();
});

async function demoAccount(): Promise<{ bankAccountId: string; accountSecret: string }> {
  const res = await fetch(`${bankUrl}/bank/accounts`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await serviceHeaders("bank")) },
    body: "{}",
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { bankAccountId: string; accountSecret: string };
}

const guest = (source: { bankAccountId: string; accountSecret: string }, key = Bun.randomUUIDv7()) =>
  h.call("POST", `/campaigns/${campaignId}/pledges`, {
    body: { amountMinor: 2_000, currency: "BDT", donor: { email: "guest@example.test", name: "Guest" }, source },
    headers: { "idempotency-key": key },
  });

async function pledgeCount() {
  const [row] = await h.db.select({ n: sql<number>`count(*)::int` }).from(pledges);
  return row!.n;
}

describe("against the real bank", () => {
  test("a demo account with its secret → 202 and pledge.created carries the bank's signed grant", async () => {
    const account = await demoAccount();
    const res = await guest(account);
    expect(res.status).toBe(202);
    const pledge = (await res.json()) as PledgeModel.CreatedPledge;
    expect(pledge.status).toBe("pending");
    expect(pledge.receiptToken).toBeString();
    const [created] = await h.eventsFor(pledge.id);
    const source = (created!.data as { source: { bankAccountId: string; grant: string } }).source;
    expect(source.bankAccountId).toBe(account.bankAccountId);
    // <accountId>.<expiresAt>.<hex hmac>: the bank's own format, no secret inside.
    expect(source.grant).toMatch(new RegExp(`^${account.bankAccountId}\\.\\d+\\.[0-9a-f]{64}$`));
    expect(source.grant).not.toContain(account.accountSecret);
  });

  test("the wrong secret → 402, no pledge and no event", async () => {
    const account = await demoAccount();
    const before = await pledgeCount();
    const problem = await expectProblem(await guest({ ...account, accountSecret: "definitely-wrong" }), 402);
    expect(problem.title).toBe("Payment refused");
    expect(await pledgeCount()).toBe(before);
  });

  test('an unknown account → 402; a fixed test account with secret "test" → 202 (declines come later, at authorize)', async () => {
    await expectProblem(await guest({ bankAccountId: "acct_does_not_exist", accountSecret: "x" }), 402);
    const declined = await guest({ bankAccountId: TEST_ACCOUNTS.declined, accountSecret: TEST_ACCOUNT_SECRET });
    expect(declined.status).toBe(202);
  });

  test("a signed-in user pays from their own account by ownership; another user cannot claim it", async () => {
    const alice = user("alice");
    const mallory = user("mallory");
    const consumers = createBankConsumers({ db: bankDb, clock: bankClock, log, config: bankConfig });
    const registered: UserRegisteredEvent = newEvent(
      "user.registered",
      alice.id,
      { userId: alice.id, email: alice.email, name: alice.name, role: "donor" as const },
      bankClock,
    );
    await consumers.onUserRegistered(registered);
    const owned = await fetch(`${bankUrl}/bank/accounts/by-owner/user/${alice.id}`, {
      headers: await serviceHeaders("bank"),
    });
    expect(owned.status).toBe(200);
    const { bankAccountId } = (await owned.json()) as { bankAccountId: string };

    const mine = await h.pledgeAs({ ...alice, bankAccountId }, campaignId);
    expect(mine.status).toBe(202);
    expect(((await mine.json()) as PledgeModel.Pledge).donorId).toBe(alice.id);

    const before = await pledgeCount();
    await expectProblem(await h.pledgeAs({ ...mallory, bankAccountId }, campaignId), 402);
    expect(await pledgeCount()).toBe(before);
    const [row] = await h.db.select().from(pledges).where(eq(pledges.donorId, mallory.id));
    expect(row).toBeUndefined();
  });

  test("a bank that does not answer → 503 with the key released; the same key succeeds once it is back", async () => {
    const account = await demoAccount();
    const port = server.port;
    server.stop(true);
    try {
      const problem = await expectProblem(await guest(account, "outage-key"), 503);
      expect(problem.detail).toContain("same Idempotency-Key");
    } finally {
      const bank = createBankApp({
        identity: await testServiceIdentity("bank"),
        db: bankDb,
        clock: bankClock,
        config: bankConfig,
        log,
      });
      server = Bun.serve({ port, hostname: "127.0.0.1", fetch: (request) => bank.handle(request) });
    }
    const retry = await guest(account, "outage-key");
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });
});
