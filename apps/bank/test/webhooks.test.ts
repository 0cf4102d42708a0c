// The webhook sender against a local receiver that verifies every signature: normal delivery,
// retries with backoff after failures, two sender replicas sharing the queue, and the chaos knobs
// (duplicate, drop, reorder) doing what the operations contract says.
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { eq, isNull } from "drizzle-orm";
import { webhookDeliveries } from "../src/db/schema";
import { NO_FAULTS, verifyWebhookSignature } from "../src/domain";
import type { WebhookPayload } from "../src/ledger";
import { bankMetrics } from "../src/metrics";
import type { BankModel } from "../src/model";
import { createWebhookSender, type WebhookSender } from "../src/workers/webhook-sender";
import { authorizeBody, type BankTestApp, scripted, startBankTestApp } from "./support";

interface Received {
  payload: WebhookPayload;
  signatureValid: boolean;
}

let h: BankTestApp;
let server: ReturnType<typeof Bun.serve>;
let received: Received[] = [];
let failNext = 0;
const senders: WebhookSender[] = [];

beforeAll(async () => {
  h = await startBankTestApp();
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const raw = await req.text();
      const signatureValid = verifyWebhookSignature(
        h.config.WEBHOOK_SECRET,
        req.headers.get("bank-signature"),
        raw,
        h.clock.now() / 1000,
      );
      received.push({ payload: JSON.parse(raw) as WebhookPayload, signatureValid });
      if (failNext > 0) {
        failNext--;
        return new Response("boom", { status: 500 });
      }
      return signatureValid ? Response.json({ applied: true }) : new Response("bad signature", { status: 400 });
    },
  });
});
beforeEach(async () => {
  await h.faults.replace(NO_FAULTS);
  // Each test starts with an empty queue and an empty receiver.
  await h.db
    .update(webhookDeliveries)
    .set({ deliveredAt: h.clock.date() })
    .where(isNull(webhookDeliveries.deliveredAt));
  received = [];
  failNext = 0;
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  server.stop(true);
  await h.stop();
});

function sender(random: () => number = Math.random) {
  const s = createWebhookSender({
    db: h.db,
    clock: h.clock,
    log: h.log,
    faults: h.faults,
    random,
    metrics: bankMetrics(h.metrics, h.db),
    config: {
      ...h.config,
      WEBHOOK_URL: `http://127.0.0.1:${server.port}/api/webhooks/bank`,
      WEBHOOK_BASE_BACKOFF_MS: 100,
      WEBHOOK_MAX_BACKOFF_MS: 1000,
      WEBHOOK_REORDER_DELAY_MS: 5000,
      WEBHOOK_POLL_MS: 10,
    },
  });
  senders.push(s);
  return s;
}

async function authorize(amountMinor = 100) {
  const a = await h.accountWith(10_000);
  const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor });
  const result = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
  return { paymentRef: body.paymentRef, holdId: result.holdId! };
}

const row = async (paymentRef: string) => {
  const rows = await h.db.select().from(webhookDeliveries);
  return rows.find((r) => (r.payload as unknown as WebhookPayload).data.paymentRef === paymentRef)!;
};

test("delivers each webhook once, signed, with the contract's body", async () => {
  const s = sender();
  s.start();
  const { paymentRef, holdId } = await authorize(250);
  s.kick();
  await waitFor(() => received.length === 1, { what: "the webhook at the receiver" });
  const [got] = received;
  expect(got!.signatureValid).toBe(true);
  expect(got!.payload).toEqual({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    type: "hold.authorized",
    createdAt: h.clock.date().toISOString(),
    data: { holdId, paymentRef, amountMinor: 250, currency: "BDT", status: "held", reason: null },
  });
  await waitFor(async () => (await row(paymentRef)).deliveredAt !== null, { what: "the delivery marked delivered" });
  expect(await row(paymentRef)).toMatchObject({ attempts: 1, dropped: false, lastError: null });
  expect(received).toHaveLength(1);
});

test("retries with growing backoff after the receiver fails twice, then stops at the first 2xx", async () => {
  const s = sender(() => 1);
  const { paymentRef } = await authorize();
  failNext = 2;
  expect(await s.deliverOnce()).toBe(1);
  let r = await row(paymentRef);
  expect(r).toMatchObject({ attempts: 1, lastError: "HTTP 500", deliveredAt: null });
  expect(r.nextAttemptAt.getTime() - h.clock.now()).toBe(100);
  // Not due yet: nothing is claimed.
  expect(await s.deliverOnce()).toBe(0);
  h.clock.advance(100);
  expect(await s.deliverOnce()).toBe(1);
  r = await row(paymentRef);
  expect(r.attempts).toBe(2);
  expect(r.nextAttemptAt.getTime() - h.clock.now()).toBe(200);
  h.clock.advance(200);
  expect(await s.deliverOnce()).toBe(1);
  r = await row(paymentRef);
  expect(r.attempts).toBe(3);
  expect(r.deliveredAt).not.toBeNull();
  h.clock.advance(10_000);
  expect(await s.deliverOnce()).toBe(0);
  expect(received.map((x) => [x.payload.data.paymentRef, x.signatureValid])).toEqual([
    [paymentRef, true],
    [paymentRef, true],
    [paymentRef, true],
  ]);
  expect(new Set(received.map((x) => x.payload.id)).size).toBe(1);
});

