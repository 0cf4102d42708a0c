// Payment against the REAL bank, over HTTP: the bank app (its own test database, its signed
// webhook sender pointed at our webhook route) served on a random port, our Eden BankClient
// with timeouts in front of it. Happy path to captured with one hold; then a lost authorize
// response (the bank held, the answer 5xx'd, its webhook dropped) that the reconciler
// converges to exactly one hold (invariants 1 and 2).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import {
  type BankApp,
  BankConfigSchema,
  createBankApp,
  createFaultStore,
  createWebhookSender,
  ensureFixedAccounts,
  type Faults,
  TEST_ACCOUNT_SECRET,
  TEST_ACCOUNTS,
} from "@careforall/bank";
import { parseConfig, systemClock } from "@careforall/config";
import { createDb, createTestDatabase, type DbHandle, migrate, type TestDatabase } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import {
  adminTokenFor,
  bankTestFetch,
  createTestKeys,
  serviceHeaders,
  testServiceIdentity,
  waitFor,
} from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { eq } from "drizzle-orm";
import { type BankClient, createBankClient } from "../src/bank-client";
import { inbox } from "../src/db/schema";
import { type PaymentTestApp, pledgeCreated, startPaymentTestApp, WEBHOOK_SECRET } from "./support";

const NO_FAULTS: Faults = {
  errorRate: 0,
  lostResponseRate: 0,
  latencyMs: 0,
  webhookDuplicateRate: 0,
  webhookReorder: false,
  webhookDropRate: 0,
};

// The bank verifies administrators' tokens on its operator routes (faults): it trusts this key.
const jwtKeys = await createTestKeys();
const adminToken = await adminTokenFor(jwtKeys.privateKeyPem);
let bankDatabase: TestDatabase;
let bankDb: DbHandle<Record<string, never>>;
let bankServer: ReturnType<typeof Bun.serve>;
let paymentServer: ReturnType<typeof Bun.serve>;
let sender: ReturnType<typeof createWebhookSender>;
let bankApi: ReturnType<typeof treaty<BankApp>>;
let h: PaymentTestApp<BankClient>;

beforeAll(async () => {
  const log = silentLogger("bank-in-payment-test");
  bankDatabase = await createTestDatabase("bank_for_payment");
  // The bank package's own committed migrations, found through its entry point (no deep import).
  const bankSrc = dirname(Bun.resolveSync("@careforall/bank", import.meta.dir));
  await migrate({ url: bankDatabase.url, migrationsFolder: join(bankSrc, "db", "migrations"), schema: "bank" });
  // @careforall/bank does not export its drizzle schema; the bank never uses db.query, so an
  // empty relational schema is enough (typed through the factory's own parameter).
  bankDb = createDb({ url: bankDatabase.url, schema: {}, max: 12, name: "bank-for-payment-test" });
  const db = bankDb.db as unknown as Parameters<typeof createBankApp>[0]["db"];

  // Payment first, so the bank's webhooks have somewhere to go.
  const bankPort = await freePort();
  h = await startPaymentTestApp<BankClient>({
    bank: createBankClient({
      identity: await testServiceIdentity("payment"),
      url: `http://127.0.0.1:${bankPort}`,
      timeoutMs: 3000,
    }),
  });
  // The bank's webhooks reach payment through the gateway in the platform: this stand-in forwards
  // them with the gateway's credential, as /api/webhooks/bank does.
  paymentServer = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (request) => {
      const headers = new Headers(request.headers);
      for (const [k, v] of Object.entries(await serviceHeaders("payment"))) headers.set(k, v);
      return h.app.handle(new Request(request, { headers }));
    },
  });

  const config = parseConfig("bank", BankConfigSchema, {
    JWT_PUBLIC_KEY: jwtKeys.publicKeyPem,
    NODE_ENV: "test",
    WEBHOOK_URL: `http://127.0.0.1:${paymentServer.port}/payments/webhook`,
    WEBHOOK_SECRET,
    WEBHOOK_POLL_MS: "20",
    WEBHOOK_BASE_BACKOFF_MS: "50",
    FAULTS_SYNC_MS: "50",
  });
  const faults = createFaultStore({ db, initial: NO_FAULTS });
  await ensureFixedAccounts(db, systemClock, { demoBalanceMinor: config.DEMO_BALANCE_MINOR });
  sender = createWebhookSender({ db, clock: systemClock, log, faults, random: Math.random, config });
  const bankApp = createBankApp({
    identity: await testServiceIdentity("bank"),
    db,
    clock: systemClock,
    config,
    log,
    faults,
    onCommitted: () => sender.kick(),
  });
  bankServer = Bun.serve({ port: bankPort, hostname: "127.0.0.1", fetch: bankApp.fetch });
  sender.start();
  bankApi = treaty<BankApp>(`http://127.0.0.1:${bankPort}`, { parseDate: false, fetcher: bankTestFetch(adminToken) });
});

