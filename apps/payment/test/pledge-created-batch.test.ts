// pledge.created in batches: every payment of a batch ends exactly where the single path would
// take it (captured, failed with the bank's reason, released after an early cancel), each charged
// at most once, whatever repeats inside and across batches, unknown or lost bank answers, and
// writers that move a payment while the batch is at the bank (invariants 1, 2 and 5).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { silentLogger } from "@careforall/log";
import { eq, inArray } from "drizzle-orm";
import type { AuthorizeRequest, CaptureRequest } from "../src/bank-client";
import { paymentHistory, payments } from "../src/db/schema";
import { createPledgeCreatedBatch } from "../src/pledge-created-batch";
import { DECLINED_ACCOUNT, FakeBank, INSUFFICIENT_ACCOUNT } from "./fake-bank";
import { type PaymentTestApp, pledgeCreated, startPaymentTestApp } from "./support";

/** The fake bank with the batch endpoints: one call per batch, each item as its single call. */
class BatchingFakeBank extends FakeBank {
  batchCalls = { authorize: 0, capture: 0 };
  authorizeBatch(items: AuthorizeRequest[]) {
    this.batchCalls.authorize++;
    return Promise.all(items.map((i) => this.authorize(i)));
  }
  captureBatch(items: CaptureRequest[]) {
    this.batchCalls.capture++;
    return Promise.all(items.map((i) => this.capture(i)));
  }
}

let h: PaymentTestApp<BatchingFakeBank>;
let handle: ReturnType<typeof createPledgeCreatedBatch>;

beforeAll(async () => {
  h = await startPaymentTestApp({ bank: new BatchingFakeBank() });
  handle = createPledgeCreatedBatch({
    db: h.db,
    bank: h.bank,
    clock: h.clock,
    log: silentLogger("batch-test"),
    service: h.service,
  });
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  h.bank.reset();
  h.bank.batchCalls = { authorize: 0, capture: 0 };
});

const byPledge = async (pledgeIds: string[]) => {
  const rows = await h.db.select().from(payments).where(inArray(payments.pledgeId, pledgeIds));
  return new Map(rows.map((r) => [r.pledgeId, r]));
};

