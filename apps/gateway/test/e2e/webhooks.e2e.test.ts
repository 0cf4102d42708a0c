// POST /api/webhooks/bank through the real gateway → payment: a missing, wrong, tampered, stale,
// future or malformed Bank-Signature is a 400 with no effect on a payment still waiting for the
// bank; correctly signed replays of real events (late, duplicated, backwards; alone or as a batch of
// 100) change nothing; one real event delivered five times at once is applied exactly once; and
// the bank's own webhooks (sent in batches) are all accepted, leaving a clean audit. The stack's
// WEBHOOK_SECRET is ours, so we can sign.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import {
  accepted,
  adminToken,
  donor,
  metricValue,
  moneyEnv,
  nowSeconds,
  type Payment,
  paymentOf,
  postWebhook,
  readPledge,
  SLOW,
  sign,
  statuses,
  type WebhookEvent,
  waitCleanAudit,
  waitForPayment,
  waitForPledgeView,
  waitForStatus,
  waitSettled,
  webhookEvent,
} from "./money";
import { type Account, type Campaign, call, createCampaign, expectProblem, useStack } from "./support";

const e2e = useStack(moneyEnv(), { label: "gw_money_webhooks" });

let admin: string;
let dora: Account;
let campaign: Campaign;

beforeAll(async () => {
  admin = await adminToken(e2e.gw);
  dora = await donor(e2e.gw, "Dora Donor");
  campaign = await createCampaign(e2e.gw, dora.token, { title: "Webhook watch" });
  await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
}, 30_000);

const ZERO_FAULTS = {
  errorRate: 0,
  lostResponseRate: 0,
  latencyMs: 0,
  webhookDuplicateRate: 0,
  webhookReorder: false,
  webhookDropRate: 0,
};

afterAll(async () => {
  // Whatever a failed test left behind, the chaos knobs go back to zero.
  await call(e2e.gw, "PUT", "/api/admin/bank/faults", ZERO_FAULTS, { token: admin }).catch(() => undefined);
});

/** The parts of a payment an event could change. */
const stateOf = (p: Payment) => ({
  status: p.status,
  holdId: p.holdId,
  captureTransferId: p.captureTransferId,
  refundTransferId: p.refundTransferId,
  failureReason: p.failureReason,
  version: p.version,
});

async function payment(pledgeId: string): Promise<Payment> {
  const reply = await paymentOf(e2e, pledgeId);
  expect(reply.status).toBe(200);
  return reply.body;
}

const eventFor = (type: WebhookEvent["type"], p: Payment, holdId: string | null, status: string | null) =>
  webhookEvent(type, {
    holdId,
    paymentRef: p.id,
    amountMinor: p.amountMinor,
    currency: p.currency,
    status,
    reason: null,
  });

describe("a bad Bank-Signature → 400 and no effect", () => {
  // Paid from acct_test_slow: the bank answers the authorize after 3 s, so the payment is still
  // authorizing (no hold yet) while these land, and any effect would show.
  let pledgeId: string;
  let before: Payment;
  let raw: string;

  beforeAll(async () => {
    const p = await accepted(
      e2e.gw,
      campaign.id,
      { amountMinor: 3_300, currency: "BDT", source: SLOW },
      {
        token: dora.token,
      },
    );
    pledgeId = p.id;
    before = await waitForPayment(e2e, pledgeId, ["authorizing"], 5_000);
    expect(before.holdId).toBeNull();
    raw = JSON.stringify(eventFor("hold.captured", before, "hold_forged_by_a_test", "captured"));
  });

  const hex = "ab".repeat(32);
  const cases: Array<[string, () => string | undefined]> = [
    ["missing", () => undefined],
    ["empty", () => ""],
    ["signed with another secret", () => sign(raw, nowSeconds(), "not-the-webhook-secret-at-all")],
    ["a signature of another body", () => sign(raw.replace("3300", "3301"))],
    ["stale: t more than 300 s old", () => sign(raw, nowSeconds() - 301)],
    ["from the future: t more than 300 s ahead", () => sign(raw, nowSeconds() + 301)],
    ["malformed: garbage", () => "garbage"],
    ["malformed: no t", () => `v1=${hex}`],
    ["malformed: no v1", () => `t=${nowSeconds()}`],
    ["malformed: t not a number", () => `t=abc,v1=${hex}`],
    ["malformed: v1 not hex", () => `t=${nowSeconds()},v1=${"zz".repeat(32)}`],
    ["malformed: v1 too short", () => `t=${nowSeconds()},v1=abcdef`],
    ["malformed: t twice", () => `t=${nowSeconds()},t=${nowSeconds()},v1=${hex}`],
  ];
  for (const [name, header] of cases) {
    test(name, async () => {
      const reply = await postWebhook(e2e.gw, raw, header());
      expectProblem(reply, 400);
    });
  }

  test("a CORRECTLY signed event naming a made-up hold is refused by the bank's word: no effect", async () => {
    const reply = await postWebhook(e2e.gw, raw, sign(raw));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual({ applied: false });
  });

  test("nothing changed: the payment still waits for the bank, the pledge is pending", async () => {
    expect(stateOf(await payment(pledgeId))).toEqual(stateOf(before));
    const p = await readPledge(e2e.gw, pledgeId, { token: dora.token });
    expect(p.body.status).toBe("pending");
  });

  test("the pledge then completes normally with the bank's real hold", async () => {
    const captured = await waitForStatus(e2e.gw, pledgeId, "captured", { token: dora.token });
    expect(statuses(captured)).toEqual(["pending", "authorized", "captured"]);
    const after = await payment(pledgeId);
    const byKey = await call<{ holdId: string }>(e2e.stack.urls.bank, "GET", `/bank/holds/by-key/${after.id}`);
    expect(byKey.status).toBe(200);
    expect(after.holdId).toBe(byKey.body.holdId);
    expect(after.captureTransferId).not.toBeNull();
  }, 15_000);
});

