import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PledgeChange, PledgeChangeEvent } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { eq } from "drizzle-orm";
import { campaigns, outbox } from "../src/db/schema";
import { applyCapture, applyRefund, totalsFrom } from "../src/domain";
import { createTotalsService } from "../src/totals";
import { type CampaignTestApp, startCampaignTestApp, user, validBody } from "./support";

describe("totals rules (pure)", () => {
  const zero = { raisedMinor: 0, donorCount: 0, pledgeCount: 0 };
  test("a donor's first capture adds a donor; a second does not", () => {
    const one = applyCapture(zero, 500, { before: 0, after: 1 });
    expect(one).toEqual({ raisedMinor: 500, donorCount: 1, pledgeCount: 1 });
    expect(applyCapture(one, 300, { before: 1, after: 2 })).toEqual({
      raisedMinor: 800,
      donorCount: 1,
      pledgeCount: 2,
    });
  });
  test("a refund removes the donor only when none of their pledges stay captured", () => {
    const t = { raisedMinor: 800, donorCount: 1, pledgeCount: 2 };
    expect(applyRefund(t, 300, { before: 2, after: 1 })).toEqual({ raisedMinor: 500, donorCount: 1, pledgeCount: 1 });
    expect(applyRefund({ raisedMinor: 500, donorCount: 1, pledgeCount: 1 }, 500, { before: 1, after: 0 })).toEqual(
      zero,
    );
  });
  test("totals from scratch count distinct donors", () => {
    expect(
      totalsFrom([
        { amountMinor: 100, donorKey: "a" },
        { amountMinor: 200, donorKey: "b" },
        { amountMinor: 300, donorKey: "a" },
      ]),
    ).toEqual({ raisedMinor: 600, donorCount: 2, pledgeCount: 3 });
  });
});