describe("pledge.created in batches", () => {
  test("a mixed batch: each payment ends as the single path ends it, with one bank call per phase", async () => {
    const ok = Array.from({ length: 20 }, () => pledgeCreated());
    const declined = pledgeCreated({ source: { bankAccountId: DECLINED_ACCOUNT, grant: "g" } });
    const poor = pledgeCreated({ source: { bankAccountId: INSUFFICIENT_ACCOUNT, grant: "g" } });
    const batch = [...ok.slice(0, 10), declined, ...ok.slice(10), poor];
    await handle(batch);

    const rows = await byPledge(batch.map((e) => e.data.pledgeId));
    expect(rows.size).toBe(22);
    for (const e of ok) {
      const row = rows.get(e.data.pledgeId)!;
      expect(row.status).toBe("captured");
      expect(row.holdId).toStartWith("hold_");
      expect(row.captureTransferId).toStartWith("tr_capture_");
      expect(await h.history(row.id)).toEqual(["authorizing", "authorized", "capturing", "captured"]);
      expect((await h.events(row.id)).map((x) => x.type)).toEqual(["payment.authorized", "payment.captured"]);
    }
    for (const [e, reason] of [
      [declined, "declined"],
      [poor, "insufficient_funds"],
    ] as const) {
      const row = rows.get(e.data.pledgeId)!;
      expect(row).toMatchObject({ status: "failed", failureReason: reason, holdId: null });
      expect(await h.history(row.id)).toEqual(["authorizing", "failed"]);
      const events = await h.events(row.id);
      expect(events.map((x) => x.type)).toEqual(["payment.failed"]);
      expect(events[0]!.data.reason).toBe(reason);
    }
    expect(h.bank.batchCalls).toEqual({ authorize: 1, capture: 1 });
    expect(h.bank.performed()).toMatchObject({ holds: 20, captures: 20 });
  });

  test("redelivered batches and repeats inside one batch change nothing: one payment and one hold per pledge", async () => {
    const a = pledgeCreated();
    const b = pledgeCreated();
    const bAgain = { ...pledgeCreated({ ...b.data }), id: Bun.randomUUIDv7() }; // another event id, same pledge
    await handle([a, b, a, bAgain]);
    await handle([b, a]);
    await Promise.all([handle([a, b]), handle([b, a, bAgain])]);
    const rows = await byPledge([a.data.pledgeId, b.data.pledgeId]);
    expect([...rows.values()].map((r) => r.status)).toEqual(["captured", "captured"]);
    expect(h.bank.count("authorize")).toBe(2);
    expect(h.bank.performed()).toMatchObject({ holds: 2, captures: 2 });
    for (const row of rows.values()) expect((await h.events(row.id)).map((x) => x.type)).toHaveLength(2);
  });

  test("a cancel that came first: that payment starts cancelled and is released; its neighbours are captured", async () => {
    const cancelledFirst = pledgeCreated();
    const others = [pledgeCreated(), pledgeCreated()];
    const cancel = {
      id: Bun.randomUUIDv7(),
      type: "pledge.cancelled",
      occurredAt: new Date().toISOString(),
      aggregateId: cancelledFirst.data.pledgeId,
      data: {
        pledgeId: cancelledFirst.data.pledgeId,
        campaignId: cancelledFirst.data.campaignId,
        donorId: null,
        donorKey: "guest:x",
        donorName: null,
        anonymous: false,
        message: null,
        status: "cancelled",
        amountMinor: cancelledFirst.data.amountMinor,
        currency: cancelledFirst.data.currency,
        failureReason: null,
        at: new Date().toISOString(),
      },
    };
    expect(await h.service.handlePledgeCancelled(cancel)).toEqual({ outcome: "remembered" });
    await handle([others[0]!, cancelledFirst, others[1]!]);
    const rows = await byPledge([cancelledFirst.data.pledgeId, ...others.map((e) => e.data.pledgeId)]);
    const released = rows.get(cancelledFirst.data.pledgeId)!;
    expect(released.status).toBe("released");
    expect(released.captureTransferId).toBeNull();
    expect(h.bank.keysOf("capture")).not.toContain(`${released.id}:capture`);
    for (const e of others) expect(rows.get(e.data.pledgeId)!.status).toBe("captured");
  });

  test("an unknown authorize and a lost capture stay at their recovery points; the reconciler converges them once", async () => {
    const batch = [pledgeCreated(), pledgeCreated(), pledgeCreated()];
    // The first authorize of the batch times out before the bank acts; the first capture is done but its answer lost.
    h.bank.script("authorize", "unknown");
    h.bank.script("capture", "lost");
    await handle(batch);
    const before = await byPledge(batch.map((e) => e.data.pledgeId));
    const statuses = [...before.values()].map((r) => r.status).sort();
    expect(statuses).toEqual(["authorizing", "captured", "capturing"]);
    const waiting = [...before.values()].find((r) => r.status === "authorizing")!;
    expect(waiting.attempts).toBe(1);
    expect(waiting.lastError).toContain("timeout");

    for (let i = 0; i < 5; i++) await h.reconcileLater();
    await h.service.idle();
    const after = await byPledge(batch.map((e) => e.data.pledgeId));
    expect([...after.values()].map((r) => r.status)).toEqual(["captured", "captured", "captured"]);
    expect(h.bank.performed()).toMatchObject({ holds: 3, captures: 3 });
  });

  test("a payment moved by another writer while the batch was at the bank is finished by the single path, once", async () => {
    const batch = [pledgeCreated(), pledgeCreated()];
    const gate = h.bank.gate("authorize", "after");
    const running = handle(batch);
    await gate.reached;
    // The bank did the first authorize; its webhook lands before the batch records it.
    const [first] = await h.db.select().from(payments).where(eq(payments.pledgeId, batch[0]!.data.pledgeId));
    const holdId = [...h.bank.holds.values()].find((x) => x.paymentRef === first!.id)!.id;
    expect((await h.service.apply({ id: first!.id }, { type: "authorized", holdId }, "webhook:test")).outcome).toBe(
      "applied",
    );
    gate.open();
    await running;
    await h.service.idle();
    const rows = await byPledge(batch.map((e) => e.data.pledgeId));
    for (const row of rows.values()) {
      expect(row.status).toBe("captured");
      expect((await h.events(row.id)).map((x) => x.type)).toEqual(["payment.authorized", "payment.captured"]);
    }
    const history = await h.db.select().from(paymentHistory).where(eq(paymentHistory.paymentId, first!.id));
    expect(history.filter((x) => x.status === "authorized")).toHaveLength(1);
    expect(h.bank.performed()).toMatchObject({ holds: 2, captures: 2 });
  });

  test("without the batch endpoints the same batch works with one call per payment", async () => {
    const plain = await startPaymentTestApp();
    try {
      const run = createPledgeCreatedBatch({
        db: plain.db,
        bank: plain.bank,
        clock: plain.clock,
        log: silentLogger("batch-test"),
        service: plain.service,
      });
      const batch = [pledgeCreated(), pledgeCreated({ source: { bankAccountId: DECLINED_ACCOUNT, grant: "g" } })];
      await run(batch);
      const [a, b] = await Promise.all(batch.map((e) => plain.paymentOfPledge(e.data.pledgeId)));
      expect([a!.status, b!.status]).toEqual(["captured", "failed"]);
      expect(plain.bank.count("authorize")).toBe(2);
    } finally {
      await plain.stop();
    }
  });

  test("malformed events are skipped; the rest of the batch is handled", async () => {
    const good = pledgeCreated();
    const bad = { ...pledgeCreated(), data: { pledgeId: "not-a-uuid" } };
    await handle([bad as never, good]);
    expect((await h.paymentOfPledge(good.data.pledgeId))?.status).toBe("captured");
  });
});