describe("correctly signed events that are not news → 200, applied false, no effect", () => {
  let pledgeId: string;
  let captured: Payment;

  beforeAll(async () => {
    const p = await accepted(e2e.gw, campaign.id, { amountMinor: 4_400, currency: "BDT" }, { token: dora.token });
    pledgeId = p.id;
    await waitForStatus(e2e.gw, pledgeId, "captured", { token: dora.token });
    captured = await waitForPayment(e2e, pledgeId, ["captured"]);
    expect(captured.holdId).not.toBeNull();
  });

  async function expectNoEffect(event: WebhookEvent) {
    const raw = JSON.stringify(event);
    const reply = await postWebhook(e2e.gw, raw, sign(raw));
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { applied: false } });
    expect(stateOf(await payment(pledgeId))).toEqual(stateOf(captured));
    const p = await readPledge(e2e.gw, pledgeId, { token: dora.token });
    expect(statuses(p.body)).toEqual(["pending", "authorized", "captured"]);
  }

  test("hold.captured again (a fresh event id) for the real hold", async () => {
    await expectNoEffect(eventFor("hold.captured", captured, captured.holdId, "captured"));
  });

  test("a late hold.authorized", async () => {
    await expectNoEffect(eventFor("hold.authorized", captured, captured.holdId, "held"));
  });

  test("hold.released and hold.expired never move a captured payment backwards", async () => {
    await expectNoEffect(eventFor("hold.released", captured, captured.holdId, "released"));
    await expectNoEffect(eventFor("hold.expired", captured, captured.holdId, "expired"));
  });

  test("the very same event id twice", async () => {
    const event = eventFor("hold.captured", captured, captured.holdId, "captured");
    await expectNoEffect(event);
    await expectNoEffect(event);
  });

  test("an event for a payment nobody has", async () => {
    const raw = JSON.stringify(
      webhookEvent("hold.captured", {
        holdId: captured.holdId,
        paymentRef: Bun.randomUUIDv7(),
        amountMinor: 100,
        currency: "BDT",
        status: "captured",
        reason: null,
      }),
    );
    const reply = await postWebhook(e2e.gw, raw, sign(raw));
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { applied: false } });
  });

  test("a batch of 100 such events (signed as a whole) passes the gateway byte for byte: 200, all known, no effect", async () => {
    const events = Array.from({ length: 100 }, (_, n) =>
      eventFor(n % 2 ? "hold.captured" : "hold.authorized", captured, captured.holdId, n % 2 ? "captured" : "held"),
    );
    const raw = JSON.stringify({ events });
    // The bank's webhook batches stay well inside the 64 KiB body limit.
    expect(Buffer.byteLength(raw)).toBeLessThan(64 * 1024);
    const reply = await postWebhook(e2e.gw, raw, sign(raw));
    expect({ status: reply.status, body: reply.body }).toEqual({
      status: 200,
      body: { applied: 0, known: 100, ignored: 0, events: 100 } as never,
    });
    expect(stateOf(await payment(pledgeId))).toEqual(stateOf(captured));
    // The same batch with one byte changed is refused as a whole.
    expectProblem(await postWebhook(e2e.gw, raw.replace('"events":', '"events" :'), sign(raw)), 400);
  });

  test("a signed body that is not a bank event → 400", async () => {
    const raw = JSON.stringify({ hello: "world" });
    expectProblem(await postWebhook(e2e.gw, raw, sign(raw)), 400);
  });
});

