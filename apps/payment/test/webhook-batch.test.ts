// Batches of bank webhooks on POST /payments/webhook (`{ "events": [ … ] }`, signed as a whole):
// a bad signature rejects the whole batch with no effect; every event applies at most once however
// often the batch comes (also concurrently); events a payment already reflects cost only their
// inbox row while the news in the same batch is applied; late and reordered events never move a
// payment backwards; and a bank that cannot confirm an event makes the batch a 503 that, retried,
// still applies each event once (invariants 1 and 5).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signWebhook } from "@careforall/bank";
import { eq, inArray } from "drizzle-orm";
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

interface BatchAnswer {
  applied: number;
  known: number;
  ignored: number;
  events: number;
}

/** A batch body from event bodies (as `webhookBody` builds them), exactly what gets signed. */
const batch = (...events: string[]) => JSON.stringify({ events: events.map((e) => JSON.parse(e)) });
const idOf = (event: string) => JSON.parse(event).id as string;

async function answer(res: Response): Promise<BatchAnswer> {
  expect(res.status).toBe(200);
  return (await res.json()) as BatchAnswer;
}

/** A payment left in authorizing (the authorize answer was lost), its hold at the fake bank. */
async function authorizing(overrides: Parameters<typeof pledgeCreated>[0] = {}) {
  bank.script("authorize", "lost");
  const row = (await h.service.handlePledgeCreated(pledgeCreated(overrides)))!;
  expect(row.status).toBe("authorizing");
  const holdId = [...bank.holds.values()].find((hold) => hold.paymentRef === row.id)?.id ?? null;
  return { row, holdId };
}

/** A payment that went all the way to captured. */
async function captured() {
  const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
  expect(row.status).toBe("captured");
  return row;
}

/** Everything an event could have changed about a payment. */
async function footprint(paymentId: string) {
  const p = await h.payment(paymentId);
  return {
    status: p.status,
    holdId: p.holdId,
    version: p.version,
    history: await h.history(paymentId),
    events: (await h.events(paymentId)).map((e) => e.type),
  };
}

async function duplicatesCounted(): Promise<number> {
  const text = await h.metrics.registry.getSingleMetricAsString("careforall_payment_webhook_duplicates_ignored_total");
  return Number(/ (\d+)$/m.exec(text)?.[1] ?? 0);
}

const inboxRows = async (ids: string[]) =>
  h.db
    .select()
    .from(inbox)
    .where(inArray(inbox.eventId, ids.length > 0 ? ids : ["-"]));

