// payment.* events drive pledges through the machine against real PostgreSQL: each change commits
// with its history and a matching pledge.* outbox event; duplicates (same event id) and late or
// reordered events change nothing (invariants 1, 2 and 5). Also the campaign read model and the
// consumers' wiring to a bus.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMemoryBus, type Subscription } from "@careforall/bus";
import { PledgeChange } from "@careforall/events";
import { createLogger, silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { Value } from "@sinclair/typebox/value";
import { eq } from "drizzle-orm";
import { campaigns, pledges } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { startCampaignConsumer } from "../src/workers/campaign-events";
import { startPaymentConsumer } from "../src/workers/payment-events";
import { type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;
const donor = user("donor");

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
  h.withAccount(donor);
});
afterAll(async () => {
  await h.stop();
});

const newPledge = (body: Record<string, unknown> = {}) => h.createPledge(donor, campaignId, body);

async function read(id: string) {
  const res = await h.call("GET", `/pledges/${id}`, { as: donor });
  expect(res.status).toBe(200);
  return (await res.json()) as PledgeModel.Pledge;
}

/** The pledge.* events after pledge.created, as [type, status] pairs. */
async function changes(id: string) {
  const events = (await h.eventsFor(id)).filter((e) => e.type !== "pledge.created");
  for (const e of events) expect(Value.Check(PledgeChange, e.data)).toBe(true);
  return events.map((e) => [e.type, e.data.status]);
}

const statuses = (p: PledgeModel.Pledge) => p.history.map((s) => s.status);

describe("the happy path", () => {
  test("authorized then captured: two events, history pending → authorized → captured", async () => {
    const p = await newPledge({ message: "hello", anonymous: true });
    const before = h.commits();
    expect(await h.payment("payment.authorized", p)).toBe("applied");
    h.clock.advance(1_000);
    expect(await h.payment("payment.captured", p)).toBe("applied");
    expect(h.commits()).toBe(before + 2);
    const now = await read(p.id);
    expect(now.status).toBe("captured");
    expect(statuses(now)).toEqual(["pending", "authorized", "captured"]);
    expect(now.updatedAt).toBe(h.clock.date().toISOString());
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.captured", "captured"],
    ]);
    const captured = (await h.eventsFor(p.id)).at(-1)!;
    expect(captured.data).toEqual({
      pledgeId: p.id,
      campaignId,
      donorId: donor.id,
      donorKey: donor.id,
      donorName: donor.name,
      anonymous: true,
      message: "hello",
      status: "captured",
      amountMinor: p.amountMinor,
      currency: "BDT",
      failureReason: null,
      at: h.clock.date().toISOString(),
    });
    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, p.id));
    expect(row!.version).toBe(3);
  });

  test("captured before authorized: both steps once, both events; the late authorized is ignored", async () => {
    const p = await newPledge();
    expect(await h.payment("payment.captured", p)).toBe("applied");
    expect(await h.payment("payment.authorized", p)).toBe("ignored");
    const now = await read(p.id);
    expect(statuses(now)).toEqual(["pending", "authorized", "captured"]);
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.captured", "captured"],
    ]);
  });

  test("failed: failureReason from the payment, one pledge.failed event carrying it", async () => {
    const p = await newPledge();
    await h.payment("payment.failed", p, { reason: "insufficient_funds", holdId: null });
    const now = await read(p.id);
    expect(now).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });
    expect(statuses(now)).toEqual(["pending", "failed"]);
    const [failed] = (await h.eventsFor(p.id)).filter((e) => e.type === "pledge.failed");
    expect(failed!.data).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });
    // Nothing moves a failed pledge.
    expect(await h.payment("payment.captured", p)).toBe("ignored");
    expect((await read(p.id)).status).toBe("failed");
  });

  test("expired after authorized", async () => {
    const p = await newPledge();
    await h.payment("payment.authorized", p);
    await h.payment("payment.expired", p);
    const now = await read(p.id);
    expect(statuses(now)).toEqual(["pending", "authorized", "expired"]);
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.expired", "expired"],
    ]);
  });

  test("refunded after an admin's refund request", async () => {
    const p = await newPledge();
    await h.payment("payment.authorized", p);
    await h.payment("payment.captured", p);
    const admin = user("root", "admin");
    expect((await h.call("POST", `/pledges/${p.id}/refund`, { as: admin })).status).toBe(202);
    await h.payment("payment.refunded", p);
    const now = await read(p.id);
    expect(statuses(now)).toEqual(["pending", "authorized", "captured", "refunded"]);
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.captured", "captured"],
      ["pledge.refund_requested", "captured"],
      ["pledge.refunded", "refunded"],
    ]);
  });
});

