// The hold lifecycle over HTTP against real PostgreSQL: authorize, capture (full, partial, twice),
// release, refund, expiry, lookups by id and by key, and the webhooks each change queues.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc } from "drizzle-orm";
import { webhookDeliveries } from "../src/db/schema";
import type { WebhookPayload } from "../src/ledger";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, expectProblem, startBankTestApp } from "./support";

let h: BankTestApp;

beforeAll(async () => {
  h = await startBankTestApp();
});
afterAll(async () => {
  await h.expectLedgerBalanced();
  await h.stop();
});

async function hold(
  accountId: string,
  grant: string,
  amountMinor = 1000,
  campaignId = "campaign-holds",
  currency: "BDT" | "USD" = "BDT",
) {
  const body = authorizeBody({ accountId, grant, amountMinor, campaignId, currency });
  const result = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
  expect(result.status).toBe("held");
  return { ...result, holdId: result.holdId!, key: body.idempotencyKey, paymentRef: body.paymentRef };
}

async function webhooksFor(paymentRef: string) {
  const rows = await h.db.select().from(webhookDeliveries).orderBy(asc(webhookDeliveries.id));
  return rows.map((r) => r.payload as unknown as WebhookPayload).filter((p) => p.data.paymentRef === paymentRef);
}

describe("authorize", () => {
  test("holds the amount: available drops, balance stays, a hold.authorized webhook is queued", async () => {
    const a = await h.accountWith(5000);
    const res = await h.call(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 1200, paymentRef: "pay-1" }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    const result = (await res.json()) as BankModel.AuthorizeResult;
    expect(result).toEqual({
      holdId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "held",
      reason: null,
      amountMinor: 1200,
      currency: "BDT",
      expiresAt: new Date(h.clock.now() + h.config.HOLD_TTL_SECONDS * 1000).toISOString(),
    });
    const balance = await h.json<BankModel.Balance>("POST", "/bank/check-balance", { accountId: a.accountId });
    expect(balance).toEqual({
      bankAccountId: a.accountId,
      balanceMinor: 5000,
      heldMinor: 1200,
      availableMinor: 3800,
      currency: "BDT",
    });
    const hooks = await webhooksFor("pay-1");
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({
      type: "hold.authorized",
      data: {
        holdId: result.holdId,
        paymentRef: "pay-1",
        amountMinor: 1200,
        currency: "BDT",
        status: "held",
        reason: null,
      },
    });
  });

  test("more than available → failed insufficient_funds, nothing held, a hold.failed webhook", async () => {
    const a = await h.accountWith(500);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 501 });
    const result = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
    expect(result).toEqual({
      holdId: null,
      status: "failed",
      reason: "insufficient_funds",
      amountMinor: 501,
      currency: "BDT",
      expiresAt: null,
    });
    expect((await h.account(a.accountId))!.heldMinor).toBe(0);
    const hooks = await webhooksFor(body.paymentRef);
    expect(hooks.map((w) => [w.type, w.data.status, w.data.reason, w.data.holdId])).toEqual([
      ["hold.failed", "failed", "insufficient_funds", null],
    ]);
  });

  test("a currency other than the account's → failed currency_mismatch", async () => {
    const a = await h.accountWith(5000);
    const result = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: a.accountId, grant: a.grant, currency: "USD" }),
    );
    expect(result).toMatchObject({ status: "failed", reason: "currency_mismatch", holdId: null });
  });

  test("a campaign account in another currency → failed currency_mismatch", async () => {
    const usd = await h.accountWith(5000, "USD");
    await hold(usd.accountId, usd.grant, 100, "campaign-usd", "USD");
    const bdt = await h.accountWith(5000);
    const result = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: bdt.accountId, grant: bdt.grant, campaignId: "campaign-usd" }),
    );
    expect(result).toMatchObject({ status: "failed", reason: "currency_mismatch" });
  });

  test("schema violations → 400 problem and nothing stored (the key stays usable)", async () => {
    const a = await h.accountWith(5000);
    const body = authorizeBody({ accountId: a.accountId, grant: a.grant });
    await expectProblem(await h.call("POST", "/bank/authorize", { ...body, amountMinor: "1000" }), 400);
    await expectProblem(await h.call("POST", "/bank/authorize", { ...body, amountMinor: 0 }), 400);
    await expectProblem(await h.call("POST", "/bank/authorize", { ...body, amountMinor: 10.5 }), 400);
    await expectProblem(await h.call("POST", "/bank/authorize", { ...body, currency: "GBP" }), 400);
    await expectProblem(await h.call("GET", `/bank/holds/by-key/${body.idempotencyKey}`), 404);
    const ok = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
    expect(ok.status).toBe("held");
  });
});