describe("signature", () => {
  test("a batch with a missing, wrong, stale or other-bytes signature → 400, no event has any effect", async () => {
    bank.reset();
    const a = await authorizing();
    const b = await authorizing();
    const body = batch(
      webhookBody("hold.authorized", a.row.id, a.holdId),
      webhookBody("hold.captured", b.row.id, b.holdId),
    );
    const now = h.nowSeconds();
    const cases: Array<[string | null, string?]> = [
      [null],
      ["garbage"],
      [signWebhook("another-secret-0123456789", body, now)],
      [signWebhook(WEBHOOK_SECRET, body, now - 301)],
      // The signature of the batch does not cover a batch with one event less.
      [signWebhook(WEBHOOK_SECRET, body, now), batch(webhookBody("hold.authorized", a.row.id, a.holdId))],
    ];
    for (const [signature, sent] of cases) {
      const res = await h.webhook(sent ?? body, signature);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    for (const { row } of [a, b]) expect(await h.payment(row.id)).toMatchObject({ status: "authorizing", version: 1 });
    expect(await inboxRows(JSON.parse(body).events.map((e: { id: string }) => e.id))).toHaveLength(0);
    expect(bank.count("holdByKey")).toBe(0);
  });

  test("not a batch of 1..100 bank events → 400", async () => {
    const { row, holdId } = await authorizing();
    const one = webhookBody("hold.authorized", row.id, holdId);
    for (const body of [
      JSON.stringify({ events: [] }),
      batch(...Array.from({ length: 101 }, () => one)),
      JSON.stringify({ events: "nope" }),
    ]) {
      expect((await h.webhook(body)).status).toBe(400);
    }
    expect((await h.payment(row.id)).status).toBe("authorizing");
  });
});

describe("each event applies at most once", () => {
  test("a batch applies its news; the same batch again applies nothing and counts duplicates", async () => {
    bank.reset();
    const a = await authorizing();
    const b = await authorizing();
    // The bank did capture b (its answer never reached us): the webhook's claim holds.
    bank.setHoldStatus(b.holdId!, "captured");
    const body = batch(
      webhookBody("hold.authorized", a.row.id, a.holdId),
      webhookBody("hold.captured", b.row.id, b.holdId),
    );
    expect(await answer(await h.webhook(body))).toEqual({ applied: 2, known: 0, ignored: 0, events: 2 });
    await h.service.idle();
    // hold.authorized applied; the capture then ran as a normal drive.
    expect(await footprint(a.row.id)).toMatchObject({
      status: "captured",
      history: ["authorizing", "authorized", "capturing", "captured"],
    });
    expect(await footprint(b.row.id)).toMatchObject({
      status: "captured",
      events: ["payment.authorized", "payment.captured"],
    });
    const before = [await footprint(a.row.id), await footprint(b.row.id)];
    const duplicates = await duplicatesCounted();
    const captures = bank.performed().captures;

    expect(await answer(await h.webhook(body))).toEqual({ applied: 0, known: 2, ignored: 0, events: 2 });
    await h.service.idle();
    expect([await footprint(a.row.id), await footprint(b.row.id)]).toEqual(before);
    expect((await duplicatesCounted()) - duplicates).toBe(2);
    expect(bank.performed().captures).toBe(captures);
  });

  test("the same batch ×5 concurrently: every event applied exactly once in total", async () => {
    bank.reset();
    const payments = await Promise.all(Array.from({ length: 4 }, () => authorizing()));
    for (const { holdId } of payments) bank.setHoldStatus(holdId!, "captured");
    const body = batch(...payments.map(({ row, holdId }) => webhookBody("hold.captured", row.id, holdId)));
    const answers = await Promise.all(Array.from({ length: 5 }, async () => answer(await h.webhook(body))));
    expect(answers.reduce((n, a) => n + a.applied, 0)).toBe(4);
    expect(answers.reduce((n, a) => n + a.known, 0)).toBe(16);
    await h.service.idle();
    for (const { row } of payments) {
      expect(await footprint(row.id)).toMatchObject({
        status: "captured",
        history: ["authorizing", "authorized", "captured"],
        events: ["payment.authorized", "payment.captured"],
      });
    }
    expect(await inboxRows(JSON.parse(body).events.map((e: { id: string }) => e.id))).toHaveLength(4);
  });

  test("one event twice inside one batch: applied once", async () => {
    bank.reset();
    const { row, holdId } = await authorizing();
    bank.setHoldStatus(holdId!, "captured");
    const event = webhookBody("hold.captured", row.id, holdId);
    expect(await answer(await h.webhook(batch(event, event)))).toEqual({ applied: 1, known: 1, ignored: 0, events: 2 });
    await h.service.idle();
    expect(await footprint(row.id)).toMatchObject({
      status: "captured",
      events: ["payment.authorized", "payment.captured"],
    });
  });
});

describe("known and new events in one batch", () => {
  test("events a payment already reflects cost their inbox row only (no bank call); the news is applied", async () => {
    bank.reset();
    const done = await captured();
    const waiting = await authorizing();
    const doneBefore = await footprint(done.id);
    const calls = bank.count("holdByKey");
    const known = [
      webhookBody("hold.authorized", done.id, done.holdId),
      webhookBody("hold.captured", done.id, done.holdId),
      // Late and backwards: a captured payment never becomes released or expired.
      webhookBody("hold.released", done.id, done.holdId),
    ];
    const news = webhookBody("hold.authorized", waiting.row.id, waiting.holdId);
    const body = batch(known[0]!, news, known[1]!, known[2]!);
    expect(await answer(await h.webhook(body))).toEqual({ applied: 1, known: 3, ignored: 0, events: 4 });
    await h.service.idle();
    expect(await footprint(done.id)).toEqual(doneBefore);
    expect(await footprint(waiting.row.id)).toMatchObject({ status: "captured" });
    // Only the news needed the bank's word (the waiting payment did not know its hold yet).
    expect(bank.count("holdByKey") - calls).toBe(1);
    expect(await inboxRows(known.map(idOf))).toHaveLength(3);
    expect(await inboxRows([idOf(news)])).toHaveLength(1);
  });

  test("an event that does not fit (other hold, other amount, unknown payment, malformed) is ignored; the rest applies", async () => {
    bank.reset();
    const done = await captured();
    const waiting = await authorizing();
    bank.setHoldStatus(waiting.holdId!, "captured");
    const body = JSON.stringify({
      events: [
        JSON.parse(webhookBody("hold.captured", done.id, "other-hold")),
        JSON.parse(webhookBody("hold.captured", done.id, done.holdId, { amountMinor: 1 })),
        JSON.parse(webhookBody("hold.captured", Bun.randomUUIDv7(), "h")),
        { hello: "world" },
        JSON.parse(webhookBody("hold.captured", waiting.row.id, waiting.holdId)),
      ],
    });
    expect(await answer(await h.webhook(body))).toEqual({ applied: 1, known: 0, ignored: 4, events: 5 });
    await h.service.idle();
    expect((await h.payment(waiting.row.id)).status).toBe("captured");
    expect((await h.payment(done.id)).status).toBe("captured");
  });

  test("a failed payment's hold.failed again is known without asking the bank", async () => {
    bank.reset();
    const failing = await authorizing({ source: { bankAccountId: INSUFFICIENT_ACCOUNT, grant: "g" } });
    const first = webhookBody("hold.failed", failing.row.id, null, { reason: "insufficient_funds" });
    expect(await answer(await h.webhook(batch(first)))).toMatchObject({ applied: 1 });
    const calls = bank.count("holdByKey");
    const again = webhookBody("hold.failed", failing.row.id, null, { reason: "insufficient_funds" });
    expect(await answer(await h.webhook(batch(again)))).toEqual({ applied: 0, known: 1, ignored: 0, events: 1 });
    expect(bank.count("holdByKey")).toBe(calls);
    expect(await h.payment(failing.row.id)).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });
  });
});