describe("duplicates and late events change nothing", () => {
  test("the same event id delivered twice applies once", async () => {
    const p = await newPledge();
    const id = Bun.randomUUIDv7();
    expect(await h.payment("payment.authorized", p, {}, id)).toBe("applied");
    const commits = h.commits();
    expect(await h.payment("payment.authorized", p, {}, id)).toBe("duplicate");
    expect(h.commits()).toBe(commits);
    expect(statuses(await read(p.id))).toEqual(["pending", "authorized"]);
    expect(await changes(p.id)).toHaveLength(1);
  });

  test("10 concurrent deliveries of one event apply once", async () => {
    const p = await newPledge();
    const id = Bun.randomUUIDv7();
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => h.payment("payment.captured", p, {}, id)));
    expect(outcomes.filter((o) => o === "applied")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(9);
    expect(statuses(await read(p.id))).toEqual(["pending", "authorized", "captured"]);
  });

  test("a second captured (new event id) and a late authorized: ignored, no event, no version bump", async () => {
    const p = await newPledge();
    await h.payment("payment.captured", p);
    const [before] = await h.db.select().from(pledges).where(eq(pledges.id, p.id));
    expect(await h.payment("payment.captured", p)).toBe("ignored");
    expect(await h.payment("payment.authorized", p)).toBe("ignored");
    expect(await h.payment("payment.failed", p, { reason: "declined" })).toBe("ignored");
    const [after] = await h.db.select().from(pledges).where(eq(pledges.id, p.id));
    expect(after).toEqual(before!);
    expect(await changes(p.id)).toHaveLength(2);
  });

  test("concurrent different events on one pledge serialise: captured and authorized racing end captured, once each", async () => {
    const p = await newPledge();
    await Promise.all([h.payment("payment.captured", p), h.payment("payment.authorized", p)]);
    const now = await read(p.id);
    expect(statuses(now)).toEqual(["pending", "authorized", "captured"]);
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.captured", "captured"],
    ]);
  });

  test("events reach the outbox in the order they were applied, not the order their transactions began", async () => {
    const p = await newPledge();
    const capturedId = Bun.randomUUIDv7();
    // Hold the inbox slot of the captured event, so its transaction begins now but waits.
    const blocker = await h.client.reserve();
    try {
      await blocker`begin`;
      await blocker`insert into pledge.inbox (consumer, event_id) values ('pledge-payments', ${capturedId})`;
      const captured = h.payment("payment.captured", p, {}, capturedId);
      await waitFor(
        async () =>
          (
            await h.client`select 1 from pg_stat_activity
              where application_name = 'pledge-test' and wait_event_type = 'Lock' and query ilike '%inbox%'`
          ).length > 0,
        { what: "the captured event's transaction waiting" },
      );
      // Meanwhile, a later transaction authorizes the pledge and commits first.
      expect(await h.payment("payment.authorized", p)).toBe("applied");
      await blocker`rollback`;
      expect(await captured).toBe("applied");
    } finally {
      blocker.release();
    }
    // The relay publishes in event-id order: authorized must come before captured.
    expect(await changes(p.id)).toEqual([
      ["pledge.authorized", "authorized"],
      ["pledge.captured", "captured"],
    ]);
  });

  test("a cancelled pledge ignores the payment events that raced the cancel", async () => {
    const p = await newPledge();
    expect((await h.call("POST", `/pledges/${p.id}/cancel`, { as: donor })).status).toBe(200);
    for (const type of ["payment.authorized", "payment.captured", "payment.released", "payment.refunded"]) {
      expect(await h.payment(type, p)).toBe("ignored");
    }
    expect(statuses(await read(p.id))).toEqual(["pending", "cancelled"]);
    expect(await changes(p.id)).toEqual([["pledge.cancelled", "cancelled"]]);
  });

  test("malformed payloads and unknown pledges are dropped without throwing (no poison loop)", async () => {
    expect(await h.paymentHandler(newEvent("payment.captured", "x", { nonsense: true }))).toBe("malformed");
    expect(await h.paymentHandler(newEvent("payment.exploded", "x", {}))).toBe("malformed");
    expect(await h.payment("payment.captured", { id: Bun.randomUUIDv7(), amountMinor: 100, currency: "BDT" })).toBe(
      "unknown-pledge",
    );
  });
});