test("an unreachable receiver is retried too (connection refused), capped at WEBHOOK_MAX_BACKOFF_MS", async () => {
  const s = createWebhookSender({
    db: h.db,
    clock: h.clock,
    log: h.log,
    faults: h.faults,
    random: () => 1,
    config: {
      ...h.config,
      WEBHOOK_URL: "http://127.0.0.1:9/nothing",
      WEBHOOK_BASE_BACKOFF_MS: 100,
      WEBHOOK_MAX_BACKOFF_MS: 300,
    },
  });
  const { paymentRef } = await authorize();
  for (let i = 0; i < 4; i++) {
    expect(await s.deliverOnce()).toBe(1);
    h.clock.advance(300);
  }
  const r = await row(paymentRef);
  expect(r.attempts).toBe(4);
  expect(r.deliveredAt).toBeNull();
  expect(r.lastError).toBeTruthy();
  expect(r.nextAttemptAt.getTime() - (h.clock.now() - 300)).toBe(300);
});

test("two sender replicas share the queue: every webhook is delivered exactly once", async () => {
  const refs = await Promise.all(Array.from({ length: 20 }, () => authorize()));
  const [a, b] = [sender(), sender()];
  a.start();
  b.start();
  await waitFor(() => received.length >= 20, { what: "20 webhooks at the receiver" });
  await waitFor(
    async () => (await h.db.select().from(webhookDeliveries).where(isNull(webhookDeliveries.deliveredAt))).length === 0,
    {
      what: "every delivery marked delivered",
    },
  );
  expect(received).toHaveLength(20);
  expect(new Set(received.map((r) => r.payload.data.paymentRef))).toEqual(new Set(refs.map((r) => r.paymentRef)));
});

test("webhookDuplicateRate = 1 sends each event twice (same id, both signed)", async () => {
  await h.faults.update({ webhookDuplicateRate: 1 });
  const { paymentRef } = await authorize();
  expect(await sender().deliverOnce()).toBe(1);
  expect(received).toHaveLength(2);
  expect(received.every((r) => r.signatureValid && r.payload.data.paymentRef === paymentRef)).toBe(true);
  expect(received[0]!.payload.id).toBe(received[1]!.payload.id);
  expect((await row(paymentRef)).deliveredAt).not.toBeNull();
});

test("webhookDropRate = 1 marks deliveries delivered without sending them, and counts them", async () => {
  await h.faults.update({ webhookDropRate: 1 });
  const { paymentRef } = await authorize();
  expect(await sender().deliverOnce()).toBe(1);
  expect(received).toHaveLength(0);
  expect(await row(paymentRef)).toMatchObject({ dropped: true, attempts: 0 });
  expect((await row(paymentRef)).deliveredAt).not.toBeNull();
  const metrics = await (await h.call("GET", "/metrics")).text();
  expect(metrics).toMatch(/bank_faults_injected_total\{kind="webhook_drop",service="bank"\} [1-9]/);
  expect(metrics).toMatch(/bank_webhooks\{state="dropped",service="bank"\} [1-9]/);
});

test("webhookReorder holds some deliveries back once, so later ones overtake them", async () => {
  await h.faults.update({ webhookReorder: true });
  const first = await authorize();
  const second = await authorize();
  // First draw (for `first`) holds it back; the second is sent.
  const s = sender(scripted([0.1, 0.9]));
  expect(await s.deliverOnce()).toBe(2);
  expect(received.map((r) => r.payload.data.paymentRef)).toEqual([second.paymentRef]);
  expect(await row(first.paymentRef)).toMatchObject({ heldBack: true, deliveredAt: null, attempts: 0 });
  expect(await s.deliverOnce()).toBe(0);
  h.clock.advance(5000);
  // Held back at most once: it goes now, without another draw.
  expect(await s.deliverOnce()).toBe(1);
  expect(received.map((r) => r.payload.data.paymentRef)).toEqual([second.paymentRef, first.paymentRef]);
  expect(received.every((r) => r.signatureValid)).toBe(true);
});

test("without chaos an undisturbed queue is delivered in creation order", async () => {
  const refs: string[] = [];
  for (let i = 0; i < 5; i++) refs.push((await authorize()).paymentRef);
  expect(await sender().deliverOnce()).toBe(5);
  expect(received.map((r) => r.payload.data.paymentRef)).toEqual(refs);
  const [latest] = await h.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, received[4]!.payload.id));
  expect(latest!.deliveredAt).not.toBeNull();
});
