// The wiring main.ts uses, on the in-process bus: the durable pledge consumers start payments
// and cancel them, the outbox relay publishes payment.* once each, and the reconciler loop
// converges stuck payments on its own (invariants 2 and 5).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Bus, createMemoryBus, type EventEnvelope, type Subscription } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { createOutboxRelay, type OutboxRelay } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { outbox } from "../src/db/schema";
import { startPledgeConsumers } from "../src/workers/pledge-consumers";
import { type PaymentTestApp, pledgeChange, pledgeCreated, startPaymentTestApp } from "./support";

let h: PaymentTestApp;
let bus: Bus;
let relay: OutboxRelay;
const subscriptions: Subscription[] = [];
const published: EventEnvelope[] = [];

beforeAll(async () => {
  const log = silentLogger("payment-workers-test");
  h = await startPaymentTestApp();
  bus = createMemoryBus({ log });
  relay = createOutboxRelay({ db: h.db, table: outbox, bus, log, pollMs: 25 });
  subscriptions.push(
    await bus.subscribe({
      types: ["payment.*"],
      handler: async (event) => {
        published.push(event);
      },
    }),
  );
  subscriptions.push(...(await startPledgeConsumers({ bus, service: h.service, backoffMs: [20, 50] })));
  relay.start();
});
afterAll(async () => {
  for (const s of subscriptions) await s.stop();
  await relay.stop();
  await bus.close();
  await h.stop();
});

const publishedFor = (paymentId: string) =>
  published.filter((e) => (e.data as { paymentId: string }).paymentId === paymentId).map((e) => e.type);

test("pledge.created on the bus → captured, and payment.authorized + payment.captured reach the bus once", async () => {
  h.bank.reset();
  const event = pledgeCreated();
  await bus.publish(event);
  await bus.publish(event); // a duplicate publish is deduplicated by the bus, a redelivery by the inbox
  const row = await waitFor(
    async () => {
      const p = await h.paymentOfPledge(event.data.pledgeId);
      return p?.status === "captured" ? p : undefined;
    },
    { what: "the payment captured" },
  );
  await waitFor(() => publishedFor(row.id).length === 2, { what: "both events published" });
  expect(publishedFor(row.id)).toEqual(["payment.authorized", "payment.captured"]);
  expect(h.bank.count("authorize")).toBe(1);
});

test("a pledge.cancelled that overtakes its pledge.created is redelivered until it can refund", async () => {
  h.bank.reset();
  const event = pledgeCreated();
  await bus.publish(pledgeChange("pledge.cancelled", event.data));
  await bus.publish(event);
  const row = await waitFor(
    async () => {
      const p = await h.paymentOfPledge(event.data.pledgeId);
      return p?.status === "refunded" || p?.status === "released" ? p : undefined;
    },
    { what: "no net charge" },
  );
  await waitFor(
    () => publishedFor(row.id).includes(row.status === "refunded" ? "payment.refunded" : "payment.released"),
    {
      what: "the final event on the bus",
    },
  );
  const performed = h.bank.performed();
  expect(performed.captures - performed.refunds).toBe(0);
});

test("pledge.refund_requested on the bus → refunded", async () => {
  h.bank.reset();
  const event = pledgeCreated();
  await bus.publish(event);
  await waitFor(async () => (await h.paymentOfPledge(event.data.pledgeId))?.status === "captured", {
    what: "captured",
  });
  await bus.publish(pledgeChange("pledge.refund_requested", event.data));
  await waitFor(async () => (await h.paymentOfPledge(event.data.pledgeId))?.status === "refunded", {
    what: "refunded",
  });
});

test("the reconciler loop converges a stuck payment on its own", async () => {
  h.bank.reset().script("authorize", "unknown");
  const event = pledgeCreated();
  const row = (await h.service.handlePledgeCreated(event))!;
  expect(row.status).toBe("authorizing");
  h.clock.advance(60_000);
  h.reconciler.start();
  try {
    await waitFor(async () => (await h.payment(row.id)).status === "captured", { what: "reconciled to captured" });
  } finally {
    await h.reconciler.stop();
  }
  expect(h.bank.performed().holds).toBe(1);
});
