// The bank client's batch calls against the REAL bank over HTTP: one outcome per item, in order,
// each read exactly as the single call's answer would be (ok, rejected 4xx); a whole call that
// fails (injected 503, lost response, nobody listening) makes every item unknown; a call the bank
// refuses as a whole is asked again item by item; long lists go out in calls of 100.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import {
  type BankApp,
  BankConfigSchema,
  createBankApp,
  createFaultStore,
  ensureFixedAccounts,
  type FaultStore,
  type Faults,
  TEST_ACCOUNT_SECRET,
  TEST_ACCOUNTS,
} from "@careforall/bank";
import { parseConfig, systemClock } from "@careforall/config";
import { createDb, createTestDatabase, type DbHandle, migrate, type TestDatabase } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import { createBreaker } from "@careforall/resilience";
import { adminTokenFor, bankTestFetch, createTestKeys, testServiceIdentity } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import {
  type AuthorizeRequest,
  type AuthorizeResult,
  type BankClient,
  type BankOutcome,
  createBankClient,
} from "../src/bank-client";

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
let database: TestDatabase;
let handle: DbHandle<Record<string, never>>;
let server: ReturnType<typeof Bun.serve>;
let faults: FaultStore;
let api: ReturnType<typeof treaty<BankApp>>;
let client: BankClient;
/** Paths the bank was called on, in order. */
let calls: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase("bank_for_client");
  const bankSrc = dirname(Bun.resolveSync("@careforall/bank", import.meta.dir));
  await migrate({ url: database.url, migrationsFolder: join(bankSrc, "db", "migrations"), schema: "bank" });
  handle = createDb({ url: database.url, schema: {}, max: 12, name: "bank-for-client-test" });
  const db = handle.db as unknown as Parameters<typeof createBankApp>[0]["db"];
  const config = parseConfig("bank", BankConfigSchema, {
    JWT_PUBLIC_KEY: jwtKeys.publicKeyPem,
    NODE_ENV: "test",
    SLOW_ACCOUNT_DELAY_MS: "10",
  });
  faults = createFaultStore({ db, initial: NO_FAULTS });
  await ensureFixedAccounts(db, systemClock, { demoBalanceMinor: config.DEMO_BALANCE_MINOR });
  const app = createBankApp({
    identity: await testServiceIdentity("bank"),
    db,
    clock: systemClock,
    config,
    log: silentLogger("bank-for-client"),
    faults,
  });
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      calls.push(new URL(req.url).pathname);
      return app.fetch(req);
    },
  });
  api = treaty<BankApp>(`http://127.0.0.1:${server.port}`, { parseDate: false, fetcher: bankTestFetch(adminToken) });
  client = createBankClient({
    identity: await testServiceIdentity("payment"),
    url: `http://127.0.0.1:${server.port}`,
    timeoutMs: 3000,
  });
});
beforeEach(async () => {
  await faults.replace(NO_FAULTS);
  calls = [];
});
afterAll(async () => {
  server?.stop(true);
  await handle?.close();
  await database?.drop();
});

async function payer(): Promise<{ accountId: string; grant: string }> {
  const opened = await api.bank.accounts.post({});
  if (!opened.data) throw new Error(`open account: ${opened.status}`);
  const granted = await api.bank.grants.post({
    accountId: opened.data.bankAccountId,
    accountSecret: opened.data.accountSecret,
  });
  if (!granted.data) throw new Error(`grant: ${granted.status}`);
  return { accountId: opened.data.bankAccountId, grant: granted.data.grant };
}

function authorizeRequest(from: { accountId: string; grant: string }, amountMinor = 1000): AuthorizeRequest {
  const key = Bun.randomUUIDv7();
  return {
    idempotencyKey: key,
    ...from,
    amountMinor,
    currency: "BDT",
    campaignId: "client-batch-campaign",
    paymentRef: key,
  };
}

const kinds = (outcomes: BankOutcome<unknown>[]) => outcomes.map((o) => o.kind);
const held = (o: BankOutcome<AuthorizeResult>) => (o.kind === "ok" ? o.value.holdId : null);

