// Tries to break invariants 1 and 4 at the bank: concurrent holds on one account never overdraw,
// one key is one hold whatever the concurrency, a lost response leaves a hold the retry finds,
// an injected 503 writes nothing, and the fault knobs are validated and counted.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { holds, idempotency, webhookDeliveries } from "../src/db/schema";
import { NO_FAULTS } from "../src/domain";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, expectProblem, scripted, startBankTestApp } from "./support";

let h: BankTestApp;

beforeAll(async () => {
  h = await startBankTestApp();
});
beforeEach(async () => {
  await h.faults.replace(NO_FAULTS);
  h.setRandom(Math.random);
});
afterAll(async () => {
  await h.faults.replace(NO_FAULTS);
  await h.expectLedgerBalanced();
  await h.stop();
});

const count = async (table: typeof holds | typeof webhookDeliveries | typeof idempotency) =>
  (await h.db.select({ n: sql<number>`count(*)::int` }).from(table))[0]!.n;

describe("concurrency", () => {
  test("50 concurrent holds of 100 on 1,000 available → exactly 10 held, 40 insufficient_funds, never overdrawn", async () => {
    const a = await h.accountWith(1000);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        h.json<BankModel.AuthorizeResult>(
          "POST",
          "/bank/authorize",
          authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 100 }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === "held")).toHaveLength(10);
    const failed = results.filter((r) => r.status === "failed");
    expect(failed).toHaveLength(40);
    expect(failed.every((r) => r.reason === "insufficient_funds" && r.holdId === null)).toBe(true);
    const row = (await h.account(a.accountId))!;
    expect(row).toMatchObject({ balanceMinor: 1000, heldMinor: 1000 });
    expect(row.balanceMinor - row.heldMinor).toBe(0);
    const held = await h.db.select().from(holds).where(eq(holds.accountId, a.accountId));
    expect(held).toHaveLength(10);
  });

  test("concurrent captures and releases of the same hold: exactly one wins", async () => {
    const a = await h.accountWith(1000);
    const held = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 600 }),
    );
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.call("POST", i % 2 ? "/bank/capture" : "/bank/release", { idempotencyKey: `race-${i}`, holdId: held.holdId }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    const row = (await h.account(a.accountId))!;
    expect(row.heldMinor).toBe(0);
    expect([400, 1000]).toContain(row.balanceMinor);
  });
});

describe("idempotency", () => {
  test("same key + same body twice → one hold, identical answers, the second replayed", async () => {
    const a = await h.accountWith(5000);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 300 });
    const first = await h.call("POST", "/bank/authorize", body);
    // Same body in another key order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const second = await h.call("POST", "/bank/authorize", reordered);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await first.json());
    expect(await h.db.select().from(holds).where(eq(holds.idempotencyKey, body.idempotencyKey))).toHaveLength(1);
    expect((await h.account(a.accountId))!.heldMinor).toBe(300);
  });

  test("20 concurrent requests with one key → one hold, 20 identical answers, 19 replayed", async () => {
    const a = await h.accountWith(5000);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 250 });
    const webhooksBefore = await count(webhookDeliveries);
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.call("POST", "/bank/authorize", body)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
    expect(await h.db.select().from(holds).where(eq(holds.idempotencyKey, body.idempotencyKey))).toHaveLength(1);
    expect((await h.account(a.accountId))!.heldMinor).toBe(250);
    expect((await count(webhookDeliveries)) - webhooksBefore).toBe(1);
  });

  test("same key, different amount → 422 problem, nothing changes", async () => {
    const a = await h.accountWith(5000);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 300 });
    await h.json("POST", "/bank/authorize", body);
    const problem = await expectProblem(await h.call("POST", "/bank/authorize", { ...body, amountMinor: 301 }), 422);
    expect(problem.type).toEndWith("idempotency-key-reused");
    expect((await h.account(a.accountId))!.heldMinor).toBe(300);
  });

  test("a failed authorization is stored too: its retry replays the failure", async () => {
    const a = await h.accountWith(100);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 300 });
    const first = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
    expect(first.reason).toBe("insufficient_funds");
    const res = await h.call("POST", "/bank/authorize", body);
    expect(res.headers.get("idempotent-replayed")).toBe("true");
    expect(await res.json()).toEqual(first);
    expect(await h.json("GET", `/bank/holds/by-key/${body.idempotencyKey}`)).toEqual(first);
  });
});