describe("lookups", () => {
  test("GET /bank/holds/:id and /bank/holds/by-key/:key", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 700);
    const byId = await h.json<BankModel.Hold>("GET", `/bank/holds/${held.holdId}`);
    expect(byId).toEqual({
      id: held.holdId,
      accountId: a.accountId,
      campaignId: "campaign-holds",
      amountMinor: 700,
      currency: "BDT",
      status: "held",
      capturedMinor: 0,
      refundedMinor: 0,
      paymentRef: held.paymentRef,
      expiresAt: held.expiresAt!,
      createdAt: h.clock.date().toISOString(),
      updatedAt: h.clock.date().toISOString(),
    });
    const byKey = await h.json<BankModel.AuthorizeResult>("GET", `/bank/holds/by-key/${held.key}`);
    expect(byKey.holdId).toBe(held.holdId);
    await expectProblem(await h.call("GET", `/bank/holds/${Bun.randomUUIDv7()}`), 404);
    await expectProblem(await h.call("GET", "/bank/holds/by-key/never-seen"), 404);
    await expectProblem(await h.call("GET", "/bank/holds/not-a-uuid"), 400);
  });
});

describe("capture", () => {
  test("full capture moves the money to the campaign account and settles the hold", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1500, "campaign-capture-full");
    const res = await h.call("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId });
    expect(res.status).toBe(200);
    const captured = (await res.json()) as BankModel.CaptureResult;
    expect(captured).toEqual({
      holdId: held.holdId,
      transferId: expect.any(String),
      capturedMinor: 1500,
      status: "captured",
    });
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 3500, heldMinor: 0 });
    const campaign = await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/campaign/campaign-capture-full");
    expect(campaign).toMatchObject({ balanceMinor: 1500, heldMinor: 0, availableMinor: 1500, currency: "BDT" });
    expect(await h.json<BankModel.Hold>("GET", `/bank/holds/${held.holdId}`)).toMatchObject({
      status: "captured",
      capturedMinor: 1500,
    });
    expect((await webhooksFor(held.paymentRef)).map((w) => [w.type, w.data.amountMinor])).toEqual([
      ["hold.authorized", 1500],
      ["hold.captured", 1500],
    ]);
  });

  test("partial capture moves only that amount and releases the rest", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 2000, "campaign-capture-partial");
    const captured = await h.json<BankModel.CaptureResult>("POST", "/bank/capture", {
      idempotencyKey: `${held.key}:capture`,
      holdId: held.holdId,
      amountMinor: 1200,
    });
    expect(captured.capturedMinor).toBe(1200);
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 3800, heldMinor: 0 });
    expect(
      await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/campaign/campaign-capture-partial"),
    ).toMatchObject({
      balanceMinor: 1200,
    });
  });

  test("more than the hold → 409 and nothing changes", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    await expectProblem(
      await h.call("POST", "/bank/capture", {
        idempotencyKey: `${held.key}:capture`,
        holdId: held.holdId,
        amountMinor: 1001,
      }),
      409,
    );
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 5000, heldMinor: 1000 });
  });

  test("the same key twice → the stored answer, replayed; one transfer", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    const body = { idempotencyKey: `${held.key}:capture`, holdId: held.holdId };
    const first = await h.call("POST", "/bank/capture", body);
    const second = await h.call("POST", "/bank/capture", body);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await first.json());
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 4000, heldMinor: 0 });
  });

  test("a second capture with another key → 409", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    await h.json("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId });
    const problem = await expectProblem(
      await h.call("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture-2`, holdId: held.holdId }),
      409,
    );
    expect(problem.type).toEndWith("hold-not-held");
  });

  test("capture after release → 409; unknown hold → 404", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    await h.json("POST", "/bank/release", { idempotencyKey: `${held.key}:release`, holdId: held.holdId });
    await expectProblem(
      await h.call("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId }),
      409,
    );
    await expectProblem(
      await h.call("POST", "/bank/capture", { idempotencyKey: "x:capture", holdId: Bun.randomUUIDv7() }),
      404,
    );
  });

  test("capture of a hold past its expiry (not yet swept) → 409 hold-expired", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    h.clock.advance(h.config.HOLD_TTL_SECONDS * 1000);
    try {
      const problem = await expectProblem(
        await h.call("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId }),
        409,
      );
      expect(problem.type).toEndWith("hold-expired");
    } finally {
      h.clock.advance(-h.config.HOLD_TTL_SECONDS * 1000);
    }
  });
});