describe("authorizeBatch", () => {
  test("one call; one outcome per item in order, each what the single call answers", async () => {
    const a = await payer();
    const declined = {
      accountId: TEST_ACCOUNTS.declined,
      grant: (await api.bank.grants.post({ accountId: TEST_ACCOUNTS.declined, accountSecret: TEST_ACCOUNT_SECRET }))
        .data!.grant,
    };
    const reqs = [authorizeRequest(a, 100), authorizeRequest(declined), authorizeRequest(a, 200)];
    calls = [];
    const outcomes = await client.authorizeBatch!(reqs);
    expect(calls).toEqual(["/bank/authorize/batch"]);
    expect(kinds(outcomes)).toEqual(["ok", "ok", "ok"]);
    expect(outcomes.map((o) => o.kind === "ok" && [o.value.status, o.value.reason, o.value.amountMinor])).toEqual([
      ["held", null, 100],
      ["failed", "declined", 1000],
      ["held", null, 200],
    ]);
    // The single call with the same body is the same request: the stored answer.
    for (const [i, req] of reqs.entries()) expect(await client.authorize(req)).toEqual(outcomes[i]!);
    // And so is the batch again.
    expect(await client.authorizeBatch!(reqs)).toEqual(outcomes);
  });

  test("an item with a reused key and another body is rejected 422; its neighbours are not", async () => {
    const a = await payer();
    const used = authorizeRequest(a, 300);
    await client.authorize(used);
    const outcomes = await client.authorizeBatch!([authorizeRequest(a, 10), { ...used, amountMinor: 301 }]);
    expect(kinds(outcomes)).toEqual(["ok", "rejected"]);
    expect(outcomes[1]).toMatchObject({ kind: "rejected", status: 422, problem: { status: 422 } });
  });

  test("an injected 503 for the whole call → every item unknown, nothing done", async () => {
    const a = await payer();
    await faults.update({ errorRate: 1 });
    const reqs = [authorizeRequest(a), authorizeRequest(a)];
    expect(kinds(await client.authorizeBatch!(reqs))).toEqual(["unknown", "unknown"]);
    await faults.update({ errorRate: 0 });
    for (const req of reqs)
      expect(await client.holdByKey(req.idempotencyKey)).toMatchObject({ kind: "rejected", status: 404 });
  });

  test("a lost response → every item unknown, though the bank did them; the retry gets the stored answers", async () => {
    const a = await payer();
    await faults.update({ lostResponseRate: 1 });
    const reqs = [authorizeRequest(a), authorizeRequest(a)];
    expect(kinds(await client.authorizeBatch!(reqs))).toEqual(["unknown", "unknown"]);
    await faults.update({ lostResponseRate: 0 });
    const retried = await client.authorizeBatch!(reqs);
    expect(kinds(retried)).toEqual(["ok", "ok"]);
    for (const [i, req] of reqs.entries()) {
      const known = await client.holdByKey(req.idempotencyKey);
      expect(known.kind === "ok" && known.value.holdId).toBe(held(retried[i]!));
    }
  });

  test("nobody listening → every item unknown", async () => {
    const a = await payer();
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = probe.port;
    probe.stop(true);
    const away = createBankClient({
      identity: await testServiceIdentity("payment"),
      url: `http://127.0.0.1:${port}`,
      timeoutMs: 1000,
    });
    expect(kinds(await away.authorizeBatch!([authorizeRequest(a), authorizeRequest(a)]))).toEqual([
      "unknown",
      "unknown",
    ]);
  });

  test("a hung bank behind a breaker: after 2 timed-out calls the next fails at once, unknown, without a request", async () => {
    const a = await payer();
    let received = 0;
    const hung = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        received++;
        return new Promise<Response>(() => {});
      },
    });
    try {
      const breaker = createBreaker({ name: "bank", openMs: 60_000, failureThreshold: 2 });
      const guarded = createBankClient({
        identity: await testServiceIdentity("payment"),
        url: `http://127.0.0.1:${hung.port}`,
        timeoutMs: 100,
        breaker,
      });
      for (let i = 0; i < 2; i++) expect((await guarded.authorize(authorizeRequest(a))).kind).toBe("unknown");
      expect(breaker.state()).toBe("open");
      const refused = await guarded.capture({ idempotencyKey: crypto.randomUUID(), holdId: crypto.randomUUID() });
      expect(refused).toMatchObject({ kind: "unknown", error: expect.stringContaining("bank is unavailable") });
      expect(received).toBe(2);
    } finally {
      hung.stop(true);
    }
  });

  test("a batch the bank refuses as a whole (one item fails validation) is asked item by item", async () => {
    const a = await payer();
    const good = authorizeRequest(a, 50);
    const bad = { ...authorizeRequest(a), amountMinor: 0 };
    calls = [];
    const outcomes = await client.authorizeBatch!([good, bad]);
    expect(calls[0]).toBe("/bank/authorize/batch");
    expect(calls.slice(1).sort()).toEqual(["/bank/authorize", "/bank/authorize"]);
    expect(kinds(outcomes)).toEqual(["ok", "rejected"]);
    expect(outcomes[1]).toMatchObject({ status: 400 });
  });

  test("250 items go out as calls of 100, 100 and 50; every item answered in order", async () => {
    const a = await payer();
    const reqs = Array.from({ length: 250 }, () => authorizeRequest(a, 1));
    calls = [];
    const outcomes = await client.authorizeBatch!(reqs);
    expect(calls).toEqual(["/bank/authorize/batch", "/bank/authorize/batch", "/bank/authorize/batch"]);
    expect(outcomes).toHaveLength(250);
    expect(outcomes.every((o) => o.kind === "ok" && o.value.status === "held")).toBe(true);
    const balance = await api.bank["check-balance"].post({ accountId: a.accountId });
    expect(balance.data!.heldMinor).toBe(250);
  });
});

describe("captureBatch", () => {
  test("ok and refused items (409 not held, 404 unknown) in one call, in order", async () => {
    const a = await payer();
    const holds = (await client.authorizeBatch!([authorizeRequest(a, 100), authorizeRequest(a, 100)])).map(held);
    await client.release({ idempotencyKey: `rel-${holds[1]}`, holdId: holds[1]! });
    calls = [];
    const outcomes = await client.captureBatch!([
      { idempotencyKey: `${holds[0]}:capture`, holdId: holds[0]! },
      { idempotencyKey: `${holds[1]}:capture`, holdId: holds[1]! },
      { idempotencyKey: "nothing:capture", holdId: Bun.randomUUIDv7() },
    ]);
    expect(calls).toEqual(["/bank/capture/batch"]);
    expect(kinds(outcomes)).toEqual(["ok", "rejected", "rejected"]);
    expect(outcomes[0]).toMatchObject({ kind: "ok", value: { holdId: holds[0], capturedMinor: 100 } });
    expect(outcomes.slice(1).map((o) => o.kind === "rejected" && o.status)).toEqual([409, 404]);
    // The same capture key again: the stored answer, through either call.
    expect(await client.capture({ idempotencyKey: `${holds[0]}:capture`, holdId: holds[0]! })).toEqual(outcomes[0]!);
  });
});