describe("one real event delivered 5 times concurrently", () => {
  test("exactly one applied: true, the rest false; the pledge then completes once", async () => {
    // The bank does the work but loses its answers, and drops its own webhooks: the payment waits
    // in authorizing (the reconciler only looks after RECONCILE_AFTER_MS = 5 s) while the hold
    // exists, so the only news it can get is the webhook we deliver.
    const set = await call(
      e2e.gw,
      "PUT",
      "/api/admin/bank/faults",
      { lostResponseRate: 1, webhookDropRate: 1 },
      { token: admin },
    );
    expect(set.status).toBe(200);
    let pledgeId: string;
    try {
      const p = await accepted(e2e.gw, campaign.id, { amountMinor: 5_500, currency: "BDT" }, { token: dora.token });
      pledgeId = p.id;
      const waiting = await waitFor(
        async () => {
          const r = await paymentOf(e2e, pledgeId);
          return r.status === 200 && r.body.status === "authorizing" && r.body.attempts >= 1 ? r.body : null;
        },
        { timeoutMs: 4_000, what: "the payment to wait after a lost authorize answer" },
      );
      const byKey = await call<{ holdId: string; status: string }>(
        e2e.stack.urls.bank,
        "GET",
        `/bank/holds/by-key/${waiting.id}`,
      );
      expect(byKey.status).toBe(200);
      expect(byKey.body.status).toBe("held");

      const raw = JSON.stringify(eventFor("hold.authorized", waiting, byKey.body.holdId, "held"));
      const signature = sign(raw);
      const replies = await Promise.all(Array.from({ length: 5 }, () => postWebhook(e2e.gw, raw, signature)));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(replies.map((r) => r.body.applied).sort()).toEqual([false, false, false, false, true]);

      const after = await payment(pledgeId);
      expect(after.holdId).toBe(byKey.body.holdId);
      expect(["authorized", "capturing", "captured"]).toContain(after.status);
      // Once more, later: still a duplicate.
      expect((await postWebhook(e2e.gw, raw, signature)).body).toEqual({ applied: false });
    } finally {
      const reset = await call(e2e.gw, "PUT", "/api/admin/bank/faults", ZERO_FAULTS, { token: admin });
      expect(reset.status).toBe(200);
    }
    const done = await waitForStatus(e2e.gw, pledgeId, "captured", { token: dora.token }, 20_000);
    expect(statuses(done)).toEqual(["pending", "authorized", "captured"]);
  }, 30_000);
});

describe("the bank's own webhooks", () => {
  test("are all accepted: none pending, none failed, duplicates counted by payment, the audit clean", async () => {
    await waitSettled(e2e.gw, admin);
    const bank = await waitFor(
      async () => {
        const text = (await call<string>(e2e.stack.urls.bank, "GET", "/metrics")).text;
        return metricValue(text, "careforall_bank_webhooks", { state: "pending" }) === 0 ? text : null;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: "every bank webhook to be delivered" },
    );
    expect(metricValue(bank, "careforall_bank_webhooks", { state: "delivered" })).toBeGreaterThan(0);
    expect(metricValue(bank, "careforall_bank_webhook_attempts_total", { result: "ok" })).toBeGreaterThan(0);
    expect(metricValue(bank, "careforall_bank_webhook_attempts_total", { result: "failed" }) ?? 0).toBe(0);

    const payment = (await call<string>(e2e.stack.urls.payment, "GET", "/metrics")).text;
    expect(metricValue(payment, "careforall_payment_webhook_duplicates_ignored_total")).toBeGreaterThanOrEqual(5);

    const gateway = (await call<string>(e2e.gw, "GET", "/metrics")).text;
    expect(gateway).toMatch(/careforall_http_requests_total\{[^}]*route="\/api\/webhooks\/bank"[^}]*status="200"/);

    await waitCleanAudit(e2e.gw, admin);
  }, 45_000);
});
