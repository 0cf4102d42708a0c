// POST /bank/authorize/batch and /bank/capture/batch: every item is answered exactly as the single
// call with its body would be (idempotent replays, 422 on another body, 404/409 storing nothing),
// the same webhooks and ledger effects, per-item failures never touch their neighbours, holds on
// one account respect its available balance in item order, and concurrent overlapping batches
// with the same keys create each hold once (invariants 1 and 4).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { BatchItemResult } from "../src/batch";
import { accounts, entries, holds, idempotency, transfers, webhookDeliveries } from "../src/db/schema";
import { NO_FAULTS, signGrant } from "../src/domain";
import { TEST_ACCOUNTS, type WebhookPayload } from "../src/ledger";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, expectProblem, startBankTestApp } from "./support";

let h: BankTestApp;
/** Holds the slow test account's answer open while a test looks at what the rest of the batch did. */
let slowGate: Promise<void> | undefined;

beforeAll(async () => {
  h = await startBankTestApp({ sleep: (ms) => slowGate ?? Bun.sleep(Math.min(ms, 50)) });
});
/** Batch calls that left their one transaction for the single path (only the test that forces it may). */
async function fallbacks(): Promise<number> {
  const text = await h.metrics.registry.getSingleMetricAsString("careforall_bank_batch_fallbacks_total");
  return [...text.matchAll(/^careforall_bank_batch_fallbacks_total\{[^}]*\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}
let expectedFallbacks = 0;

beforeEach(async () => {
  await h.faults.replace(NO_FAULTS);
  h.setRandom(Math.random);
});
afterEach(async () => {
  // Every answer above came from the one-transaction path, not from the single-item fallback.
  expect(await fallbacks()).toBe(expectedFallbacks);
});
afterAll(async () => {
  await h.faults.replace(NO_FAULTS);
  await h.expectLedgerBalanced();
  await h.stop();
});

type AuthorizeItem = BatchItemResult<BankModel.AuthorizeResult>;
type CaptureItem = BatchItemResult<BankModel.CaptureResult>;

const authorizeBatch = async (items: unknown[]) =>
  (await h.json<{ results: AuthorizeItem[] }>("POST", "/bank/authorize/batch", { items })).results;
const captureBatch = async (items: unknown[]) =>
  (await h.json<{ results: CaptureItem[] }>("POST", "/bank/capture/batch", { items })).results;

/** The same answer, as a stored one replayed. */
const asReplay = <T>(r: BatchItemResult<T>): BatchItemResult<T> => (r.ok ? { ...r, replayed: true } : r);

/** The single call's answer in the batch item's shape. */
async function single<T>(path: string, body: unknown): Promise<BatchItemResult<T>> {
  const res = await h.call("POST", path, body);
  if (res.status === 200)
    return {
      ok: true,
      status: 200,
      body: (await res.json()) as T,
      replayed: res.headers.get("idempotent-replayed") === "true",
    };
  return { ok: false, status: res.status, problem: (await res.json()) as never };
}

async function webhooksOf(paymentRefs: string[]) {
  const rows = await h.db.select().from(webhookDeliveries).orderBy(asc(webhookDeliveries.id));
  return rows.map((r) => r.payload as unknown as WebhookPayload).filter((p) => paymentRefs.includes(p.data.paymentRef));
}

async function heldOn(accountId: string) {
  return h.db.select().from(holds).where(eq(holds.accountId, accountId));
}

/**
 * A world of accounts for one side of a comparison: a payer with 1,000 BDT, one with 500 USD, and
 * campaign ids of its own (campaign accounts are shared by everyone, so each world names its own).
 */
async function world(tag: string) {
  const bdt = await h.accountWith(1000);
  const usd = await h.accountWith(500, "USD");
  const declinedGrant = await h.grantFor(TEST_ACCOUNTS.declined);
  const insufficientGrant = await h.grantFor(TEST_ACCOUNTS.insufficient);
  const forged = (accountId: string) =>
    signGrant(h.config.GRANT_SECRET, accountId, Math.floor(h.clock.now() / 1000) + 3600);
  const campaign = (n: number) => `batch-${tag}-c${n}`;
  const ref = (n: number) => `${tag}-pay-${n}-${Bun.randomUUIDv7()}`;
  const items = [
    authorizeBody({ ...bdt, amountMinor: 400, campaignId: campaign(1), paymentRef: ref(1) }),
    authorizeBody({ ...bdt, amountMinor: 400, campaignId: campaign(1), paymentRef: ref(2) }),
    // The third hold on the same account no longer fits (1,000 available).
    authorizeBody({ ...bdt, amountMinor: 400, campaignId: campaign(1), paymentRef: ref(3) }),
    // …but a smaller one after it still does, as a single call after those would.
    authorizeBody({ ...bdt, amountMinor: 200, campaignId: campaign(2), paymentRef: ref(4) }),
    authorizeBody({
      accountId: TEST_ACCOUNTS.declined,
      grant: declinedGrant,
      campaignId: campaign(1),
      paymentRef: ref(5),
    }),
    authorizeBody({
      accountId: TEST_ACCOUNTS.insufficient,
      grant: insufficientGrant,
      campaignId: campaign(1),
      paymentRef: ref(6),
    }),
    // A grant for another account.
    authorizeBody({ accountId: bdt.accountId, grant: usd.grant, campaignId: campaign(1), paymentRef: ref(7) }),
    authorizeBody({ ...bdt, currency: "USD", campaignId: campaign(1), paymentRef: ref(8) }),
    // A new campaign account takes the currency of its first pledge (USD here)…
    authorizeBody({ ...usd, amountMinor: 100, currency: "USD", campaignId: campaign(3), paymentRef: ref(9) }),
    // …and a campaign account in BDT refuses USD.
    authorizeBody({ ...usd, amountMinor: 100, currency: "USD", campaignId: campaign(1), paymentRef: ref(10) }),
    // Validly signed grants for accounts that cannot pay: a system account, one that does not exist.
    authorizeBody({ accountId: "acct_system_bdt", grant: forged("acct_system_bdt"), paymentRef: ref(11) }),
    authorizeBody({ accountId: "acct_nobody", grant: forged("acct_nobody"), paymentRef: ref(12) }),
  ];
  return { bdt, usd, items, campaign };
}

/** What an answer says, without the ids that differ between two worlds. */
const comparable = (r: AuthorizeItem) =>
  r.ok ? { ...r, body: { ...r.body, holdId: r.body.holdId === null ? null : "<hold>" } } : r;

async function stateOf(w: Awaited<ReturnType<typeof world>>) {
  const refs = w.items.map((i) => i.paymentRef);
  const hooks = (await webhooksOf(refs)).map((p) => ({
    type: p.type,
    ref: refs.indexOf(p.data.paymentRef),
    data: { ...p.data, paymentRef: "<ref>", holdId: p.data.holdId === null ? null : "<hold>" },
  }));
  const balance = async (id: string) => {
    const a = await h.account(id);
    return a ? { balanceMinor: a.balanceMinor, heldMinor: a.heldMinor, currency: a.currency } : null;
  };
  const campaigns = [];
  for (const n of [1, 2, 3]) {
    const [row] = await h.db
      .select()
      .from(accounts)
      .where(and(eq(accounts.ownerType, "campaign"), eq(accounts.ownerId, w.campaign(n))));
    campaigns.push(row ? { currency: row.currency, balanceMinor: row.balanceMinor } : null);
  }
  const keys = await h.db
    .select({ key: idempotency.key, statusCode: idempotency.statusCode })
    .from(idempotency)
    .where(
      inArray(
        idempotency.key,
        w.items.map((i) => i.idempotencyKey),
      ),
    );
  return {
    hooks: hooks.sort((a, b) => a.ref - b.ref),
    bdt: await balance(w.bdt.accountId),
    usd: await balance(w.usd.accountId),
    campaigns,
    holds: (await heldOn(w.bdt.accountId)).length + (await heldOn(w.usd.accountId)).length,
    stored: keys.length,
    storedAll200: keys.every((k) => k.statusCode === 200),
  };
}

describe("authorize batch = the single calls, item by item", () => {
  test("a mixed batch answers, queues webhooks and holds exactly what the same single calls do", async () => {
    const alone = await world("single");
    const singles: AuthorizeItem[] = [];
    for (const item of alone.items) singles.push(await single("/bank/authorize", item));
    const batched = await world("batch");
    const results = await authorizeBatch(batched.items);

    expect(results.map(comparable)).toEqual(singles.map(comparable));
    expect(results.map((r) => (r.ok ? (r.body.reason ?? r.body.status) : r.status))).toEqual([
      "held",
      "held",
      "insufficient_funds",
      "held",
      "declined",
      "insufficient_funds",
      "invalid_grant",
      "currency_mismatch",
      "held",
      "currency_mismatch",
      "invalid_grant",
      "invalid_grant",
    ]);
    expect(await stateOf(batched)).toEqual(await stateOf(alone));
    const state = await stateOf(batched);
    expect(state.bdt).toEqual({ balanceMinor: 1000, heldMinor: 1000, currency: "BDT" });
    expect(state.usd).toEqual({ balanceMinor: 500, heldMinor: 100, currency: "USD" });
    expect(state.hooks).toHaveLength(12);
    expect(state.stored).toBe(12);
    expect(state.storedAll200).toBe(true);

    // Each stored answer is what the reconciler reads by key.
    for (const [i, item] of batched.items.entries()) {
      const byKey = await h.json<BankModel.AuthorizeResult>("GET", `/bank/holds/by-key/${item.idempotencyKey}`);
      expect(byKey).toEqual((results[i] as Extract<AuthorizeItem, { ok: true }>).body);
    }
  });

  test("the same batch again → every item replayed with its stored answer; nothing new anywhere", async () => {
    const w = await world("replay");
    const first = await authorizeBatch(w.items);
    const before = await stateOf(w);
    const webhooksBefore = (await h.db.select().from(webhookDeliveries)).length;
    const again = await authorizeBatch(w.items);
    expect(again).toEqual(first.map(asReplay));
    expect(await stateOf(w)).toEqual(before);
    expect((await h.db.select().from(webhookDeliveries)).length).toBe(webhooksBefore);
  });

  test("a batch item and a single call with the same key and body are one request, whichever came first", async () => {
    const a = await h.accountWith(5000);
    const viaBatch = authorizeBody({ ...a, amountMinor: 300 });
    const [batched] = await authorizeBatch([viaBatch]);
    // Another key order is still the same body.
    const reordered = Object.fromEntries(Object.entries(viaBatch).reverse());
    expect(await single("/bank/authorize", reordered)).toEqual(asReplay(batched!));

    const viaSingle = authorizeBody({ ...a, amountMinor: 200 });
    const alone = await single<BankModel.AuthorizeResult>("/bank/authorize", viaSingle);
    expect(alone.ok && !alone.replayed).toBe(true);
    const [replayed] = await authorizeBatch([viaSingle]);
    expect(replayed).toEqual(asReplay(alone));
    expect(await heldOn(a.accountId)).toHaveLength(2);
    expect((await h.account(a.accountId))!.heldMinor).toBe(500);
  });

  test("same key with another body → that item 422, its neighbours unaffected", async () => {
    const a = await h.accountWith(5000);
    const used = authorizeBody({ ...a, amountMinor: 300 });
    await authorizeBatch([used]);
    const neighbours = [authorizeBody({ ...a, amountMinor: 100 }), authorizeBody({ ...a, amountMinor: 200 })];
    const results = await authorizeBatch([neighbours[0], { ...used, amountMinor: 301 }, neighbours[1]]);
    expect(results[1]).toMatchObject({ ok: false, status: 422, problem: { status: 422 } });
    expect((results[1] as { problem: { type: string } }).problem.type).toEndWith("idempotency-key-reused");
    expect(results[0]).toMatchObject({ ok: true, replayed: false, body: { status: "held", amountMinor: 100 } });
    expect(results[2]).toMatchObject({ ok: true, replayed: false, body: { status: "held", amountMinor: 200 } });
    expect((await h.account(a.accountId))!.heldMinor).toBe(600);
    const [stored] = await h.db.select().from(idempotency).where(eq(idempotency.key, used.idempotencyKey));
    expect((stored!.response as BankModel.AuthorizeResult).amountMinor).toBe(300);
  });

  test("a key repeated inside one batch: the later item is a replay (same body) or 422 (other body)", async () => {
    const a = await h.accountWith(5000);
    const body = authorizeBody({ ...a, amountMinor: 250 });
    const results = await authorizeBatch([body, body, { ...body, amountMinor: 251 }]);
    expect(results[0]).toMatchObject({ ok: true, replayed: false });
    expect(results[1]).toEqual(asReplay(results[0]!));
    expect(results[2]).toMatchObject({ ok: false, status: 422 });
    expect(await heldOn(a.accountId)).toHaveLength(1);
    expect((await h.account(a.accountId))!.heldMinor).toBe(250);
  });

  test("holds on one account respect balance − held in item order: the 3rd of 3 fails, nothing overdraws", async () => {
    const a = await h.accountWith(1000);
    // Already 100 held by an earlier single call.
    await single("/bank/authorize", authorizeBody({ ...a, amountMinor: 100 }));
    const items = [1, 2, 3].map(() => authorizeBody({ ...a, amountMinor: 450 }));
    const results = await authorizeBatch(items);
    expect(results.map((r) => r.ok && r.body.status)).toEqual(["held", "held", "failed"]);
    expect(results[2]).toMatchObject({ ok: true, body: { reason: "insufficient_funds", holdId: null } });
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 1000, heldMinor: 1000 });
    expect((await webhooksOf(items.map((i) => i.paymentRef))).map((p) => p.type)).toEqual([
      "hold.authorized",
      "hold.authorized",
      "hold.failed",
    ]);
  });

  test("concurrent overlapping batches (and single calls) with the same keys create each hold once", async () => {
    const payers = await Promise.all([h.accountWith(100_000), h.accountWith(100_000), h.accountWith(2_000)]);
    const bodies = Array.from({ length: 30 }, (_, n) =>
      authorizeBody({ ...payers[n % 3]!, amountMinor: 100 + n, campaignId: `overlap-${n % 4}` }),
    );
    const webhooksBefore = (await h.db.select().from(webhookDeliveries)).length;
    // Ten batches over sliding, overlapping windows, in shuffled item orders, plus single calls.
    const batches = Array.from({ length: 10 }, (_, b) => {
      const window = Array.from({ length: 12 }, (_, k) => bodies[(b * 3 + k) % bodies.length]!);
      return b % 2 ? window.reverse() : window;
    });
    const [batchAnswers, singleAnswers] = await Promise.all([
      Promise.all(batches.map((items) => authorizeBatch(items))),
      Promise.all(
        bodies.filter((_, n) => n % 5 === 0).map((body) => single<BankModel.AuthorizeResult>("/bank/authorize", body)),
      ),
    ]);
    const keys = bodies.map((b) => b.idempotencyKey);
    const rows = await h.db.select().from(holds).where(inArray(holds.idempotencyKey, keys));
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((r) => r.idempotencyKey)).size).toBe(30);
    // Every answer for a key is the same answer; exactly one of them did the work.
    const byKey = new Map<string, AuthorizeItem[]>();
    const answered = (key: string, answer: AuthorizeItem) => byKey.set(key, [...(byKey.get(key) ?? []), answer]);
    for (const [b, items] of batches.entries())
      for (const [i, item] of items.entries()) answered(item.idempotencyKey, batchAnswers[b]![i]!);
    for (const [i, body] of bodies.filter((_, n) => n % 5 === 0).entries())
      answered(body.idempotencyKey, singleAnswers[i]!);
    for (const [, answers] of byKey) {
      expect(answers.every((a) => a.ok)).toBe(true);
      const bodiesOf = answers.map((a) => JSON.stringify((a as { body: unknown }).body));
      expect(new Set(bodiesOf).size).toBe(1);
      expect(answers.filter((a) => a.ok && !a.replayed)).toHaveLength(1);
    }
    for (const payer of payers) {
      const held = rows.filter((r) => r.accountId === payer.accountId).reduce((s, r) => s + r.amountMinor, 0);
      expect((await h.account(payer.accountId))!.heldMinor).toBe(held);
    }
    expect((await h.db.select().from(webhookDeliveries)).length - webhooksBefore).toBe(30);
  });

  test("the slow test account answers late but does not hold up the rest of the batch", async () => {
    let open!: () => void;
    slowGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      const a = await h.accountWith(5000);
      const slowGrant = await h.grantFor(TEST_ACCOUNTS.slow);
      const slowBody = authorizeBody({ accountId: TEST_ACCOUNTS.slow, grant: slowGrant, amountMinor: 700 });
      const fastBody = authorizeBody({ ...a, amountMinor: 300 });
      const pending = authorizeBatch([slowBody, fastBody]);
      // The fast item commits while the slow one still waits.
      await waitFor(async () => (await heldOn(a.accountId)).length === 1, { what: "the fast item's hold" });
      expect(await h.db.select().from(holds).where(eq(holds.idempotencyKey, slowBody.idempotencyKey))).toHaveLength(0);
      open();
      const results = await pending;
      expect(results.map((r) => r.ok && r.body.status)).toEqual(["held", "held"]);
      expect(h.sleeps).toContain(h.config.SLOW_ACCOUNT_DELAY_MS);
    } finally {
      slowGate = undefined;
      open();
    }
  });

  test("schema: 1..100 items, each as the single route validates it (400, nothing stored)", async () => {
    const a = await h.accountWith(5000);
    await expectProblem(await h.call("POST", "/bank/authorize/batch", { items: [] }), 400);
    const many = Array.from({ length: 101 }, () => authorizeBody({ ...a, amountMinor: 1 }));
    await expectProblem(await h.call("POST", "/bank/authorize/batch", { items: many }), 400);
    const good = authorizeBody({ ...a, amountMinor: 10 });
    const bad = { ...authorizeBody({ ...a }), amountMinor: -5 };
    await expectProblem(await h.call("POST", "/bank/authorize/batch", { items: [good, bad] }), 400);
    expect(await h.db.select().from(idempotency).where(eq(idempotency.key, good.idempotencyKey))).toHaveLength(0);
    const hundred = Array.from({ length: 100 }, () => authorizeBody({ ...a, amountMinor: 1 }));
    expect(await authorizeBatch(hundred)).toHaveLength(100);
  });
});

