// POST /payments/webhook: the signature is checked on the raw bytes (400 and no effect when it
// is missing, wrong or stale), events are deduplicated by id in the inbox under concurrency, news
// is applied only as the bank's records confirm it, through the machine: out of order once, late
// ones never backwards (invariants 1, 5).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signWebhook } from "@careforall/bank";
import { serviceHeaders } from "@careforall/testkit";
import { eq } from "drizzle-orm";
import { inbox } from "../src/db/schema";
import { type FakeBank, INSUFFICIENT_ACCOUNT } from "./fake-bank";
import { type PaymentTestApp, pledgeCreated, startPaymentTestApp, WEBHOOK_SECRET, webhookBody } from "./support";

let h: PaymentTestApp;
let bank: FakeBank;

beforeAll(async () => {
  h = await startPaymentTestApp();
  bank = h.bank;
});
afterAll(async () => {
  await h.stop();
});

/** A payment left in authorizing (the authorize answer was lost), holding `hold_x` at the fake. */
async function authorizingPayment() {
  bank.reset().script("authorize", "lost");
  const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
  expect(row.status).toBe("authorizing");
  const holdId = [...bank.holds.values()].find((hold) => hold.paymentRef === row.id)!.id;
  return { row, holdId };
}

const applied = async (res: Response) => {
  expect(res.status).toBe(200);
  return ((await res.json()) as { applied: boolean }).applied;
};

async function expectBadRequest(res: Response) {
  expect(res.status).toBe(400);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const problem = (await res.json()) as { status: number; title: string };
  expect(problem.status).toBe(400);
}

describe("signature", () => {
  test("missing, wrong, stale, future or for other bytes → 400 problem, no effect, each counted", async () => {
    const { row, holdId } = await authorizingPayment();
    const body = webhookBody("hold.captured", row.id, holdId);
    const now = h.nowSeconds();
    const cases: Array<[string, string | null, string?]> = [
      ["missing", null],
      ["empty", ""],
      ["garbage", "nonsense"],
      ["wrong secret", signWebhook("another-secret-0123456789", body, now)],
      ["stale (301 s old)", signWebhook(WEBHOOK_SECRET, body, now - 301)],
      ["from the future", signWebhook(WEBHOOK_SECRET, body, now + 301)],
      ["other bytes", signWebhook(WEBHOOK_SECRET, body, now), body.replace("2500", "2501")],
      ["re-serialised JSON", signWebhook(WEBHOOK_SECRET, body, now), JSON.stringify(JSON.parse(body), null, 1)],
    ];
    const failures = async () =>
      Number(
        / (\d+)$/m.exec(
          await h.metrics.registry.getSingleMetricAsString("careforall_webhook_signature_failures_total"),
        )?.[1] ?? Number.NaN,
      );
    const before = await failures();
    for (const [, signature, sent] of cases) await expectBadRequest(await h.webhook(sent ?? body, signature));
    // Each refusal is counted (the WebhookSignatureFailures alert reads it).
    expect((await failures()) - before).toBe(cases.length);
    const p = await h.payment(row.id);
    expect(p.status).toBe("authorizing");
    expect(p.version).toBe(row.version);
    expect(await h.db.select().from(inbox).where(eq(inbox.consumer, "bank-webhook"))).toHaveLength(0);
  });

  test("a signature just inside the 300 s tolerance is accepted", async () => {
    const { row, holdId } = await authorizingPayment();
    bank.setHoldStatus(holdId, "captured");
    const body = webhookBody("hold.captured", row.id, holdId);
    expect(await applied(await h.webhook(body, signWebhook(WEBHOOK_SECRET, body, h.nowSeconds() - 299)))).toBe(true);
  });

  test("the raw bytes are verified whatever the content type (JSON, text as Eden sends it, octet-stream, the default)", async () => {
    for (const contentType of ["application/json", "text/plain;charset=utf-8", "application/octet-stream", null]) {
      const { row, holdId } = await authorizingPayment();
      bank.setHoldStatus(holdId, "captured");
      // Odd spacing on purpose: a parse-and-reserialise would break the signature.
      const body = webhookBody("hold.captured", row.id, holdId).replace(":", ":  ");
      const signature = signWebhook(WEBHOOK_SECRET, body, h.nowSeconds());
      const headers: Record<string, string> = { "bank-signature": signature, ...(await serviceHeaders("payment")) };
      if (contentType) headers["content-type"] = contentType;
      const res = await h.app.handle(
        new Request("http://localhost/payments/webhook", { method: "POST", headers, body }),
      );
      expect(await applied(res)).toBe(true);
      expect((await h.payment(row.id)).status).toBe("captured");
    }
  });

  test("a correctly signed body that is not a bank event → 400", async () => {
    await expectBadRequest(await h.webhook('{"hello":"world"}'));
    await expectBadRequest(await h.webhook("not json"));
  });
});