describe("faults", () => {
  test("lostResponseRate = 1: the hold is made but the caller gets 5xx; the retry with the same key finds it", async () => {
    const a = await h.accountWith(5000);
    await h.json("PUT", "/bank/faults", { lostResponseRate: 1 });
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 400 });
    const lost = await h.call("POST", "/bank/authorize", body);
    expect([500, 502]).toContain(lost.status);
    expect(lost.headers.get("content-type")).toBe("application/problem+json");
    const [row] = await h.db.select().from(holds).where(eq(holds.idempotencyKey, body.idempotencyKey));
    expect(row).toMatchObject({ status: "held", amountMinor: 400 });

    await h.json("PUT", "/bank/faults", { lostResponseRate: 0 });
    const retry = await h.call("POST", "/bank/authorize", body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const result = (await retry.json()) as BankModel.AuthorizeResult;
    expect(result.holdId).toBe(row!.id);
    expect(await h.db.select().from(holds).where(eq(holds.idempotencyKey, body.idempotencyKey))).toHaveLength(1);
    expect((await h.account(a.accountId))!.heldMinor).toBe(400);
    expect((await h.json<BankModel.AuthorizeResult>("GET", `/bank/holds/by-key/${body.idempotencyKey}`)).holdId).toBe(
      row!.id,
    );
  });

  test("a lost capture response: the capture happened; its retry replays it", async () => {
    const a = await h.accountWith(5000);
    const held = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 400 }),
    );
    await h.faults.update({ lostResponseRate: 1 });
    const body = { idempotencyKey: "lost-capture", holdId: held.holdId };
    expect((await h.call("POST", "/bank/capture", body)).status).toBeGreaterThanOrEqual(500);
    expect((await h.json<BankModel.Hold>("GET", `/bank/holds/${held.holdId}`)).status).toBe("captured");
    await h.faults.update({ lostResponseRate: 0 });
    const retry = await h.call("POST", "/bank/capture", body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect((await h.account(a.accountId))!.balanceMinor).toBe(4600);
  });

  test("errorRate = 1 → 503 on every money route and nothing is written", async () => {
    const a = await h.accountWith(5000);
    const held = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 400 }),
    );
    await h.json("PUT", "/bank/faults", { errorRate: 1 });
    const before = { holds: await count(holds), hooks: await count(webhookDeliveries), keys: await count(idempotency) };
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 100 });
    await expectProblem(await h.call("POST", "/bank/authorize", body), 503);
    await expectProblem(await h.call("POST", "/bank/capture", { idempotencyKey: "e-c", holdId: held.holdId }), 503);
    await expectProblem(await h.call("POST", "/bank/release", { idempotencyKey: "e-r", holdId: held.holdId }), 503);
    await expectProblem(await h.call("POST", "/bank/refund", { idempotencyKey: "e-f", holdId: held.holdId }), 503);
    expect({
      holds: await count(holds),
      hooks: await count(webhookDeliveries),
      keys: await count(idempotency),
    }).toEqual(before);
    expect((await h.account(a.accountId))!.heldMinor).toBe(400);
    await expectProblem(await h.call("GET", `/bank/holds/by-key/${body.idempotencyKey}`), 404);
    // Reads are not chaos targets.
    expect((await h.call("POST", "/bank/check-balance", { accountId: a.accountId })).status).toBe(200);
  });

  test("a fractional errorRate follows the injected randomness", async () => {
    const a = await h.accountWith(5000);
    await h.faults.update({ errorRate: 0.5 });
    h.setRandom(scripted([0.1, 0.9]));
    expect(
      (await h.call("POST", "/bank/authorize", authorizeBody({ accountId: a.accountId, grant: a.grant }))).status,
    ).toBe(503);
    expect(
      (await h.call("POST", "/bank/authorize", authorizeBody({ accountId: a.accountId, grant: a.grant }))).status,
    ).toBe(200);
  });

  test("latencyMs delays money calls through the injected sleep", async () => {
    const a = await h.accountWith(5000);
    await h.faults.update({ latencyMs: 1234 });
    const before = h.sleeps.length;
    expect(
      (await h.call("POST", "/bank/authorize", authorizeBody({ accountId: a.accountId, grant: a.grant }))).status,
    ).toBe(200);
    expect(h.sleeps.slice(before)).toEqual([1234]);
  });

  test("GET/PUT /bank/faults: partial updates merge, out-of-range values → 400", async () => {
    expect(await h.json("GET", "/bank/faults")).toEqual(NO_FAULTS);
    const updated = await h.json("PUT", "/bank/faults", { webhookReorder: true, webhookDropRate: 0.25 });
    expect(updated).toEqual({ ...NO_FAULTS, webhookReorder: true, webhookDropRate: 0.25 });
    expect(await h.json("PUT", "/bank/faults", { latencyMs: 10 })).toEqual({
      ...NO_FAULTS,
      webhookReorder: true,
      webhookDropRate: 0.25,
      latencyMs: 10,
    });
    await expectProblem(await h.call("PUT", "/bank/faults", { errorRate: 1.5 }), 400);
    await expectProblem(await h.call("PUT", "/bank/faults", { lostResponseRate: -0.1 }), 400);
    await expectProblem(await h.call("PUT", "/bank/faults", { latencyMs: 2.5 }), 400);
    await expectProblem(await h.call("PUT", "/bank/faults", { webhookReorder: "yes" }), 400);
    expect((await h.json<BankModel.Faults>("GET", "/bank/faults")).latencyMs).toBe(10);
  });

  test("/metrics exposes holds by status, webhook states, injected faults and a zero ledger imbalance", async () => {
    const res = await h.call("GET", "/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/careforall_bank_holds\{status="held",service="bank"\} \d+/);
    expect(text).toMatch(/careforall_bank_webhooks\{state="pending",service="bank"\} \d+/);
    expect(text).toMatch(/careforall_bank_faults_injected_total\{kind="error",service="bank"\} [1-9]/);
    expect(text).toMatch(/careforall_bank_faults_injected_total\{kind="lost_response",service="bank"\} [1-9]/);
    expect(text).toContain('careforall_bank_ledger_imbalance_minor{service="bank"} 0');
  });
});