describe("fault knobs apply per batch call", () => {
  test("errorRate 1 → 503 and no item did anything", async () => {
    const a = await h.accountWith(5000);
    await h.faults.update({ errorRate: 1 });
    const items = [authorizeBody({ ...a, amountMinor: 100 }), authorizeBody({ ...a, amountMinor: 200 })];
    await expectProblem(await h.call("POST", "/bank/authorize/batch", { items }), 503);
    await h.faults.update({ errorRate: 0 });
    expect(await heldOn(a.accountId)).toHaveLength(0);
    expect(
      await h.db
        .select()
        .from(idempotency)
        .where(
          inArray(
            idempotency.key,
            items.map((i) => i.idempotencyKey),
          ),
        ),
    ).toHaveLength(0);
  });

  test("lostResponseRate 1 → 5xx after every item committed; the retry replays them all", async () => {
    const a = await h.accountWith(5000);
    const items = [authorizeBody({ ...a, amountMinor: 100 }), authorizeBody({ ...a, amountMinor: 200 })];
    await h.faults.update({ lostResponseRate: 1 });
    const lost = await h.call("POST", "/bank/authorize/batch", { items });
    expect([500, 502]).toContain(lost.status);
    await h.faults.update({ lostResponseRate: 0 });
    expect(await heldOn(a.accountId)).toHaveLength(2);
    const retry = await authorizeBatch(items);
    expect(retry.every((r) => r.ok && r.replayed)).toBe(true);
    expect((await h.account(a.accountId))!.heldMinor).toBe(300);
  });

  test("latencyMs is waited once per batch call", async () => {
    const a = await h.accountWith(5000);
    await h.faults.update({ latencyMs: 1234 });
    const before = h.sleeps.filter((ms) => ms === 1234).length;
    await authorizeBatch([authorizeBody({ ...a }), authorizeBody({ ...a })]);
    expect(h.sleeps.filter((ms) => ms === 1234).length - before).toBe(1);
  });
});