describe("applying events", () => {
  test("hold.captured before hold.authorized → both steps applied once, state captured; the late one is a no-op", async () => {
    const { row, holdId } = await authorizingPayment();
    // The bank captured (our answers were lost); its webhooks arrive in the wrong order.
    bank.setHoldStatus(holdId, "captured");
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, holdId)))).toBe(true);
    expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, holdId)))).toBe(false);
    const p = await h.payment(row.id);
    expect(p).toMatchObject({ status: "captured", holdId });
    expect(await h.history(row.id)).toEqual(["authorizing", "authorized", "captured"]);
    expect((await h.events(row.id)).map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("the same webhook ×5 concurrently → applied exactly once", async () => {
    const { row, holdId } = await authorizingPayment();
    bank.setHoldStatus(holdId, "captured");
    const before = await h.metrics.registry.getSingleMetricAsString(
      "careforall_payment_webhook_duplicates_ignored_total",
    );
    const body = webhookBody("hold.captured", row.id, holdId);
    const answers = await Promise.all(Array.from({ length: 5 }, () => h.webhook(body).then(applied)));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await h.history(row.id)).toEqual(["authorizing", "authorized", "captured"]);
    expect((await h.events(row.id)).map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);
    const id = JSON.parse(body).id as string;
    expect(await h.db.select().from(inbox).where(eq(inbox.eventId, id))).toHaveLength(1);
    const after = await h.metrics.registry.getSingleMetricAsString(
      "careforall_payment_webhook_duplicates_ignored_total",
    );
    const count = (text: string) => Number(/ (\d+)$/m.exec(text)?.[1] ?? 0);
    expect(count(after) - count(before)).toBe(4);
  });

  test("a late hold.authorized after captured changes nothing", async () => {
    bank.reset();
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    expect(row.status).toBe("captured");
    expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, row.holdId)))).toBe(false);
    expect(await applied(await h.webhook(webhookBody("hold.released", row.id, row.holdId)))).toBe(false);
    const p = await h.payment(row.id);
    expect(p.status).toBe("captured");
    expect(p.version).toBe(row.version);
  });

  test("hold.authorized while our authorize is in flight: the webhook drives the capture, the late answer is stale", async () => {
    bank.reset();
    // The bank holds the money and sends its webhook; its HTTP answer comes later.
    const gate = bank.gate("authorize", "after");
    const flow = h.service.handlePledgeCreated(pledgeCreated());
    await gate.reached;
    const paymentId = bank.keysOf("authorize")[0]!;
    const holdId = [...bank.holds.keys()][0]!;
    const res = await h.webhook(webhookBody("hold.authorized", paymentId, holdId));
    expect(await applied(res)).toBe(true);
    await h.service.idle();
    expect((await h.payment(paymentId)).status).toBe("captured");
    gate.open();
    await flow;
    const p = await h.payment(paymentId);
    expect(p.status).toBe("captured");
    expect(bank.performed().captures).toBe(1);
    expect((await h.events(paymentId)).map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("hold.failed → failed with the bank's reason; hold.expired while the capture is pending → expired", async () => {
    // The bank refused the hold but its answer was lost: the webhook is the first news of it.
    bank.reset().script("authorize", "lost");
    const failing = (await h.service.handlePledgeCreated(
      pledgeCreated({ source: { bankAccountId: INSUFFICIENT_ACCOUNT, grant: "g" } }),
    ))!;
    expect(failing.status).toBe("authorizing");
    const body = webhookBody("hold.failed", failing.id, null, { reason: "insufficient_funds" });
    expect(await applied(await h.webhook(body))).toBe(true);
    expect(await h.payment(failing.id)).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });

    const { row, holdId } = await authorizingPayment();
    bank.script("capture", "unknown");
    expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, holdId)))).toBe(true);
    await h.service.idle();
    expect((await h.payment(row.id)).status).toBe("capturing");
    bank.setHoldStatus(holdId, "expired");
    expect(await applied(await h.webhook(webhookBody("hold.expired", row.id, holdId)))).toBe(true);
    expect((await h.payment(row.id)).status).toBe("expired");
    expect((await h.events(row.id)).map((e) => e.type)).toEqual(["payment.authorized", "payment.expired"]);
  });

  test("a signed event that does not fit its payment moves nothing (made-up hold, other amount)", async () => {
    const { row, holdId } = await authorizingPayment();
    // Before the payment knows its hold, the claim is checked with the bank: a made-up hold is refused.
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, "hold_made_up")))).toBe(false);
    expect(await applied(await h.webhook(webhookBody("hold.failed", row.id, null, { reason: "declined" })))).toBe(
      false,
    );
    expect((await h.payment(row.id)).status).toBe("authorizing");
    // The real hold, confirmed by the bank, is applied; afterwards only that hold and amount fit.
    bank.script("capture", "unknown");
    expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, holdId)))).toBe(true);
    await h.service.idle();
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, "other_hold")))).toBe(false);
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, holdId, { amountMinor: 1 })))).toBe(
      false,
    );
    expect((await h.payment(row.id)).status).toBe("capturing");
  });

  test("hold.failed is applied with the bank's reason, not the webhook's", async () => {
    bank.reset().script("authorize", "lost");
    const failing = (await h.service.handlePledgeCreated(
      pledgeCreated({ source: { bankAccountId: INSUFFICIENT_ACCOUNT, grant: "g" } }),
    ))!;
    const body = webhookBody("hold.failed", failing.id, null, { reason: "declined" });
    expect(await applied(await h.webhook(body))).toBe(true);
    expect(await h.payment(failing.id)).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });
  });

  test("news about a known hold is read from the bank: unreachable → 503 and no effect; not done → ignored; done → applied", async () => {
    const { row, holdId } = await authorizingPayment();
    bank.script("capture", "unknown");
    expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, holdId)))).toBe(true);
    await h.service.idle();
    const before = await h.payment(row.id);
    expect(before.status).toBe("capturing");
    const claim = webhookBody("hold.captured", row.id, holdId);

    bank.script("hold", "unknown");
    expect((await h.webhook(claim)).status).toBe(503);
    expect(await h.payment(row.id)).toMatchObject({ status: "capturing", version: before.version });
    expect(await applied(await h.webhook(claim))).toBe(false);
    expect(await h.payment(row.id)).toMatchObject({ status: "capturing", version: before.version });

    // The bank captured and, since, refunded it all: applied as the bank has it, not as the webhook says.
    const hold = bank.holds.get(holdId)!;
    bank.holds.set(holdId, {
      ...hold,
      status: "captured",
      capturedMinor: hold.amountMinor,
      refundedMinor: hold.amountMinor,
    });
    expect(await applied(await h.webhook(claim))).toBe(true);
    expect(await h.history(row.id)).toEqual(["authorizing", "authorized", "capturing", "captured", "refunded"]);
    expect((await h.events(row.id)).map((e) => e.type)).toEqual([
      "payment.authorized",
      "payment.captured",
      "payment.refunded",
    ]);
  });

  test("unknown payments and unknown event types are acknowledged without effect", async () => {
    expect(await applied(await h.webhook(webhookBody("hold.captured", Bun.randomUUIDv7(), "h")))).toBe(false);
    expect(await applied(await h.webhook(webhookBody("hold.captured", "not-a-payment", "h")))).toBe(false);
    const { row, holdId } = await authorizingPayment();
    expect(await applied(await h.webhook(webhookBody("hold.teleported", row.id, holdId)))).toBe(false);
    expect((await h.payment(row.id)).status).toBe("authorizing");
  });
});