afterAll(async () => {
  await sender?.stop();
  bankServer?.stop(true);
  paymentServer?.stop(true);
  await h?.stop();
  await bankDb?.close();
  await bankDatabase?.drop();
});

/** A port nobody listens on right now (the bank URL must be known before the payment app is built). */
async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function demoAccountWithGrant() {
  const opened = await bankApi.bank.accounts.post({});
  if (!opened.data) throw new Error(`open account: ${opened.status}`);
  const granted = await bankApi.bank.grants.post({
    accountId: opened.data.bankAccountId,
    accountSecret: opened.data.accountSecret,
  });
  if (!granted.data) throw new Error(`grant: ${granted.status}`);
  return { accountId: opened.data.bankAccountId, startMinor: opened.data.balanceMinor, grant: granted.data.grant };
}

async function balance(accountId: string) {
  const res = await bankApi.bank["check-balance"].post({ accountId });
  if (!res.data) throw new Error(`check-balance: ${res.status}`);
  return res.data;
}

/** Waits until our route has recorded at least `count` bank webhooks in all. */
async function webhooksSettled(count: number) {
  await waitFor(
    async () => (await h.db.select().from(inbox).where(eq(inbox.consumer, "bank-webhook"))).length >= count,
    {
      what: `${count} bank webhooks recorded`,
    },
  );
  await h.service.idle();
}

describe("with the real bank", () => {
  test("pledge.created → captured; the bank holds and captures exactly once; its webhooks change nothing", async () => {
    const account = await demoAccountWithGrant();
    const event = pledgeCreated({
      amountMinor: 7_500,
      source: { bankAccountId: account.accountId, grant: account.grant },
    });
    const row = await h.service.handlePledgeCreated(event);
    expect(row?.status).toBe("captured");
    const p = await h.payment(row!.id);
    expect(p.captureTransferId).toBeTruthy();

    const byKey = await bankApi.bank.holds["by-key"]({ key: p.id }).get();
    expect(byKey.data).toMatchObject({ holdId: p.holdId, status: "held", amountMinor: 7_500 });
    const hold = await bankApi.bank.holds({ id: p.holdId! }).get();
    expect(hold.data).toMatchObject({ status: "captured", capturedMinor: 7_500, refundedMinor: 0, paymentRef: p.id });
    expect(await balance(account.accountId)).toMatchObject({
      balanceMinor: account.startMinor - 7_500,
      heldMinor: 0,
    });

    // hold.authorized and hold.captured arrive signed over HTTP; they are verified, recorded, stale.
    await webhooksSettled(2);
    const after = await h.payment(p.id);
    expect(after.status).toBe("captured");
    expect((await h.events(p.id)).map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("a declined test account → failed(declined), nothing held", async () => {
    const granted = await bankApi.bank.grants.post({
      accountId: TEST_ACCOUNTS.declined,
      accountSecret: TEST_ACCOUNT_SECRET,
    });
    const event = pledgeCreated({ source: { bankAccountId: TEST_ACCOUNTS.declined, grant: granted.data!.grant } });
    const row = await h.service.handlePledgeCreated(event);
    expect(row).toMatchObject({ status: "failed", failureReason: "declined", holdId: null });
  });

  test("lostResponseRate = 1 during authorize (webhooks dropped), then 0: the reconciler converges to one hold", async () => {
    const account = await demoAccountWithGrant();
    await webhooksSettled(3); // the earlier tests' webhooks are in
    // No webhook may rescue it: the sender is down while the answer is lost.
    await sender.stop();
    await bankApi.bank.faults.put({ lostResponseRate: 1 });
    const event = pledgeCreated({
      amountMinor: 4_200,
      source: { bankAccountId: account.accountId, grant: account.grant },
    });
    const row = await h.service.handlePledgeCreated(event);
    await bankApi.bank.faults.put({ lostResponseRate: 0 });
    // The bank held the money but its answer was a 5xx: unknown, so the payment waits.
    expect(row).toMatchObject({ status: "authorizing", attempts: 1, holdId: null });
    expect(await balance(account.accountId)).toMatchObject({ heldMinor: 4_200 });

    expect(await h.reconcileLater()).toContain(row!.id);
    const p = await h.payment(row!.id);
    expect(p.status).toBe("captured");
    const byKey = await bankApi.bank.holds["by-key"]({ key: p.id }).get();
    expect(byKey.data?.holdId).toBe(p.holdId);
    const hold = await bankApi.bank.holds({ id: p.holdId! }).get();
    expect(hold.data).toMatchObject({ status: "captured", capturedMinor: 4_200 });
    // Exactly one hold, captured once: nothing else held, the balance moved by the amount once.
    expect(await balance(account.accountId)).toMatchObject({
      balanceMinor: account.startMinor - 4_200,
      heldMinor: 0,
    });
    expect((await h.events(p.id)).map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);

    // The webhooks delivered late (authorized, captured) are verified and change nothing.
    sender.start();
    await webhooksSettled(5);
    expect(await h.payment(p.id)).toMatchObject({ status: "captured", version: p.version });
  });
});
