// The webhook sender against a local receiver that verifies every signature: normal delivery (a
// lone event bare, several as one `{ "events": [ … ] }` POST signed as a whole), retries with
// backoff after failures, two sender replicas sharing the queue, and the chaos knobs (duplicate,
// drop, reorder) acting per event, as the operations contract says.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { initTelemetry } from "@careforall/telemetry";
import { waitFor } from "@careforall/testkit";
import { eq, isNull } from "drizzle-orm";
import { webhookDeliveries } from "../src/db/schema";
import { NO_FAULTS, verifyWebhookSignature } from "../src/domain";
import type { WebhookPayload } from "../src/ledger";
import { bankMetrics } from "../src/metrics";
import type { BankModel } from "../src/model";
import { createWebhookSender, deliveryContext, type WebhookSender, webhookBodies } from "../src/workers/webhook-sender";
import { authorizeBody, type BankTestApp, scripted, startBankTestApp } from "./support";

// As the service's boot does: W3C propagation on (nothing exported, no span recorded).
initTelemetry({ service: "bank-webhooks-test" });

interface Received {
  payload: WebhookPayload;
  signatureValid: boolean;
}

let h: BankTestApp;
let server: ReturnType<typeof Bun.serve>;
/** Every event the receiver got, in arrival order (a batch POST adds each of its events). */
let received: Received[] = [];
/** Every POST: a bare event (`single`) or a batch, and the ids it carried. */
let posts: Array<{
  shape: "single" | "batch";
  ids: string[];
  signatureValid: boolean;
  traceparent: string | null;
  requestId: string | null;
}> = [];
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
      const body = JSON.parse(raw) as WebhookPayload | { events: WebhookPayload[] };
      const events = "events" in body ? body.events : [body];
      posts.push({
        shape: "events" in body ? "batch" : "single",
        ids: events.map((e) => e.id),
        signatureValid,
        traceparent: req.headers.get("traceparent"),
        requestId: req.headers.get("x-request-id"),
      });
      for (const payload of events) received.push({ payload, signatureValid });
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
  posts = [];
  failNext = 0;
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  server.stop(true);
  await h.stop();
});

