// The totals consumer takes pledge.captured / pledge.refunded from the bus in batches: its
// subscription (durable name, types, retry policy), one transaction per batch, and a failing
// batch handed back to the bus whole (which then retries each event alone).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Bus, createMemoryBus, type SubscribeBatchOptions } from "@careforall/bus";
import type { PledgeChange, PledgeChangeEvent } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { eq } from "drizzle-orm";
import { campaigns } from "../src/db/schema";
import { createTotalsService, type TotalsService } from "../src/totals";
import { startTotalsConsumer } from "../src/workers/totals-consumer";
import { type CampaignTestApp, startCampaignTestApp, user, validBody } from "./support";

function pledgeEvent(
  type: "pledge.captured" | "pledge.refunded",
  campaignId: string,
  over: Partial<PledgeChange> = {},
): PledgeChangeEvent {
  const data: PledgeChange = {
    pledgeId: Bun.randomUUIDv7(),
    campaignId,
    donorId: null,
    donorKey: "guest:abc",
    donorName: "Ann",
    anonymous: false,
    message: null,
    status: type === "pledge.captured" ? "captured" : "refunded",
    amountMinor: 1000,
    currency: "BDT",
    failureReason: null,
    at: new Date().toISOString(),
    ...over,
  };
  return newEvent(type, data.pledgeId, data) as PledgeChangeEvent;
}

const item = (event: PledgeChangeEvent) => ({ event, ctx: { deliveryCount: 1, headers: {} } });

describe("totals consumer", () => {
  let t: CampaignTestApp;
  let totals: TotalsService;
  const owner = user("owner");

  beforeAll(async () => {
    t = await startCampaignTestApp();
    totals = createTotalsService({ db: t.db, clock: t.clock, log: silentLogger() });
  });
  afterAll(() => t.stop());

  async function newCampaign() {
    const res = await t.call("POST", "/campaigns", { as: owner, body: validBody() });
    return ((await res.json()) as { id: string }).id;
  }

  async function campaign(id: string) {
    const [row] = await t.db.select().from(campaigns).where(eq(campaigns.id, id));
    return row!;
  }

  /** A bus that only records the batch subscription, so the test drives handleBatch itself. */
  async function subscribed() {
    let options: SubscribeBatchOptions | undefined;
    const bus = {
      subscribeBatch: async (o: SubscribeBatchOptions) => {
        options = o;
        return { stop: async () => {}, pending: async () => 0 };
      },
    } as unknown as Bus;
    await startTotalsConsumer(bus, totals);
    return options!;
  }

  test("subscribes as the durable campaign-totals batch consumer with today's retry policy", async () => {
    const options = await subscribed();
    expect({
      durable: options.durable,
      types: options.types,
      maxDeliver: options.maxDeliver,
      backoffMs: options.backoffMs,
    }).toEqual({
      durable: "campaign-totals",
      types: ["pledge.captured", "pledge.refunded"],
      maxDeliver: 50,
      backoffMs: [100, 500, 2000, 5000],
    });
  });

  test("a batch from the bus applies in one transaction: one version bump for the campaign", async () => {
    const { handleBatch } = await subscribed();
    const id = await newCampaign();
    const events = [
      pledgeEvent("pledge.captured", id, { donorKey: "a", amountMinor: 500 }),
      pledgeEvent("pledge.captured", id, { donorKey: "b", amountMinor: 300 }),
      pledgeEvent("pledge.captured", id, { donorKey: "a", amountMinor: 200 }),
    ];
    await handleBatch([...events, events[0]!].map(item));
    const row = await campaign(id);
    expect({ raised: row.raisedMinor, donors: row.donorCount, pledges: row.pledgeCount, version: row.version }).toEqual(
      { raised: 1000, donors: 2, pledges: 3, version: 2 },
    );
  });

  test("a batch that cannot apply rejects whole (the bus then retries each event alone) and commits nothing", async () => {
    const { handleBatch } = await subscribed();
    const id = await newCampaign();
    const good = pledgeEvent("pledge.captured", id, { amountMinor: 500 });
    const poison = pledgeEvent("pledge.captured", id, { pledgeId: "not-a-uuid" });
    await expect(handleBatch([good, poison].map(item))).rejects.toThrow();
    expect((await campaign(id)).version).toBe(1);
    // The bus's retry of the good event alone applies it.
    await handleBatch([item(good)]);
    expect((await campaign(id)).raisedMinor).toBe(500);
  });

  test("over the in-process bus, every published capture and refund lands once, duplicates absorbed", async () => {
    const bus = createMemoryBus({ log: silentLogger() });
    const subscription = await startTotalsConsumer(bus, totals);
    try {
      const id = await newCampaign();
      const captures = Array.from({ length: 40 }, (_, i) =>
        pledgeEvent("pledge.captured", id, { donorKey: `d${i % 6}`, amountMinor: 100 + i }),
      );
      const refunds = captures.slice(0, 5).map((c) =>
        pledgeEvent("pledge.refunded", id, {
          pledgeId: c.data.pledgeId,
          donorKey: c.data.donorKey,
          amountMinor: c.data.amountMinor,
        }),
      );
      // A refund published before its capture, and the same pledge announced under a new event id.
      const late = pledgeEvent("pledge.captured", id, { donorKey: "late", amountMinor: 9999 });
      const lateRefund = pledgeEvent("pledge.refunded", id, { pledgeId: late.data.pledgeId, amountMinor: 9999 });
      const again = newEvent(captures[7]!.type, captures[7]!.aggregateId, captures[7]!.data) as PledgeChangeEvent;
      for (const e of [lateRefund, ...captures, late, ...refunds, again]) await bus.publish(e);

      const live = captures.slice(5);
      const expected = {
        raised: live.reduce((s, e) => s + e.data.amountMinor, 0),
        pledges: live.length,
        donors: new Set(live.map((e) => e.data.donorKey)).size,
      };
      await waitFor(
        async () => {
          const row = await campaign(id);
          return row.pledgeCount === expected.pledges && row.raisedMinor === expected.raised;
        },
        { what: "every event applied" },
      );
      await waitFor(async () => (await subscription.pending()) === 0, { what: "every event acknowledged" });
      const row = await campaign(id);
      expect({ raised: row.raisedMinor, pledges: row.pledgeCount, donors: row.donorCount }).toEqual(expected);
    } finally {
      await subscription.stop();
      await bus.close();
    }
  });
});
