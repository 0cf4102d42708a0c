// The money path inside payment, against real PostgreSQL and a scripted fake BankClient:
// authorize → capture with events, failures, unknown outcomes resolved by the reconciler with
// the same idempotency keys, cancels and refunds racing the flow, and duplicate deliveries
// (invariants 1, 2 and 5).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { authorizeRequest } from "../src/bank-drive";
import { inbox, payments } from "../src/db/schema";
import { DECLINED_ACCOUNT, type FakeBank, INSUFFICIENT_ACCOUNT } from "./fake-bank";
import { type PaymentTestApp, pledgeChange, pledgeCreated, startPaymentTestApp } from "./support";

let h: PaymentTestApp;

beforeAll(async () => {
  h = await startPaymentTestApp();
});
afterAll(async () => {
  await h.stop();
});

/** Each test starts from an empty fake, so call counts are its own. */
const freshBank = (): FakeBank => h.bank.reset();

/**
 * The recovery point after tx{authorized}: the bank holds the money and the authorized state is
 * committed, then the process died before tx{capturing}.
 */
async function authorizedRecoveryPoint(bank: FakeBank, event = pledgeCreated()) {
  bank.script("authorize", "unknown");
  const row = (await h.service.handlePledgeCreated(event))!;
  const held = await bank.authorize(authorizeRequest(row));
  if (held.kind !== "ok" || !held.value.holdId) throw new Error("the fake did not hold");
  const applied = await h.service.apply({ id: row.id }, { type: "authorized", holdId: held.value.holdId }, "test");
  expect(applied.outcome).toBe("applied");
  return { event, row: await h.payment(row.id) };
}

const eventTypes = async (paymentId: string) => (await h.events(paymentId)).map((e) => e.type);