function sender(random: () => number = Math.random, batchSize?: number) {
  const s = createWebhookSender({
    batchSize,
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

test("a webhook continues the trace of the call that queued it: its POST carries that trace id and request id", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const a = await h.accountWith(10_000);
  const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: 300 });
  const res = await h.call("POST", "/bank/authorize", body, {
    traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    "x-request-id": "req-webhook-trace-1",
  });
  expect(res.status).toBe(200);
  expect((await row(body.paymentRef)).traceHeaders).toMatchObject({
    traceparent: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`)),
    "x-request-id": "req-webhook-trace-1",
  });
  const s = sender();
  s.start();
  s.kick();
  await waitFor(() => posts.length === 1, { what: "the webhook at the receiver" });
  expect(posts[0]!.traceparent?.split("-")[1]).toBe(traceId);
  expect(posts[0]!.requestId).toBe("req-webhook-trace-1");
});

describe("deliveryContext", () => {
  const tp = (trace: string, span: string) => ({ traceparent: `00-${trace.repeat(32)}-${span.repeat(16)}-01` });
  test("events of one trace are sent in it; events of several, or untraced ones, in a new trace linked to each", () => {
    const one = deliveryContext([{ traceHeaders: tp("a", "1") }, { traceHeaders: tp("a", "2") }]);
    expect(one.parent).toBeDefined();
    expect(one.links).toHaveLength(0);
    const several = deliveryContext([{ traceHeaders: tp("a", "1") }, { traceHeaders: tp("b", "2") }]);
    expect(several.parent).toBeUndefined();
    expect(several.links).toHaveLength(2);
    const mixed = deliveryContext([{ traceHeaders: tp("a", "1") }, { traceHeaders: null }]);
    expect(mixed.parent).toBeUndefined();
    expect(mixed.links).toHaveLength(1);
    expect(deliveryContext([{ traceHeaders: null }])).toEqual({ parent: undefined, links: [] });
  });
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
  expect(metrics).toMatch(/careforall_bank_faults_injected_total\{kind="webhook_drop",service="bank"\} [1-9]/);
  expect(metrics).toMatch(/careforall_bank_webhooks\{state="dropped",service="bank"\} [1-9]/);
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

describe("batches", () => {
  const drain = async (s: WebhookSender) => {
    while ((await s.deliverOnce()) > 0) {}
  };
  const undelivered = async () => h.db.select().from(webhookDeliveries).where(isNull(webhookDeliveries.deliveredAt));

  test("several due events go out as ONE POST { events } signed as a whole; its 2xx marks every one delivered", async () => {
    const refs: string[] = [];
    for (let i = 0; i < 5; i++) refs.push((await authorize()).paymentRef);
    expect(await sender().deliverOnce()).toBe(5);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ shape: "batch", signatureValid: true });
    expect(received.map((r) => r.payload.data.paymentRef)).toEqual(refs);
    expect(posts[0]!.ids).toEqual(received.map((r) => r.payload.id));
    for (const ref of refs) expect(await row(ref)).toMatchObject({ attempts: 1, lastError: null, dropped: false });
    expect(await undelivered()).toHaveLength(0);
  });

  test("WEBHOOK_BATCH_MAX bounds a POST: 7 events with a maximum of 3 → 3, 3, then 1 sent bare", async () => {
    for (let i = 0; i < 7; i++) await authorize();
    await drain(sender(Math.random, 3));
    expect(posts.map((p) => [p.shape, p.ids.length])).toEqual([
      ["batch", 3],
      ["batch", 3],
      ["single", 1],
    ]);
    expect(new Set(received.map((r) => r.payload.id)).size).toBe(7);
    expect(await undelivered()).toHaveLength(0);
  });

  test("a failed batch POST retries each of its events after its backoff; the next 2xx delivers them all", async () => {
    const refs = [(await authorize()).paymentRef, (await authorize()).paymentRef, (await authorize()).paymentRef];
    failNext = 1;
    const s = sender(() => 1);
    expect(await s.deliverOnce()).toBe(3);
    for (const ref of refs) {
      const r = await row(ref);
      expect(r).toMatchObject({ attempts: 1, lastError: "HTTP 500", deliveredAt: null });
      expect(r.nextAttemptAt.getTime() - h.clock.now()).toBe(100);
    }
    expect(await s.deliverOnce()).toBe(0);
    h.clock.advance(100);
    expect(await s.deliverOnce()).toBe(3);
    for (const ref of refs) expect(await row(ref)).toMatchObject({ attempts: 2, lastError: null });
    expect(await undelivered()).toHaveLength(0);
    expect(posts.map((p) => p.ids)).toEqual([posts[0]!.ids, posts[0]!.ids]);
  });

  test("webhookDuplicateRate = 1 in a batch: every event again, in a second POST signed on its own", async () => {
    await h.faults.update({ webhookDuplicateRate: 1 });
    for (let i = 0; i < 3; i++) await authorize();
    expect(await sender().deliverOnce()).toBe(3);
    expect(posts).toHaveLength(2);
    expect(posts.every((p) => p.shape === "batch" && p.signatureValid)).toBe(true);
    expect(posts[1]!.ids).toEqual(posts[0]!.ids);
    expect(await undelivered()).toHaveLength(0);
  });

  test("drop and reorder act per event inside a batch", async () => {
    await h.faults.update({ webhookDropRate: 0.5, webhookReorder: true });
    const refs = [(await authorize()).paymentRef, (await authorize()).paymentRef, (await authorize()).paymentRef];
    // Draws per event, in order: drop?, then reorder?. First: kept and sent; second: dropped;
    // third: kept but held back.
    const s = sender(scripted([0.9, 0.9, 0.1, 0.9, 0.1]));
    expect(await s.deliverOnce()).toBe(3);
    expect(posts.map((p) => p.shape)).toEqual(["single"]);
    expect(received.map((r) => r.payload.data.paymentRef)).toEqual([refs[0]!]);
    expect(await row(refs[1]!)).toMatchObject({ dropped: true, attempts: 0 });
    expect(await row(refs[2]!)).toMatchObject({ heldBack: true, deliveredAt: null });
  });
});

describe("webhookBodies", () => {
  const event = (n: number, padding = "") => ({
    payload: {
      id: Bun.randomUUIDv7(),
      type: "hold.captured",
      createdAt: new Date().toISOString(),
      data: {
        holdId: Bun.randomUUIDv7(),
        paymentRef: `${Bun.randomUUIDv7()}${padding}`,
        amountMinor: 100_000_000 + n,
        currency: "BDT",
        status: "captured",
        reason: null,
      },
    },
  });

  test("one event alone is its bare object; several are { events: [ … ] } in order", () => {
    const rows = [event(1), event(2), event(3)];
    expect(webhookBodies(rows.slice(0, 1), 100).map((b) => JSON.parse(b.body))).toEqual([rows[0]!.payload]);
    const [batch] = webhookBodies(rows, 100);
    expect(JSON.parse(batch!.body)).toEqual({ events: rows.map((r) => r.payload) });
  });

  test("100 realistic events fit one body well under the receivers' 64 KiB limit", () => {
    const bodies = webhookBodies(
      Array.from({ length: 100 }, (_, n) => event(n)),
      100,
    );
    expect(bodies).toHaveLength(1);
    expect(Buffer.byteLength(bodies[0]!.body)).toBeLessThan(64 * 1024 * 0.5);
  });

  test("a batch is split before its body would pass 60 KiB, whatever the count", () => {
    const rows = Array.from({ length: 100 }, (_, n) => event(n, "x".repeat(1500)));
    const bodies = webhookBodies(rows, 100);
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) expect(Buffer.byteLength(b.body)).toBeLessThanOrEqual(60 * 1024);
    expect(bodies.flatMap((b) => b.rows)).toEqual(rows);
  });
});
