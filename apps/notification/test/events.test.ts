// The events consumer's effects on a real database: each event applied once (inbox) in the same
// transaction as what it stores, pushes only after commit and never twice for a redelivery,
// guests pushed on their pledge topic only, totals never older than what was pushed, goal reached
// once to the owner and the admins, audit drift after two audits, signature-failure alarms.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMemoryBus } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { eq, sql } from "drizzle-orm";
import { EVENTS_CONSUMER } from "../src/apply-events";
import { campaigns, inbox, notifications, pledges } from "../src/db/schema";
import { startEventsConsumer } from "../src/workers/events-consumer";
import {
  campaignEvent,
  campaignSnapshot,
  type NotificationTestApp,
  pledgeChange,
  pledgeCreated,
  redelivery,
  startNotificationTestApp,
  user,
  waitFor,
} from "./support";

let t: NotificationTestApp;
beforeAll(async () => {
  t = await startNotificationTestApp();
});
afterAll(() => t.stop());

const rowsFor = (recipient: string) => t.db.select().from(notifications).where(eq(notifications.recipient, recipient));

describe("pledge events", () => {
  test("a donor's pledge: every change pushed to them and to the pledge, captured stored once; a redelivery stores and pushes nothing", async () => {
    const donor = user("dina");
    const campaign = campaignSnapshot({ title: "Clean water" });
    await t.applyAndSettle([campaignEvent("campaign.created", campaign)]);
    const created = pledgeCreated({ campaignId: campaign.id, donorId: donor.id });
    const onUser = t.listen(`user.${donor.id}`);
    const onPledge = t.listen(`pledge.${created.data.pledgeId}`);
    const events = [created, pledgeChange(created.data, "authorized"), pledgeChange(created.data, "captured")];

    await t.applyAndSettle(events);
    const types = (frames: Array<Record<string, unknown>>) => frames.map((f) => `${f.type}:${f.status ?? f.kind}`);
    expect(types(onUser.frames)).toEqual([
      "pledge.status:authorized",
      "pledge.status:captured",
      "notification:pledge.captured",
    ]);
    expect(types(onPledge.frames)).toEqual(["pledge.status:authorized", "pledge.status:captured"]);
    const stored = await rowsFor(donor.id);
    expect(stored.map((n) => [n.kind, n.title, n.body])).toEqual([
      ["pledge.captured", "Thank you for your donation", "Your donation of BDT 250.00 to “Clean water” was received."],
    ]);
    expect(onUser.frames[2]).toEqual({
      type: "notification",
      id: stored[0]!.id,
      kind: "pledge.captured",
      title: "Thank you for your donation",
      body: "Your donation of BDT 250.00 to “Clean water” was received.",
      at: stored[0]!.at.toISOString(),
      pledgeId: created.data.pledgeId,
      campaignId: campaign.id,
    });

    // The bus delivers the whole batch again (a lost ack, a crash after commit): nothing moves.
    const again = await t.applyAndSettle(events.map(redelivery));
    expect(again.fresh).toBe(0);
    // The same change re-published under a new event id: fresh for the inbox, but stale for the pledge.
    await t.applyAndSettle([pledgeChange(created.data, "captured")]);
    expect(onUser.frames).toHaveLength(3);
    expect(onPledge.frames).toHaveLength(2);
    expect(await rowsFor(donor.id)).toHaveLength(1);
    onUser.stop();
    onPledge.stop();
  });

  test("a guest's pledge stores no notification and pushes its status on its pledge topic only", async () => {
    const created = pledgeCreated({ donorId: null });
    const onPledge = t.listen(`pledge.${created.data.pledgeId}`);
    const before = await t.db.select({ n: sql<number>`count(*)::int` }).from(notifications);
    await t.applyAndSettle([created, pledgeChange(created.data, "authorized"), pledgeChange(created.data, "failed")]);
    expect(onPledge.frames).toEqual([
      {
        type: "pledge.status",
        pledgeId: created.data.pledgeId,
        campaignId: created.data.campaignId,
        status: "authorized",
        failureReason: null,
      },
      {
        type: "pledge.status",
        pledgeId: created.data.pledgeId,
        campaignId: created.data.campaignId,
        status: "failed",
        failureReason: "insufficient_funds",
      },
    ]);
    const after = await t.db.select({ n: sql<number>`count(*)::int` }).from(notifications);
    expect(after[0]!.n).toBe(before[0]!.n);
    onPledge.stop();
  });

  test("a failed and then a refunded pledge each store their own notification, in words", async () => {
    const donor = user("farid");
    const failed = pledgeCreated({ donorId: donor.id, currency: "USD", amountMinor: 1250 });
    const refunded = pledgeCreated({ donorId: donor.id });
    await t.applyAndSettle([
      pledgeChange(failed.data, "failed", { failureReason: "declined" }),
      pledgeChange(refunded.data, "captured"),
      pledgeChange(refunded.data, "refunded"),
    ]);
    const rows = (await rowsFor(donor.id)).map((n) => [n.kind, n.body]).sort();
    expect(rows).toEqual([
      ["pledge.captured", "Your donation of BDT 250.00 to a campaign was received."],
      [
        "pledge.failed",
        "Your donation of $12.50 to a campaign failed: the bank declined the payment. You were not charged.",
      ],
      ["pledge.refunded", "Your donation of BDT 250.00 to a campaign was refunded."],
    ]);
  });

  test("the projection keeps each pledge's furthest state, whatever order its events come in", async () => {
    const created = pledgeCreated();
    await t.applyAndSettle([pledgeChange(created.data, "captured")]);
    await t.applyAndSettle([pledgeChange(created.data, "authorized"), created]);
    const [row] = await t.db.select().from(pledges).where(eq(pledges.id, created.data.pledgeId));
    expect(row!.status).toBe("captured");
    expect(row!.createdAt.toISOString()).toBe(created.data.createdAt);
  });

  test("a payload that does not fit its event is skipped (and recorded), the rest of the batch applies", async () => {
    const good = pledgeCreated();
    const bad = { ...pledgeCreated(), data: { pledgeId: 42 } } as unknown as ReturnType<typeof pledgeCreated>;
    await t.applyAndSettle([bad, good]);
    expect(await t.db.select().from(pledges).where(eq(pledges.id, good.data.pledgeId))).toHaveLength(1);
    expect(await t.db.select().from(inbox).where(eq(inbox.eventId, bad.id))).toHaveLength(1);
  });
});