describe("order", () => {
  test("reordered events never move a payment backwards: captured before authorized applies both steps once", async () => {
    bank.reset();
    const { row, holdId } = await authorizing();
    bank.setHoldStatus(holdId!, "captured");
    const body = batch(webhookBody("hold.captured", row.id, holdId), webhookBody("hold.authorized", row.id, holdId));
    expect(await answer(await h.webhook(body))).toEqual({ applied: 1, known: 1, ignored: 0, events: 2 });
    const after = await footprint(row.id);
    expect(after).toMatchObject({
      status: "captured",
      history: ["authorizing", "authorized", "captured"],
      events: ["payment.authorized", "payment.captured"],
    });
    // Every permutation of late events afterwards: nothing moves.
    const late = ["hold.authorized", "hold.released", "hold.expired", "hold.captured"].map((type) =>
      webhookBody(type, row.id, holdId),
    );
    expect(await answer(await h.webhook(batch(...late.reverse())))).toEqual({
      applied: 0,
      known: 4,
      ignored: 0,
      events: 4,
    });
    await h.service.idle();
    expect(await footprint(row.id)).toEqual(after);
  });

  test("expired before authorized (one batch) ends expired, through authorized, once", async () => {
    bank.reset();
    const { row, holdId } = await authorizing();
    bank.setHoldStatus(holdId!, "expired");
    const body = batch(webhookBody("hold.expired", row.id, holdId), webhookBody("hold.authorized", row.id, holdId));
    expect(await answer(await h.webhook(body))).toMatchObject({ applied: 1, known: 1 });
    await h.service.idle();
    expect(await footprint(row.id)).toMatchObject({
      status: "expired",
      history: ["authorizing", "authorized", "expired"],
      events: ["payment.authorized", "payment.expired"],
    });
  });
});

describe("an unreachable bank", () => {
  test("→ 503 for the batch; retried, each event applies once", async () => {
    bank.reset();
    const done = await captured();
    const waiting = await authorizing();
    const known = webhookBody("hold.captured", done.id, done.holdId);
    const news = webhookBody("hold.authorized", waiting.row.id, waiting.holdId);
    const body = batch(known, news);
    bank.script("holdByKey", "unknown");
    const refused = await h.webhook(body);
    expect(refused.status).toBe(503);
    expect((await h.payment(waiting.row.id)).status).toBe("authorizing");
    expect(await answer(await h.webhook(body))).toEqual({ applied: 1, known: 1, ignored: 0, events: 2 });
    await h.service.idle();
    expect(await footprint(waiting.row.id)).toMatchObject({
      status: "captured",
      events: ["payment.authorized", "payment.captured"],
    });
    expect(
      await h.db
        .select()
        .from(inbox)
        .where(eq(inbox.eventId, idOf(news))),
    ).toHaveLength(1);
  });
});