describe("happy path", () => {
  test("pledge.created → authorizing → authorized → capturing → captured, with both events in the outbox", async () => {
    const bank = freshBank();
    const event = pledgeCreated({ amountMinor: 12_345, currency: "BDT" });
    const row = await h.service.handlePledgeCreated(event);
    expect(row?.status).toBe("captured");
    const p = await h.payment(row!.id);
    expect(p).toMatchObject({
      pledgeId: event.data.pledgeId,
      campaignId: event.data.campaignId,
      amountMinor: 12_345,
      sourceAccountId: "acct_donor",
      status: "captured",
      cancelRequested: false,
      failureReason: null,
    });
    expect(p.holdId).toStartWith("hold_");
    expect(p.captureTransferId).toStartWith("tr_capture_");
    expect(p.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(await h.history(p.id)).toEqual(["authorizing", "authorized", "capturing", "captured"]);
    const events = await h.events(p.id);
    expect(events.map((e) => e.type)).toEqual(["payment.authorized", "payment.captured"]);
    expect(events[1]!.data).toMatchObject({
      paymentId: p.id,
      pledgeId: event.data.pledgeId,
      holdId: p.holdId,
      amountMinor: 12_345,
      currency: "BDT",
      reason: null,
    });
    // Idempotency keys: the payment id, then `${id}:capture`.
    expect(bank.keysOf("authorize")).toEqual([p.id]);
    expect(bank.keysOf("capture")).toEqual([`${p.id}:capture`]);
    expect(bank.performed()).toEqual({ holds: 1, captures: 1, releases: 0, refunds: 0 });
  });

  test.each([
    [DECLINED_ACCOUNT, "declined"],
    [INSUFFICIENT_ACCOUNT, "insufficient_funds"],
  ])("a refused authorize (%s) → failed(%s) with payment.failed", async (account, reason) => {
    const bank = freshBank();
    const event = pledgeCreated({ source: { bankAccountId: account, grant: "g" } });
    const row = await h.service.handlePledgeCreated(event);
    expect(row).toMatchObject({ status: "failed", failureReason: reason, holdId: null });
    expect(await h.history(row!.id)).toEqual(["authorizing", "failed"]);
    const events = await h.events(row!.id);
    expect(events.map((e) => [e.type, e.data.reason])).toEqual([["payment.failed", reason]]);
    expect(bank.count("capture")).toBe(0);
  });

  test("a definite 4xx on authorize fails the payment; a 409 (in flight) is retried instead", async () => {
    const bank = freshBank();
    bank.script("authorize", { status: 402 });
    const refused = await h.service.handlePledgeCreated(pledgeCreated());
    expect(refused).toMatchObject({ status: "failed", failureReason: "invalid_source" });
    bank.script("authorize", { status: 409 });
    const busy = await h.service.handlePledgeCreated(pledgeCreated());
    expect(busy).toMatchObject({ status: "authorizing", attempts: 1 });
    await h.reconcileLater();
    expect((await h.payment(busy!.id)).status).toBe("captured");
  });
});

describe("unknown outcomes, resolved by the reconciler", () => {
  test("authorize times out before the bank acted → retried with the SAME key → exactly one hold", async () => {
    const bank = freshBank();
    bank.script("authorize", "unknown");
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    expect(row).toMatchObject({ status: "authorizing", attempts: 1 });
    expect(row!.lastError).toContain("timeout");
    expect(await eventTypes(row!.id)).toEqual([]);
    // Not yet stale: the reconciler leaves it alone.
    expect(await h.reconciler.runOnce()).not.toContain(row!.id);

    expect(await h.reconcileLater()).toContain(row!.id);
    const p = await h.payment(row!.id);
    expect(p.status).toBe("captured");
    expect(bank.keysOf("holdByKey")).toEqual([p.id]);
    expect(bank.keysOf("authorize")).toEqual([p.id, p.id]);
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 1 });
    expect(await eventTypes(p.id)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("authorize done but its response lost → the reconciler finds the hold by key, no second authorize", async () => {
    const bank = freshBank();
    bank.script("authorize", "lost");
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    expect(row!.status).toBe("authorizing");
    await h.reconcileLater();
    const p = await h.payment(row!.id);
    expect(p.status).toBe("captured");
    expect(bank.count("authorize")).toBe(1);
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 1 });
    expect(await h.history(p.id)).toEqual(["authorizing", "authorized", "capturing", "captured"]);
  });

  test("capture done but its response lost → the reconciler sees the hold captured → captured, one capture", async () => {
    const bank = freshBank();
    bank.script("capture", "lost");
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    expect(row!.status).toBe("capturing");
    expect(await eventTypes(row!.id)).toEqual(["payment.authorized"]);
    await h.reconcileLater();
    const p = await h.payment(row!.id);
    expect(p.status).toBe("captured");
    expect(bank.count("capture")).toBe(1);
    expect(bank.performed().captures).toBe(1);
    expect(await eventTypes(p.id)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("capture fails with a 5xx before acting → the hold is still held → capture again with the same key", async () => {
    const bank = freshBank();
    bank.script("capture", { status: 503 });
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    expect(row!.status).toBe("capturing");
    await h.reconcileLater();
    const p = await h.payment(row!.id);
    expect(p.status).toBe("captured");
    expect(bank.keysOf("capture")).toEqual([`${p.id}:capture`, `${p.id}:capture`]);
    expect(bank.performed().captures).toBe(1);
  });

  test("the bank stays unreachable: the payment waits with growing backoff, then converges", async () => {
    const bank = freshBank();
    bank.script("authorize", "unknown");
    bank.script("holdByKey", "unknown", "unknown");
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    await h.reconcileLater();
    await h.reconcileLater();
    const waiting = await h.payment(row!.id);
    expect(waiting).toMatchObject({ status: "authorizing", attempts: 3 });
    await h.reconcileLater();
    expect((await h.payment(row!.id)).status).toBe("captured");
    expect(bank.performed().holds).toBe(1);
  });

  test("a process killed after the authorized commit (before capturing) is resumed by the reconciler", async () => {
    const bank = freshBank();
    const { row } = await authorizedRecoveryPoint(bank);
    expect(row.status).toBe("authorized");
    await h.reconcileLater();
    const p = await h.payment(row.id);
    expect(p.status).toBe("captured");
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 1 });
    expect(await h.history(p.id)).toEqual(["authorizing", "authorized", "capturing", "captured"]);
  });
});

describe("cancel and refund", () => {
  test("cancel while authorizing → the completing authorize releases instead of capturing", async () => {
    const bank = freshBank();
    const gate = bank.gate("authorize");
    const event = pledgeCreated();
    const flow = h.service.handlePledgeCreated(event);
    await gate.reached;
    await h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data));
    gate.open();
    const row = await flow;
    expect(row).toMatchObject({ status: "released", cancelRequested: true });
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 0, releases: 1 });
    expect(bank.keysOf("release")).toEqual([`${row!.id}:release`]);
    expect(await eventTypes(row!.id)).toEqual(["payment.authorized", "payment.released"]);
  });

  test("cancel after authorize (process died before capturing) → released, never captured", async () => {
    const bank = freshBank();
    const { event, row } = await authorizedRecoveryPoint(bank);
    const result = await h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data));
    expect(result?.outcome).toBe("applied");
    const p = await h.payment(row.id);
    expect(p).toMatchObject({ status: "released", cancelRequested: true });
    expect(bank.keysOf("release")).toEqual([`${row.id}:release`]);
    expect(bank.count("capture")).toBe(0);
    expect(await eventTypes(row.id)).toEqual(["payment.authorized", "payment.released"]);
    // The reconciler finds nothing left to do.
    await h.reconcileLater();
    expect((await h.payment(row.id)).status).toBe("released");
  });

  test("cancel while a capture's outcome is unknown → the reconciler confirms the capture, then refunds it", async () => {
    const bank = freshBank();
    bank.script("capture", "lost");
    const event = pledgeCreated();
    const row = await h.service.handlePledgeCreated(event);
    expect(row!.status).toBe("capturing");
    const cancel = await h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data));
    expect(cancel?.outcome).toBe("applied");
    expect((await h.payment(row!.id)).status).toBe("capturing");
    await h.reconcileLater();
    const p = await h.payment(row!.id);
    expect(p.status).toBe("refunded");
    expect(bank.performed()).toMatchObject({ captures: 1, refunds: 1, releases: 0 });
  });

  test("a capture that won the race against the cancel is refunded: no net charge", async () => {
    const bank = freshBank();
    const gate = bank.gate("capture");
    const event = pledgeCreated();
    const flow = h.service.handlePledgeCreated(event);
    await gate.reached;
    const cancel = await h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data));
    expect(cancel?.outcome).toBe("applied");
    gate.open();
    const row = await flow;
    expect(row).toMatchObject({ status: "refunded", cancelRequested: true });
    expect(bank.performed()).toMatchObject({ captures: 1, refunds: 1 });
    expect(bank.keysOf("refund")).toEqual([`${row!.id}:refund`]);
    expect(await h.history(row!.id)).toEqual([
      "authorizing",
      "authorized",
      "capturing",
      "captured",
      "refunding",
      "refunded",
    ]);
    expect(await eventTypes(row!.id)).toEqual(["payment.authorized", "payment.captured", "payment.refunded"]);
  });

  test("cancel of an already captured payment → refunded", async () => {
    const bank = freshBank();
    const event = pledgeCreated();
    const row = await h.service.handlePledgeCreated(event);
    await h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data));
    expect((await h.payment(row!.id)).status).toBe("refunded");
    expect(bank.performed()).toMatchObject({ captures: 1, refunds: 1 });
  });

  test("a cancel that overtakes its pledge.created is remembered: the payment starts cancelled and is released", async () => {
    // The system chaos found it: pledge.created stranded with a killed payment process for the bus's
    // ack wait (60 s) outlived the cancel's redeliveries, which were then terminated, and the late
    // pledge.created captured the money of a cancelled pledge.
    const bank = freshBank();
    const event = pledgeCreated();
    const cancel = pledgeChange("pledge.cancelled", event.data);
    expect(await h.service.handlePledgeCancelled(cancel)).toEqual({ outcome: "remembered" });
    // A redelivery of the same cancel changes nothing.
    expect(await h.service.handlePledgeCancelled(cancel)).toEqual({ outcome: "remembered" });
    const row = await h.service.handlePledgeCreated(event);
    expect(row).toMatchObject({ status: "released", cancelRequested: true });
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 0, releases: 1, refunds: 0 });
    expect(await eventTypes(row!.id)).toEqual(["payment.authorized", "payment.released"]);
    // Once the payment exists, the same cancel event is a duplicate.
    expect((await h.service.handlePledgeCancelled(cancel))?.outcome).toBe("duplicate");
    await h.reconcileLater();
    expect((await h.payment(row!.id)).status).toBe("released");
  });

  test("a cancel racing its pledge.created is never lost: every payment ends without the money", async () => {
    const bank = freshBank();
    const events = Array.from({ length: 20 }, () => pledgeCreated());
    await Promise.all(
      events.flatMap((event) => [
        h.service.handlePledgeCreated(event),
        h.service.handlePledgeCancelled(pledgeChange("pledge.cancelled", event.data)),
      ]),
    );
    await h.reconcileLater();
    for (const event of events) {
      const [row] = await h.db.select().from(payments).where(eq(payments.pledgeId, event.data.pledgeId));
      expect(row).toMatchObject({ cancelRequested: true });
      expect(["released", "refunded"]).toContain(row!.status);
    }
    const done = bank.performed();
    expect(done.captures).toBe(done.refunds);
  });

  test("pledge.refund_requested: captured → refunding → refunded with payment.refunded, once", async () => {
    const bank = freshBank();
    const event = pledgeCreated();
    const row = await h.service.handlePledgeCreated(event);
    const request = pledgeChange("pledge.refund_requested", event.data);
    const first = await h.service.handlePledgeRefundRequested(request);
    expect(first?.outcome).toBe("applied");
    const again = await h.service.handlePledgeRefundRequested(request);
    expect(again?.outcome).toBe("duplicate");
    const another = await h.service.handlePledgeRefundRequested(pledgeChange("pledge.refund_requested", event.data));
    expect(another?.outcome).toBe("stale");
    const p = await h.payment(row!.id);
    expect(p).toMatchObject({ status: "refunded", refundRequested: true });
    expect(p.refundTransferId).toStartWith("tr_refund_");
    expect(bank.keysOf("refund")).toEqual([`${p.id}:refund`]);
    const events = await h.events(p.id);
    expect(events.map((e) => e.type)).toEqual(["payment.authorized", "payment.captured", "payment.refunded"]);
  });

  test("a refund whose response is lost is confirmed by the reconciler from the hold", async () => {
    const bank = freshBank();
    bank.script("refund", "lost");
    const event = pledgeCreated();
    const row = await h.service.handlePledgeCreated(event);
    await h.service.handlePledgeRefundRequested(pledgeChange("pledge.refund_requested", event.data));
    expect((await h.payment(row!.id)).status).toBe("refunding");
    await h.reconcileLater();
    expect((await h.payment(row!.id)).status).toBe("refunded");
    expect(bank.count("refund")).toBe(1);
    expect(bank.performed().refunds).toBe(1);
  });

  test("a hold that expired before the capture → expired with payment.expired", async () => {
    const bank = freshBank();
    bank.script("capture", "unknown");
    const row = await h.service.handlePledgeCreated(pledgeCreated());
    bank.setHoldStatus(row!.holdId!, "expired");
    await h.reconcileLater();
    expect((await h.payment(row!.id)).status).toBe("expired");
    expect(await eventTypes(row!.id)).toEqual(["payment.authorized", "payment.expired"]);
  });
});