describe("atomicity", () => {
  test("a batch that cannot commit stores nothing and pushes nothing; its good events then apply alone", async () => {
    const donor = user("ivo");
    const good = pledgeCreated({ donorId: donor.id });
    const captured = pledgeChange(good.data, "captured");
    // Fits the event's schema (a string) but not the column (a uuid): the transaction fails.
    const poison = pledgeChange(pledgeCreated().data, "captured", { pledgeId: "not-a-uuid" });
    const onUser = t.listen(`user.${donor.id}`);
    await expect(t.apply([good, captured, poison])).rejects.toThrow();
    await Bun.sleep(0);
    expect(onUser.frames).toEqual([]);
    expect(await rowsFor(donor.id)).toEqual([]);
    expect(await t.db.select().from(inbox).where(eq(inbox.eventId, captured.id))).toEqual([]);
    // The bus then runs each event alone: the good ones apply and push once.
    await t.applyAndSettle([good]);
    await t.applyAndSettle([captured]);
    await expect(t.apply([poison])).rejects.toThrow();
    expect(onUser.frames.map((f) => f.type)).toEqual(["pledge.status", "notification"]);
    onUser.stop();
  });
});

describe("campaign totals", () => {
  test("each newer snapshot is pushed on the campaign's topic; an older one after it never is", async () => {
    const c = campaignSnapshot();
    const onCampaign = t.listen(`campaign.${c.id}`);
    await t.applyAndSettle([campaignEvent("campaign.created", c)]);
    const v2 = campaignEvent("campaign.totals_changed", {
      ...c,
      version: 2,
      raisedMinor: 1000,
      donorCount: 1,
      pledgeCount: 1,
    });
    const v3 = campaignEvent("campaign.totals_changed", {
      ...c,
      version: 3,
      raisedMinor: 3000,
      donorCount: 2,
      pledgeCount: 2,
    });
    await t.applyAndSettle([v3]);
    await t.applyAndSettle([v2]); // late
    expect(onCampaign.frames).toEqual([
      { type: "campaign.totals", campaignId: c.id, raisedMinor: 3000, donorCount: 2, pledgeCount: 2 },
    ]);
    const [row] = await t.db.select().from(campaigns).where(eq(campaigns.id, c.id));
    expect({ version: row!.version, raised: row!.raisedMinor }).toEqual({ version: 3, raised: 3000 });

    // Decision: a redelivered totals snapshot is pushed again while it is still the newest (its
    // first push may have died with the process between commit and push); an older one is not.
    await t.applyAndSettle([redelivery(v3)]);
    await t.applyAndSettle([redelivery(v2)]);
    expect(onCampaign.frames).toHaveLength(2);
    expect(onCampaign.frames[1]).toEqual(onCampaign.frames[0]!);
    onCampaign.stop();
  });

  test("the goal reached is stored once, for the admins and for the campaign's owner, and pushed to both", async () => {
    const owner = user("owen");
    const c = campaignSnapshot({ ownerId: owner.id, title: "Wells", goalMinor: 10_000 });
    const onAdmins = t.listen("admins");
    const onOwner = t.listen(`user.${owner.id}`);
    await t.applyAndSettle([
      campaignEvent("campaign.created", c),
      campaignEvent("campaign.totals_changed", { ...c, version: 2, raisedMinor: 9_999 }),
    ]);
    expect(await rowsFor(owner.id)).toHaveLength(0);
    await t.applyAndSettle([campaignEvent("campaign.totals_changed", { ...c, version: 3, raisedMinor: 10_000 })]);
    await t.applyAndSettle([campaignEvent("campaign.totals_changed", { ...c, version: 4, raisedMinor: 12_000 })]);
    const goal = (frames: Array<Record<string, unknown>>) => frames.filter((f) => f.kind === "campaign.goal_reached");
    expect(goal(onOwner.frames)).toHaveLength(1);
    expect(goal(onAdmins.frames).filter((f) => f.campaignId === c.id)).toHaveLength(1);
    const [ownerRow] = await rowsFor(owner.id);
    expect([ownerRow!.kind, ownerRow!.body]).toEqual([
      "campaign.goal_reached",
      "“Wells” reached its goal: BDT 100.00 raised of BDT 100.00.",
    ]);
    const adminRows = await t.db
      .select()
      .from(notifications)
      .where(sql`${notifications.recipient} = 'admins' and ${notifications.subject} = ${c.id}`);
    expect(adminRows.map((n) => n.kind)).toEqual(["campaign.goal_reached"]);
    onAdmins.stop();
    onOwner.stop();
  });
});