describe("capture batch = the single calls, item by item", () => {
  /** Holds to capture: `count` on one payer, for one campaign. */
  async function heldHolds(count: number, amountMinor = 500, campaignId = `capture-${Bun.randomUUIDv7()}`) {
    const a = await h.accountWith(amountMinor * count);
    const ids: string[] = [];
    for (let n = 0; n < count; n++) {
      const [r] = await authorizeBatch([authorizeBody({ ...a, amountMinor, campaignId })]);
      ids.push((r as { body: BankModel.AuthorizeResult }).body.holdId!);
    }
    return { account: a, ids, campaignId };
  }

  /** Builds the same situation twice and compares the single calls with one batch call. */
  async function scenario() {
    const { account, ids, campaignId } = await heldHolds(6);
    // ids[3] is released and ids[4] already captured (under another key) before the batch.
    await single("/bank/release", { idempotencyKey: `rel-${ids[3]}`, holdId: ids[3] });
    await single("/bank/capture", { idempotencyKey: `cap-first-${ids[4]}`, holdId: ids[4] });
    const items = [
      { idempotencyKey: `cap-${ids[0]}`, holdId: ids[0] },
      { idempotencyKey: `cap-${ids[1]}`, holdId: ids[1], amountMinor: 200 },
      { idempotencyKey: `cap-${ids[2]}`, holdId: ids[2], amountMinor: 501 },
      { idempotencyKey: `cap-${ids[3]}`, holdId: ids[3] },
      { idempotencyKey: `cap-${ids[4]}`, holdId: ids[4] },
      { idempotencyKey: `cap-missing-${ids[5]}`, holdId: Bun.randomUUIDv7() },
      { idempotencyKey: `cap-${ids[5]}`, holdId: ids[5] },
    ];
    return { account, ids, campaignId, items };
  }

  const comparableCapture = (r: CaptureItem) =>
    r.ok
      ? { ...r, body: { ...r.body, holdId: "<hold>", transferId: "<transfer>" } }
      : { ...r, problem: { ...r.problem, detail: "<detail>" } };

  async function effects(s: Awaited<ReturnType<typeof scenario>>) {
    const campaign = await h.db.query.accounts.findFirst({
      where: and(eq(accounts.ownerType, "campaign"), eq(accounts.ownerId, s.campaignId)),
    });
    const payer = await h.account(s.account.accountId);
    const refs = (await h.db.select().from(holds).where(inArray(holds.id, s.ids))).map((r) => r.paymentRef);
    const hooks = (await webhooksOf(refs)).map((p) => [p.type, p.data.amountMinor, p.data.status]);
    const entriesOf = async (accountId: string) =>
      (
        await h.db
          .select({ amount: entries.amountMinor, after: entries.balanceAfterMinor })
          .from(entries)
          .where(eq(entries.accountId, accountId))
          .orderBy(asc(entries.id))
      ).map((e) => [e.amount, e.after]);
    const stored = await h.db
      .select({ key: idempotency.key })
      .from(idempotency)
      .where(
        and(
          eq(idempotency.operation, "capture"),
          inArray(
            idempotency.key,
            s.items.map((i) => i.idempotencyKey),
          ),
        ),
      );
    return {
      payer: { balanceMinor: payer!.balanceMinor, heldMinor: payer!.heldMinor },
      campaign: { balanceMinor: campaign!.balanceMinor },
      hooks,
      payerEntries: await entriesOf(s.account.accountId),
      campaignEntries: await entriesOf(campaign!.id),
      holds: (await h.db.select().from(holds).where(inArray(holds.id, s.ids)))
        .sort((a, b) => s.ids.indexOf(a.id) - s.ids.indexOf(b.id))
        .map((r) => [r.status, r.capturedMinor]),
      stored: stored.length,
    };
  }

  test("full, partial, over-amount, released, already captured, unknown: answers and ledger as the single calls", async () => {
    const alone = await scenario();
    const singles: CaptureItem[] = [];
    for (const item of alone.items) singles.push(await single("/bank/capture", item));
    const batched = await scenario();
    const results = await captureBatch(batched.items);

    expect(results.map(comparableCapture)).toEqual(singles.map(comparableCapture));
    expect(results.map((r) => r.status)).toEqual([200, 200, 409, 409, 409, 404, 200]);
    expect(results.map((r) => (r.ok ? r.body.capturedMinor : (r.problem.type.split("/").pop() ?? "")))).toEqual([
      500,
      200,
      "amount-exceeds-hold",
      "hold-not-held",
      "hold-not-held",
      "not-found",
      500,
    ]);
    const [batchEffects, singleEffects] = [await effects(batched), await effects(alone)];
    expect(batchEffects).toEqual(singleEffects);
    // 6 × 500 funded; 500 + 200 + 500 captured now, 500 before; 500 released; ids[2] still held.
    expect(batchEffects.payer).toEqual({ balanceMinor: 3000 - 1700, heldMinor: 500 });
    expect(batchEffects.campaign).toEqual({ balanceMinor: 1700 });
    // The refused items stored nothing (their keys stay free), the captured ones their answers.
    expect(batchEffects.stored).toBe(3);
    // Running balances: each entry's balance-after follows from the one before it.
    for (const list of [batchEffects.payerEntries, batchEffects.campaignEntries]) {
      for (let n = 1; n < list.length; n++) expect(list[n]![1]).toBe(list[n - 1]![1]! + list[n]![0]!);
    }
  });

  test("a refused item stores nothing: once the hold can be captured, the same key captures it", async () => {
    const { ids } = await heldHolds(2);
    const items = [
      { idempotencyKey: `ok-${ids[0]}`, holdId: ids[0] },
      { idempotencyKey: `late-${ids[1]}`, holdId: ids[1], amountMinor: 9999 },
    ];
    const first = await captureBatch(items);
    expect(first.map((r) => r.status)).toEqual([200, 409]);
    // The same key with another body is not a 422: nothing was stored under it.
    const [fixed] = await captureBatch([{ ...items[1]!, amountMinor: 100 }]);
    expect(fixed).toMatchObject({ ok: true, replayed: false, body: { capturedMinor: 100 } });
    const again = await captureBatch(items);
    expect(again[0]).toEqual(asReplay(first[0]!));
    expect(again[1]).toMatchObject({ ok: false, status: 422 });
  });

  test("one hold twice in a batch (two keys): the first captures, the second is refused like a second single call", async () => {
    const { ids, account } = await heldHolds(1);
    const results = await captureBatch([
      { idempotencyKey: `a-${ids[0]}`, holdId: ids[0] },
      { idempotencyKey: `b-${ids[0]}`, holdId: ids[0] },
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 409]);
    expect(await h.db.select().from(transfers).where(eq(transfers.holdId, ids[0]!))).toHaveLength(1);
    expect(await h.account(account.accountId)).toMatchObject({ balanceMinor: 0, heldMinor: 0 });
  });

  test("concurrent overlapping capture batches with the same keys: each hold captured once, one transfer each", async () => {
    const { ids, account, campaignId } = await heldHolds(20, 100);
    const items = ids.map((holdId) => ({ idempotencyKey: `${holdId}:capture`, holdId }));
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, b) => captureBatch(items.slice((b * 3) % 12, ((b * 3) % 12) + 9))),
    );
    await captureBatch(items);
    const flat = answers.flat();
    expect(flat.every((r) => r.ok)).toBe(true);
    const rows = await h.db.select().from(transfers).where(inArray(transfers.holdId, ids));
    expect(rows).toHaveLength(20);
    expect(await h.account(account.accountId)).toMatchObject({ balanceMinor: 0, heldMinor: 0 });
    const campaign = await h.db.query.accounts.findFirst({
      where: and(eq(accounts.ownerType, "campaign"), eq(accounts.ownerId, campaignId)),
    });
    expect(campaign!.balanceMinor).toBe(2000);
    const [sum] = await h.db.select({ n: sql<string>`sum(${entries.amountMinor})::text` }).from(entries);
    expect(sum!.n).toBe("0");
  });
});

