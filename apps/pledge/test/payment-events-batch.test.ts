// payment.* in batches: one transaction per batch ends every pledge exactly where applying the
// same events one by one in stream order would — chains inside a batch, reordered and duplicate
// events, many pledges at once, racing batches — with contiguous history and one event per step.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "@careforall/bus";
import type { PaymentChange } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { asc, eq } from "drizzle-orm";
import { pledgeHistory, pledges } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { createPaymentEventsHandler } from "../src/workers/payment-events";
import { type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;
let handle: ReturnType<typeof createPaymentEventsHandler>;

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
  handle = createPaymentEventsHandler({ db: h.db, clock: h.clock, log: silentLogger("batch") });
});
afterAll(async () => {
  await h.stop();
});

function paymentEvent(type: string, pledge: PledgeModel.Pledge, reason: string | null = null): EventEnvelope {
  const data: PaymentChange = {
    paymentId: Bun.randomUUIDv7(),
    pledgeId: pledge.id,
    holdId: "hold_1",
    amountMinor: pledge.amountMinor,
    currency: pledge.currency,
    reason,
    at: h.clock.date().toISOString(),
  };
  return newEvent(type, pledge.id, data, h.clock);
}

const donor = () => h.withAccount(user(`d${Math.random().toString(36).slice(2, 8)}`));

async function state(id: string) {
  const [row] = await h.db.select().from(pledges).where(eq(pledges.id, id));
  const history = await h.db
    .select()
    .from(pledgeHistory)
    .where(eq(pledgeHistory.pledgeId, id))
    .orderBy(asc(pledgeHistory.seq));
  const events = (await h.eventsFor(id)).map((e) => e.type);
  return {
    status: row!.status,
    failureReason: row!.failureReason,
    version: row!.version,
    history: history.map((x) => `${x.seq}:${x.status}`),
    events,
  };
}

describe("payment.* in batches", () => {
  test("a chain inside one batch (authorized, then captured) applies both steps in order, once", async () => {
    const p = await h.createPledge(donor(), campaignId);
    const out = await handle([paymentEvent("payment.authorized", p), paymentEvent("payment.captured", p)]);
    expect(out).toEqual(["applied", "applied"]);
    expect(await state(p.id)).toMatchObject({
      status: "captured",
      version: 3,
      history: ["1:pending", "2:authorized", "3:captured"],
      events: ["pledge.created", "pledge.authorized", "pledge.captured"],
    });
  });

  test("reordered in one batch (captured before authorized): both steps once, the late authorized ignored", async () => {
    const p = await h.createPledge(donor(), campaignId);
    const out = await handle([paymentEvent("payment.captured", p), paymentEvent("payment.authorized", p)]);
    expect(out).toEqual(["applied", "ignored"]);
    expect(await state(p.id)).toMatchObject({
      status: "captured",
      history: ["1:pending", "2:authorized", "3:captured"],
      events: ["pledge.created", "pledge.authorized", "pledge.captured"],
    });
  });

  test("the same batch twice, and a repeat inside a batch, change nothing the second time", async () => {
    const p = await h.createPledge(donor(), campaignId);
    const failed = paymentEvent("payment.failed", p, "insufficient_funds");
    expect(await handle([failed, failed])).toEqual(["applied", "duplicate"]);
    expect(await handle([failed])).toEqual(["duplicate"]);
    expect(await state(p.id)).toMatchObject({
      status: "failed",
      failureReason: "insufficient_funds",
      history: ["1:pending", "2:failed"],
      events: ["pledge.created", "pledge.failed"],
    });
  });

  test("equals one-by-one application for 40 pledges with mixed, interleaved events", async () => {
    const batchSide = await Promise.all(Array.from({ length: 20 }, () => h.createPledge(donor(), campaignId)));
    const singleSide = await Promise.all(Array.from({ length: 20 }, () => h.createPledge(donor(), campaignId)));
    const script = (ps: PledgeModel.Pledge[]) =>
      ps.flatMap((p, i) =>
        i % 4 === 0
          ? [paymentEvent("payment.failed", p, "declined")]
          : i % 4 === 1
            ? [paymentEvent("payment.captured", p), paymentEvent("payment.authorized", p)]
            : i % 4 === 2
              ? [paymentEvent("payment.authorized", p), paymentEvent("payment.expired", p)]
              : [
                  paymentEvent("payment.authorized", p),
                  paymentEvent("payment.captured", p),
                  paymentEvent("payment.refunded", p),
                ],
      );
    // Interleave pledges in the batch: events of different pledges mixed, each pledge's own order kept.
    const batch = script(batchSide).sort((a, b) => (a.aggregateId < b.aggregateId ? -1 : 1));
    await handle(batch);
    for (const e of script(singleSide)) await h.paymentHandler(e);
    for (let i = 0; i < 20; i++) {
      const a = await state(batchSide[i]!.id);
      const b = await state(singleSide[i]!.id);
      expect(a).toEqual(b);
    }
  });

  test("racing batches over the same pledges (opposite orders) neither deadlock nor double-apply", async () => {
    const ps = await Promise.all(Array.from({ length: 10 }, () => h.createPledge(donor(), campaignId)));
    const authorized = ps.map((p) => paymentEvent("payment.authorized", p));
    const captured = ps.map((p) => paymentEvent("payment.captured", p));
    await Promise.all([
      handle(authorized),
      handle([...captured].reverse()),
      handle([...authorized].reverse()),
      handle(captured),
    ]);
    for (const p of ps) {
      const s = await state(p.id);
      expect(s.status).toBe("captured");
      expect(s.history).toEqual(["1:pending", "2:authorized", "3:captured"]);
      expect(s.events).toEqual(["pledge.created", "pledge.authorized", "pledge.captured"]);
    }
  });

  test("an unknown pledge and a malformed event are reported; the rest of the batch applies", async () => {
    const p = await h.createPledge(donor(), campaignId);
    const ghost = { ...p, id: Bun.randomUUIDv7() };
    const malformed = { ...paymentEvent("payment.captured", p), data: { nope: true } };
    const out = await handle([
      paymentEvent("payment.authorized", ghost),
      malformed,
      paymentEvent("payment.authorized", p),
    ]);
    expect(out).toEqual(["unknown-pledge", "malformed", "applied"]);
    expect((await state(p.id)).status).toBe("authorized");
  });
});