describe("duplicates and concurrency", () => {
  test("pledge.created delivered twice → one payment, one authorize call", async () => {
    const bank = freshBank();
    const event = pledgeCreated();
    const first = await h.service.handlePledgeCreated(event);
    const second = await h.service.handlePledgeCreated(event);
    expect(first!.status).toBe("captured");
    expect(second).toBeUndefined();
    // Even under a different event id (a re-published pledge), the unique pledge_id decides.
    expect(await h.service.handlePledgeCreated(pledgeCreated(event.data))).toBeUndefined();
    const rows = await h.db.select().from(payments).where(eq(payments.pledgeId, event.data.pledgeId));
    expect(rows).toHaveLength(1);
    expect(bank.count("authorize")).toBe(1);
  });

  test("20 concurrent handlings of the same pledge.created → one payment row, one hold", async () => {
    const bank = freshBank();
    const event = pledgeCreated();
    const results = await Promise.all(Array.from({ length: 20 }, () => h.service.handlePledgeCreated(event)));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const rows = await h.db.select().from(payments).where(eq(payments.pledgeId, event.data.pledgeId));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("captured");
    const seen = await h.db.select().from(inbox).where(eq(inbox.eventId, event.id));
    expect(seen).toHaveLength(1);
    expect(bank.count("authorize")).toBe(1);
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 1 });
  });

  test("20 concurrent different deliveries of one pledge (distinct event ids) → still one payment", async () => {
    const bank = freshBank();
    const event = pledgeCreated();
    await Promise.all(Array.from({ length: 20 }, () => h.service.handlePledgeCreated(pledgeCreated(event.data))));
    const rows = await h.db.select().from(payments).where(eq(payments.pledgeId, event.data.pledgeId));
    expect(rows).toHaveLength(1);
    expect(bank.performed().holds).toBe(1);
  });

  test("two reconciler replicas racing on one payment: one claims it (SKIP LOCKED + lease), one capture", async () => {
    const bank = freshBank();
    bank.script("capture", "lost");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    h.clock.advance(10_000);
    const passes = await Promise.all([h.reconciler.runOnce(), h.reconciler.runOnce()]);
    expect(passes.filter((ids) => ids.includes(row.id))).toHaveLength(1);
    expect((await h.payment(row.id)).status).toBe("captured");
    expect(bank.performed().captures).toBe(1);
    expect(await eventTypes(row.id)).toEqual(["payment.authorized", "payment.captured"]);
  });

  test("the reconciler and a worker driving the same payment at once still capture once", async () => {
    const bank = freshBank();
    bank.script("capture", "unknown");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    h.clock.advance(10_000);
    await Promise.all([h.reconciler.runOnce(), h.service.drive(row.id, "test"), h.service.reconcile(row.id)]);
    expect((await h.payment(row.id)).status).toBe("captured");
    expect(bank.performed().captures).toBe(1);
    expect(await eventTypes(row.id)).toEqual(["payment.authorized", "payment.captured"]);
    expect(await h.history(row.id)).toEqual(["authorizing", "authorized", "capturing", "captured"]);
  });

  test("a malformed pledge.created is acknowledged without effect", async () => {
    const event = pledgeCreated();
    const bad = { ...event, data: { ...event.data, amountMinor: "lots" } };
    expect(await h.service.handlePledgeCreated(bad as never)).toBeUndefined();
    expect(await h.paymentOfPledge(event.data.pledgeId)).toBeUndefined();
  });
});