describe("totals consumer (real PostgreSQL)", () => {
  let t: CampaignTestApp;
  let totals: ReturnType<typeof createTotalsService>;
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

  async function campaign(id: string) {
    const [row] = await t.db.select().from(campaigns).where(eq(campaigns.id, id));
    return row!;
  }

  test("a capture moves the totals once, however often the event is delivered (also concurrently)", async () => {
    const id = await newCampaign();
    const event = pledgeEvent("pledge.captured", id);
    const results = await Promise.all(Array.from({ length: 8 }, () => totals.applyPledgeEvent(event)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await totals.applyPledgeEvent(event)).toBe(false);
    // The same pledge announced under another event id still counts once (keyed by pledge id).
    expect(await totals.applyPledgeEvent(pledgeEvent("pledge.captured", id, { pledgeId: event.data.pledgeId }))).toBe(
      false,
    );
    const row = await campaign(id);
    expect({ raised: row.raisedMinor, donors: row.donorCount, pledges: row.pledgeCount, version: row.version }).toEqual(
      {
        raised: 1000,
        donors: 1,
        pledges: 1,
        version: 2,
      },
    );
  });

  test("100 concurrent captures on one campaign lose no update; distinct donors are counted", async () => {
    const id = await newCampaign();
    const events = Array.from({ length: 100 }, (_, i) =>
      pledgeEvent("pledge.captured", id, { donorKey: `d${i % 7}`, amountMinor: 100 + i }),
    );
    await Promise.all(events.map((e) => totals.applyPledgeEvent(e)));
    const row = await campaign(id);
    expect(row.raisedMinor).toBe(events.reduce((s, e) => s + e.data.amountMinor, 0));
    expect(row.pledgeCount).toBe(100);
    expect(row.donorCount).toBe(7);
    expect(row.version).toBe(101);
    const changes = await t.db.select().from(outbox).where(eq(outbox.aggregateId, id));
    expect(changes.filter((c) => c.type === "campaign.totals_changed")).toHaveLength(100);
  });

  test("a refund reverses its capture once, and drops the donor when it was their only pledge", async () => {
    const id = await newCampaign();
    const a1 = pledgeEvent("pledge.captured", id, { donorKey: "a", amountMinor: 500 });
    const a2 = pledgeEvent("pledge.captured", id, { donorKey: "a", amountMinor: 300 });
    const b = pledgeEvent("pledge.captured", id, { donorKey: "b", amountMinor: 200 });
    for (const e of [a1, a2, b]) await totals.applyPledgeEvent(e);
    const refundB = pledgeEvent("pledge.refunded", id, { pledgeId: b.data.pledgeId, donorKey: "b", amountMinor: 200 });
    expect(await totals.applyPledgeEvent(refundB)).toBe(true);
    expect(await totals.applyPledgeEvent(refundB)).toBe(false);
    expect(await totals.applyPledgeEvent(pledgeEvent("pledge.refunded", id, { pledgeId: b.data.pledgeId }))).toBe(
      false,
    );
    await totals.applyPledgeEvent(
      pledgeEvent("pledge.refunded", id, { pledgeId: a2.data.pledgeId, donorKey: "a", amountMinor: 300 }),
    );
    const row = await campaign(id);
    expect({ raised: row.raisedMinor, donors: row.donorCount, pledges: row.pledgeCount }).toEqual({
      raised: 500,
      donors: 1,
      pledges: 1,
    });
  });

  test("a refund for a pledge never captured changes nothing", async () => {
    const id = await newCampaign();
    expect(await totals.applyPledgeEvent(pledgeEvent("pledge.refunded", id))).toBe(false);
    expect((await campaign(id)).raisedMinor).toBe(0);
  });

  test("a refund that overtakes its capture (late redelivery after a crash) leaves the totals unchanged", async () => {
    // The system chaos found it: pledge.captured stranded with a killed campaign process came back
    // after its pledge.refunded, which had been dropped, and the total kept refunded money.
    const id = await newCampaign();
    const captured = pledgeEvent("pledge.captured", id, { donorKey: "late", amountMinor: 700 });
    const refunded = pledgeEvent("pledge.refunded", id, {
      pledgeId: captured.data.pledgeId,
      donorKey: "late",
      amountMinor: 700,
    });
    expect(await totals.applyPledgeEvent(refunded)).toBe(false);
    expect(await totals.applyPledgeEvent(captured)).toBe(false);
    expect(await totals.applyPledgeEvent(refunded)).toBe(false);
    const row = await campaign(id);
    expect({ raised: row.raisedMinor, donors: row.donorCount, pledges: row.pledgeCount, version: row.version }).toEqual(
      { raised: 0, donors: 0, pledges: 0, version: 1 },
    );
    expect((await (await t.call("GET", `/campaigns/${id}/donations`)).json()) as { items: unknown[] }).toMatchObject({
      items: [],
    });
  });

  test("a capture and its refund handled concurrently, in any order, net to zero", async () => {
    const id = await newCampaign();
    const pairs = Array.from({ length: 30 }, (_, i) => {
      const captured = pledgeEvent("pledge.captured", id, { donorKey: `r${i % 5}`, amountMinor: 100 + i });
      const refunded = pledgeEvent("pledge.refunded", id, {
        pledgeId: captured.data.pledgeId,
        donorKey: captured.data.donorKey,
        amountMinor: captured.data.amountMinor,
      });
      return i % 2 === 0 ? [captured, refunded] : [refunded, captured];
    });
    await Promise.all(pairs.flat().map((e) => totals.applyPledgeEvent(e)));
    const row = await campaign(id);
    expect({ raised: row.raisedMinor, donors: row.donorCount, pledges: row.pledgeCount }).toEqual({
      raised: 0,
      donors: 0,
      pledges: 0,
    });
  });

  test("GET /campaigns/:id/donations lists captured, unrefunded donations newest first, anonymous without a name", async () => {
    const id = await newCampaign();
    const base = Date.parse("2026-01-01T00:00:00Z");
    const evs = [0, 1, 2].map((i) =>
      pledgeEvent("pledge.captured", id, {
        amountMinor: 100 * (i + 1),
        anonymous: i === 1,
        donorName: `Donor ${i}`,
        message: i === 2 ? "Good luck" : null,
        at: new Date(base + i * 1000).toISOString(),
      }),
    );
    for (const e of evs) await totals.applyPledgeEvent(e);
    await totals.applyPledgeEvent(pledgeEvent("pledge.refunded", id, { pledgeId: evs[0]!.data.pledgeId }));
    const first = await t.call("GET", `/campaigns/${id}/donations?limit=1`);
    expect(first.status).toBe(200);
    const page1 = (await first.json()) as { items: Array<Record<string, unknown>>; nextCursor: string };
    expect(page1.items).toEqual([
      {
        id: evs[2]!.data.pledgeId,
        amountMinor: 300,
        currency: "BDT",
        donorName: "Donor 2",
        message: "Good luck",
        capturedAt: evs[2]!.data.at,
      },
    ]);
    const page2 = (await (
      await t.call("GET", `/campaigns/${id}/donations?limit=1&cursor=${page1.nextCursor}`)
    ).json()) as {
      items: Array<Record<string, unknown>>;
      nextCursor: string | null;
    };
    expect(page2.items[0]).toMatchObject({ id: evs[1]!.data.pledgeId, donorName: null });
    expect(page2.nextCursor).toBeNull();
    expect((await t.call("GET", `/campaigns/${Bun.randomUUIDv7()}/donations`)).status).toBe(404);
    expect((await t.call("GET", "/campaigns/nope/donations")).status).toBe(400);
    // A cursor this list did not issue is refused, not a 500 (a tampered date) or the first page (garbage).
    for (const cursor of ["WyJub3QtYS1kYXRlIiwieCJd", "garbage", String(page1.nextCursor).slice(0, -2)]) {
      const refused = await t.call("GET", `/campaigns/${id}/donations?cursor=${cursor}`);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe("cursor");
    }
  });

  test("rebuild recomputes totals from the pledge records (admin only)", async () => {
    const id = await newCampaign();
    await totals.applyPledgeEvent(pledgeEvent("pledge.captured", id, { amountMinor: 999 }));
    // Corrupt the read model on purpose: the rebuild must repair it.
    await t.db.update(campaigns).set({ raisedMinor: 123456, donorCount: 9 }).where(eq(campaigns.id, id));
    const pledges = [
      {
        pledgeId: Bun.randomUUIDv7(),
        donorKey: "x",
        amountMinor: 400,
        currency: "BDT",
        donorName: "X",
        message: null,
        capturedAt: new Date().toISOString(),
      },
      {
        pledgeId: Bun.randomUUIDv7(),
        donorKey: "y",
        amountMinor: 600,
        currency: "BDT",
        donorName: null,
        message: "hi",
        capturedAt: new Date().toISOString(),
      },
    ];
    expect((await t.call("POST", `/campaigns/${id}/rebuild`, { as: owner, body: { pledges } })).status).toBe(403);
    const res = await t.call("POST", `/campaigns/${id}/rebuild`, { as: user("root", "admin"), body: { pledges } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ raisedMinor: 1000, donorCount: 2, pledgeCount: 2 });
    const list = (await (await t.call("GET", `/campaigns/${id}/donations`)).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(2);
  });
});