describe("campaign read model", () => {
  const snapshot = (id: string, version: number, status: "active" | "closed", currency: "BDT" | "USD" = "BDT") => {
    const now = h.clock.date().toISOString();
    return {
      id,
      ownerId: Bun.randomUUIDv7(),
      title: "t",
      description: "d",
      goalMinor: 1_000,
      currency,
      status,
      raisedMinor: 0,
      donorCount: 0,
      pledgeCount: 0,
      endsAt: null,
      createdAt: now,
      updatedAt: now,
      version,
    };
  };
  const view = async (id: string) => (await h.db.select().from(campaigns).where(eq(campaigns.id, id)))[0];

  test("created then updated applies in order; an older version never overwrites a newer one", async () => {
    const id = Bun.randomUUIDv7();
    expect(await h.campaignHandler(newEvent("campaign.created", id, snapshot(id, 1, "active")))).toBe("applied");
    expect(await h.campaignHandler(newEvent("campaign.updated", id, snapshot(id, 3, "closed")))).toBe("applied");
    expect(await h.campaignHandler(newEvent("campaign.updated", id, snapshot(id, 2, "active")))).toBe("stale");
    expect(await view(id)).toMatchObject({ status: "closed", version: 3 });
  });

  test("an update that arrives before the create: the create is stale", async () => {
    const id = Bun.randomUUIDv7();
    await h.campaignHandler(newEvent("campaign.updated", id, snapshot(id, 2, "closed", "USD")));
    expect(await h.campaignHandler(newEvent("campaign.created", id, snapshot(id, 1, "active", "USD")))).toBe("stale");
    expect(await view(id)).toMatchObject({ status: "closed", currency: "USD", version: 2 });
  });

  test("a redelivered event is a duplicate; malformed snapshots are dropped", async () => {
    const id = Bun.randomUUIDv7();
    const event = newEvent("campaign.created", id, snapshot(id, 1, "active"));
    expect(await h.campaignHandler(event)).toBe("applied");
    expect(await h.campaignHandler(event)).toBe("duplicate");
    expect(await h.campaignHandler(newEvent("campaign.created", id, { id }))).toBe("malformed");
  });
});

describe("wiring to a bus", () => {
  test("the consumers receive campaign.* and payment.* from the bus and apply them", async () => {
    const log = silentLogger("pledge-bus-test");
    const bus = createMemoryBus({ log });
    const deps = { db: h.db, clock: h.clock, log };
    const subscriptions: Subscription[] = [
      await startPaymentConsumer(bus, deps),
      await startCampaignConsumer(bus, deps),
    ];
    try {
      const id = Bun.randomUUIDv7();
      await bus.publish(newEvent("campaign.created", id, snapshot(id)));
      await waitFor(async () => (await h.db.select().from(campaigns).where(eq(campaigns.id, id))).length === 1, {
        what: "the campaign in the read model",
      });
      const p = await h.createPledge(donor, id);
      await bus.publish(newEvent("payment.authorized", p.id, paymentData(p)));
      await bus.publish(newEvent("payment.captured", p.id, paymentData(p)));
      await waitFor(async () => (await read(p.id)).status === "captured", { what: "the pledge captured" });
      expect(statuses(await read(p.id))).toEqual(["pending", "authorized", "captured"]);
    } finally {
      for (const s of subscriptions) await s.stop();
      await bus.close();
    }
  });

  test("payment's operational events (the webhook signature alarm) never reach the pledge consumer's handler", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      service: "pledge",
      level: "debug",
      destination: { write: (l: string) => lines.push(JSON.parse(l)) },
    });
    const bus = createMemoryBus({ log });
    const sub = await startPaymentConsumer(bus, { db: h.db, clock: h.clock, log });
    try {
      const p = await newPledge();
      await bus.publish(
        newEvent("payment.webhook_signature_failures", "payment", {
          failures: 5,
          windowSeconds: 60,
          firstAt: h.clock.date().toISOString(),
          lastAt: h.clock.date().toISOString(),
        }),
      );
      // Published after it: once this one is applied, the alarm has been dealt with too.
      await bus.publish(newEvent("payment.authorized", p.id, paymentData(p)));
      await waitFor(async () => (await read(p.id)).status === "authorized", { what: "the pledge authorized" });
      expect(lines.filter((l) => l.msg === "pledge.payment_event_malformed")).toEqual([]);
    } finally {
      await sub.stop();
      await bus.close();
    }
  });

  function snapshot(id: string) {
    const now = h.clock.date().toISOString();
    return {
      id,
      ownerId: Bun.randomUUIDv7(),
      title: "bus",
      description: "",
      goalMinor: 1_000,
      currency: "BDT",
      status: "active",
      raisedMinor: 0,
      donorCount: 0,
      pledgeCount: 0,
      endsAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
  }
  function paymentData(p: PledgeModel.Pledge) {
    return {
      paymentId: Bun.randomUUIDv7(),
      pledgeId: p.id,
      holdId: null,
      amountMinor: p.amountMinor,
      currency: p.currency,
      reason: null,
      at: h.clock.date().toISOString(),
    };
  }
});