describe("the single-item fallback", () => {
  test("when the one transaction fails, every item of it is answered by the single path, in item order", async () => {
    // A statement-level trigger that refuses any multi-row insert of these test holds: the batch
    // transaction fails, the single calls (one row each) pass.
    await h.db.execute(sql`
      create or replace function bank.refuse_multi_row_holds() returns trigger language plpgsql as $$
      begin
        if (select count(*) from new_rows where payment_ref like 'fallback-%') > 1 then
          raise exception 'multi-row insert refused by the test';
        end if;
        return null;
      end $$`);
    await h.db.execute(sql`
      create trigger refuse_multi_row_holds after insert on bank.holds
      referencing new table as new_rows for each statement execute function bank.refuse_multi_row_holds()`);
    try {
      const a = await h.accountWith(1000);
      const used = authorizeBody({ ...a, amountMinor: 100, paymentRef: `fallback-${Bun.randomUUIDv7()}` });
      await single("/bank/authorize", used);
      const items = [
        used,
        authorizeBody({ ...a, amountMinor: 500, paymentRef: `fallback-${Bun.randomUUIDv7()}` }),
        { ...used, amountMinor: 101 },
        authorizeBody({ ...a, amountMinor: 300, paymentRef: `fallback-${Bun.randomUUIDv7()}` }),
        authorizeBody({ ...a, amountMinor: 300, paymentRef: `fallback-${Bun.randomUUIDv7()}` }),
      ];
      const results = await authorizeBatch(items);
      expectedFallbacks += 1;
      expect(await fallbacks()).toBe(expectedFallbacks);
      expect(results.map((r) => (r.ok ? [r.body.status, r.replayed] : r.status))).toEqual([
        ["held", true],
        ["held", false],
        422,
        ["held", false],
        ["failed", false],
      ]);
      expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 1000, heldMinor: 900 });
    } finally {
      await h.db.execute(sql`drop trigger refuse_multi_row_holds on bank.holds`);
    }
  });
});