describe("operator events", () => {
  const audit = (seconds: number, drift: number) => ({
    id: Bun.randomUUIDv7(),
    type: "audit.completed",
    occurredAt: new Date().toISOString(),
    aggregateId: "audit",
    data: {
      checkedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, seconds)).toISOString(),
      totalDriftMinor: drift,
      drifting: drift > 0 ? [{ campaignId: Bun.randomUUIDv7(), driftMinor: drift }] : [],
      stuckPledges: 0,
    },
  });
  const driftRows = () => t.db.select().from(notifications).where(sql`${notifications.kind} = 'audit.drift'`);

  test("audit drift is reported after two drifting audits in a row, once, until an audit at zero resets it", async () => {
    await t.applyAndSettle([audit(1, 500)]);
    expect(await driftRows()).toHaveLength(0);
    await t.applyAndSettle([audit(2, 700)]);
    expect(await driftRows()).toHaveLength(1);
    await t.applyAndSettle([audit(3, 700)]);
    expect(await driftRows()).toHaveLength(1);
    await t.applyAndSettle([audit(4, 0), audit(5, 100)]);
    expect(await driftRows()).toHaveLength(1);
    // Two in one batch, delivered out of order: still "two in a row" by when they were checked.
    await t.applyAndSettle([audit(7, 100), audit(6, 100)]);
    const rows = await driftRows();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.recipient === "admins")).toBe(true);
  });

  test("each webhook-signature alarm is stored for the admins and pushed on `admins`", async () => {
    const onAdmins = t.listen("admins");
    const event = {
      id: Bun.randomUUIDv7(),
      type: "payment.webhook_signature_failures",
      occurredAt: new Date().toISOString(),
      aggregateId: "webhooks",
      data: { failures: 5, windowSeconds: 60, firstAt: "2030-01-01T00:00:00.000Z", lastAt: "2030-01-01T00:00:30.000Z" },
    };
    await t.applyAndSettle([event]);
    await t.applyAndSettle([redelivery(event)]);
    expect(onAdmins.frames.map((f) => [f.kind, f.title])).toEqual([
      ["webhook.signature_failures", "Webhook signatures rejected"],
    ]);
    const rows = await t.db.select().from(notifications).where(eq(notifications.subject, event.id));
    expect(rows.map((r) => r.recipient)).toEqual(["admins"]);
    onAdmins.stop();
  });
});

describe("over the bus", () => {
  test("the durable batch consumer applies what is published, duplicates absorbed", async () => {
    const bus = createMemoryBus({ log: silentLogger() });
    const subscription = await startEventsConsumer(bus, t.apply);
    try {
      expect(subscription.durable).toBe(EVENTS_CONSUMER);
      const donor = user("busy");
      const created = pledgeCreated({ donorId: donor.id });
      const captured = pledgeChange(created.data, "captured");
      const onUser = t.listen(`user.${donor.id}`);
      for (const e of [created, captured, captured]) await bus.publish(e);
      await waitFor(async () => (await rowsFor(donor.id)).length === 1, { what: "the captured notification" });
      await waitFor(() => onUser.frames.length === 2, { what: "status and notification frames" });
      onUser.stop();
    } finally {
      await subscription.stop();
      await bus.close();
    }
  });
});