describe("release", () => {
  test("gives the held amount back; a second release → 409; same key → replay", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    const body = { idempotencyKey: `${held.key}:release`, holdId: held.holdId };
    expect(await h.json("POST", "/bank/release", body)).toEqual({ holdId: held.holdId, status: "released" });
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 5000, heldMinor: 0 });
    const replay = await h.call("POST", "/bank/release", body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    await expectProblem(await h.call("POST", "/bank/release", { ...body, idempotencyKey: "other" }), 409);
    expect((await webhooksFor(held.paymentRef)).map((w) => w.type)).toEqual(["hold.authorized", "hold.released"]);
  });

  test("a captured hold cannot be released", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    await h.json("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId });
    await expectProblem(
      await h.call("POST", "/bank/release", { idempotencyKey: `${held.key}:release`, holdId: held.holdId }),
      409,
    );
  });
});

describe("refund", () => {
  test("partial then the rest, then over-refund → 409; the campaign pays back", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 2000, "campaign-refund");
    await h.json("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId });
    const partial = await h.json<BankModel.RefundResult>("POST", "/bank/refund", {
      idempotencyKey: `${held.key}:refund-1`,
      holdId: held.holdId,
      amountMinor: 500,
    });
    expect(partial).toEqual({ holdId: held.holdId, transferId: expect.any(String), refundedMinor: 500 });
    await expectProblem(
      await h.call("POST", "/bank/refund", {
        idempotencyKey: `${held.key}:refund-x`,
        holdId: held.holdId,
        amountMinor: 1501,
      }),
      409,
    );
    const rest = await h.json<BankModel.RefundResult>("POST", "/bank/refund", {
      idempotencyKey: `${held.key}:refund-2`,
      holdId: held.holdId,
    });
    expect(rest.refundedMinor).toBe(2000);
    const problem = await expectProblem(
      await h.call("POST", "/bank/refund", { idempotencyKey: `${held.key}:refund-3`, holdId: held.holdId }),
      409,
    );
    expect(problem.type).toEndWith("hold-fully-refunded");
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 5000, heldMinor: 0 });
    expect(await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/campaign/campaign-refund")).toMatchObject({
      balanceMinor: 0,
    });
    expect(await h.json<BankModel.Hold>("GET", `/bank/holds/${held.holdId}`)).toMatchObject({
      status: "captured",
      capturedMinor: 2000,
      refundedMinor: 2000,
    });
  });

  test("a hold that was never captured → 409", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    const problem = await expectProblem(
      await h.call("POST", "/bank/refund", { idempotencyKey: `${held.key}:refund`, holdId: held.holdId }),
      409,
    );
    expect(problem.type).toEndWith("hold-not-captured");
  });

  test("same key twice → one refund, replayed answer", async () => {
    const a = await h.accountWith(5000);
    const held = await hold(a.accountId, a.grant, 1000);
    await h.json("POST", "/bank/capture", { idempotencyKey: `${held.key}:capture`, holdId: held.holdId });
    const body = { idempotencyKey: `${held.key}:refund`, holdId: held.holdId, amountMinor: 400 };
    const first = await h.json("POST", "/bank/refund", body);
    const res = await h.call("POST", "/bank/refund", body);
    expect(res.headers.get("idempotent-replayed")).toBe("true");
    expect(await res.json()).toEqual(first);
    expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 4400 });
  });
});
