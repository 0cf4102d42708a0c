// Batched totals (real PostgreSQL): a batch applied in one transaction must end exactly where the
// same events applied one by one end. Two databases receive the same events: "seq" one event at a
// time, "bat" in batches; then every table the consumer writes is compared.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PledgeChange, PledgeChangeEvent } from "@careforall/events";
import { createLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { campaignDonors, campaigns, donations, inbox, outbox } from "../src/db/schema";
import { toCampaign } from "../src/service";
import { createTotalsService, TOTALS_CONSUMER, type TotalsService } from "../src/totals";
import { type CampaignTestApp, startCampaignTestApp } from "./support";

const TOTALS_CHANGED = "campaign.totals_changed";
const BASE = Date.parse("2026-03-01T00:00:00Z");
let tick = 0;

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
    at: new Date(BASE + ++tick * 1000).toISOString(),
    ...over,
  };
  return newEvent(type, data.pledgeId, data) as PledgeChangeEvent;
}

const capture = (campaignId: string, over: Partial<PledgeChange> = {}) =>
  pledgeEvent("pledge.captured", campaignId, over);

/** The refund of a captured pledge, as the pledge service announces it. */
const refundOf = (c: PledgeChangeEvent, over: Partial<PledgeChange> = {}) =>
  pledgeEvent("pledge.refunded", c.data.campaignId, {
    pledgeId: c.data.pledgeId,
    donorKey: c.data.donorKey,
    donorName: c.data.donorName,
    amountMinor: c.data.amountMinor,
    ...over,
  });

/** The same pledge announced again under a new event id (a replayed producer, not a redelivery). */
const reannounce = (e: PledgeChangeEvent) => newEvent(e.type, e.aggregateId, { ...e.data }) as PledgeChangeEvent;

function captureLog() {
  const lines: Array<{ level: string; msg: string; [k: string]: unknown }> = [];
  const log = createLogger({
    service: "campaign-test",
    level: "debug",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { log, lines };
}

describe("batched totals (real PostgreSQL)", () => {
  let seq: CampaignTestApp;
  let bat: CampaignTestApp;
  let seqTotals: TotalsService;
  let batTotals: TotalsService;
  const batLog = captureLog();

  beforeAll(async () => {
    [seq, bat] = await Promise.all([startCampaignTestApp(), startCampaignTestApp({ poolMax: 16 })]);
    seqTotals = createTotalsService({ db: seq.db, clock: seq.clock, log: captureLog().log });
    batTotals = createTotalsService({ db: bat.db, clock: bat.clock, log: batLog.log });
  });
  afterAll(async () => {
    await Promise.all([seq.stop(), bat.stop()]);
  });

  /** Creates the same campaigns (same ids) in both databases. */
  async function newCampaigns(n: number): Promise<string[]> {
    const rows = Array.from({ length: n }, (_, i) => ({
      id: Bun.randomUUIDv7(),
      ownerId: Bun.randomUUIDv7(),
      title: `Campaign ${i}`,
      description: "Batch test",
      goalMinor: 1_000_000,
      currency: "BDT" as const,
    }));
    for (const t of [seq, bat]) await t.db.insert(campaigns).values(rows);
    return rows.map((r) => r.id);
  }

  async function campaignRows(t: CampaignTestApp, ids: string[]) {
    return t.db.select().from(campaigns).where(inArray(campaigns.id, ids)).orderBy(asc(campaigns.id));
  }

  async function totalsChanged(t: CampaignTestApp, ids: string[]) {
    return t.db
      .select()
      .from(outbox)
      .where(and(inArray(outbox.aggregateId, ids), eq(outbox.type, TOTALS_CHANGED)))
      .orderBy(asc(outbox.id));
  }

  /** Everything the consumer writes, except what batching changes on purpose (version, updated_at, outbox). */
  async function state(t: CampaignTestApp, campaignIds: string[], eventIds: string[]) {
    return {
      totals: (await campaignRows(t, campaignIds)).map((r) => ({
        id: r.id,
        raisedMinor: r.raisedMinor,
        donorCount: r.donorCount,
        pledgeCount: r.pledgeCount,
      })),
      donations: await t.db
        .select()
        .from(donations)
        .where(inArray(donations.campaignId, campaignIds))
        .orderBy(asc(donations.pledgeId)),
      donors: await t.db
        .select()
        .from(campaignDonors)
        .where(inArray(campaignDonors.campaignId, campaignIds))
        .orderBy(asc(campaignDonors.campaignId), asc(campaignDonors.donorKey)),
      inbox: (
        await t.db
          .select({ eventId: inbox.eventId })
          .from(inbox)
          .where(and(eq(inbox.consumer, TOTALS_CONSUMER), inArray(inbox.eventId, [...new Set(eventIds), "none"])))
          .orderBy(asc(inbox.eventId))
      ).map((r) => r.eventId),
    };
  }

  interface Scenario {
    campaigns: string[];
    /** Campaign ids that do not exist (their events are logged and still recorded). */
    unknown?: string[];
    /** Applied one by one to both databases before the batches. */
    before?: PledgeChangeEvent[];
    batches: PledgeChangeEvent[][];
  }

  /**
   * Applies the scenario to both databases and compares: per-event results, final state, and per
   * batch the version movement (+1 for each campaign the events moved, else 0) and exactly one
   * campaign.totals_changed per moved campaign carrying its final snapshot.
   */
  async function expectBatchesEqualOneByOne(s: Scenario) {
    const ids = [...s.campaigns, ...(s.unknown ?? [])];
    for (const e of s.before ?? []) {
      await seqTotals.applyPledgeEvent(e);
      await batTotals.applyPledgeEvent(e);
    }
    const seqResults: boolean[] = [];
    const batResults: boolean[] = [];
    for (const batch of s.batches) {
      const seqBefore = await campaignRows(seq, s.campaigns);
      const batBefore = await campaignRows(bat, s.campaigns);
      const outboxBefore = new Set((await totalsChanged(bat, s.campaigns)).map((r) => r.id));
      const logsBefore = batLog.lines.length;

      for (const e of batch) seqResults.push(await seqTotals.applyPledgeEvent(e));
      batResults.push(...(await batTotals.applyPledgeEvents(batch)));

      const seqAfter = await campaignRows(seq, s.campaigns);
      const batAfter = await campaignRows(bat, s.campaigns);
      const published = (await totalsChanged(bat, s.campaigns)).filter((r) => !outboxBefore.has(r.id));
      for (const [i, row] of batAfter.entries()) {
        const moved = seqAfter[i]!.version > seqBefore[i]!.version;
        expect({ id: row.id, version: row.version - batBefore[i]!.version }).toEqual({
          id: row.id,
          version: moved ? 1 : 0,
        });
        const events = published.filter((p) => p.aggregateId === row.id);
        expect(events.map((p) => p.envelope.data)).toEqual(moved ? [toCampaign(row)] : []);
      }
      // Per-event lines are debug at most: one info line per batch at most, errors only for unknown campaigns.
      const lines = batLog.lines.slice(logsBefore);
      expect(lines.filter((l) => l.level === "info" || l.level === "warn").length).toBeLessThanOrEqual(1);
      expect(lines.filter((l) => l.level === "error" && l.msg !== "totals.unknown_campaign")).toEqual([]);
    }
    expect(batResults).toEqual(seqResults);
    const eventIds = [...(s.before ?? []), ...s.batches.flat()].map((e) => e.id);
    expect(await state(bat, ids, eventIds)).toEqual(await state(seq, ids, eventIds));
    return { seqResults, batResults };
  }

  test("a refund before its capture in the same batch: a tombstone, the capture counts nothing", async () => {
    const [c] = await newCampaigns(1);
    const late = capture(c!, { donorKey: "late", amountMinor: 700 });
    const other = capture(c!, { donorKey: "late", amountMinor: 300 });
    const { batResults } = await expectBatchesEqualOneByOne({
      campaigns: [c!],
      batches: [[refundOf(late), late, other]],
    });
    expect(batResults).toEqual([false, false, true]);
  });

  test("a capture then its refund in the same batch: the row is refunded, the donor counted then dropped", async () => {
    const [c] = await newCampaigns(1);
    const keep = capture(c!, { donorKey: "a", amountMinor: 500 });
    const gone = capture(c!, { donorKey: "b", amountMinor: 200, anonymous: true, message: "hi" });
    const { batResults } = await expectBatchesEqualOneByOne({
      campaigns: [c!],
      batches: [[keep, gone, refundOf(gone)]],
    });
    expect(batResults).toEqual([true, true, true]);
  });

  test("two captures by the same donor, then one refunded: the donor stays, counted once", async () => {
    const [c] = await newCampaigns(1);
    const a1 = capture(c!, { donorKey: "a", amountMinor: 500 });
    const a2 = capture(c!, { donorKey: "a", amountMinor: 300 });
    const b = capture(c!, { donorKey: "b", amountMinor: 200 });
    await expectBatchesEqualOneByOne({ campaigns: [c!], batches: [[a1, a2, b], [refundOf(a2)]] });
    const [row] = await campaignRows(bat, [c!]);
    expect({ raised: row!.raisedMinor, donors: row!.donorCount, pledges: row!.pledgeCount }).toEqual({
      raised: 700,
      donors: 2,
      pledges: 2,
    });
  });

  test("captures and refunds of several campaigns, interleaved, on top of earlier donations", async () => {
    const [c1, c2, c3] = await newCampaigns(3);
    const earlier = [
      capture(c1!, { donorKey: "a", amountMinor: 100 }),
      capture(c1!, { donorKey: "b", amountMinor: 200 }),
      capture(c2!, { donorKey: "a", amountMinor: 300 }),
      capture(c3!, { donorKey: "c", amountMinor: 400 }),
    ];
    const fresh = [
      capture(c2!, { donorKey: "b", amountMinor: 150 }),
      capture(c3!, { donorKey: "c", amountMinor: 250 }),
      capture(c1!, { donorKey: "a", amountMinor: 350 }),
    ];
    await expectBatchesEqualOneByOne({
      campaigns: [c1!, c2!, c3!],
      before: earlier,
      batches: [
        [
          refundOf(earlier[3]!),
          fresh[0]!,
          refundOf(earlier[1]!),
          fresh[1]!,
          refundOf(earlier[0]!),
          fresh[2]!,
          refundOf(fresh[0]!),
        ],
        // A batch touching only c2 leaves c1 and c3 alone (no version bump, no event).
        [capture(c2!, { donorKey: "z", amountMinor: 999 })],
      ],
    });
  });

  test("duplicates of one event id inside a batch and across batches, and a pledge under two event ids", async () => {
    const [c] = await newCampaigns(1);
    const a = capture(c!, { donorKey: "a", amountMinor: 500 });
    const b = capture(c!, { donorKey: "b", amountMinor: 200 });
    const refundB = refundOf(b);
    const { batResults } = await expectBatchesEqualOneByOne({
      campaigns: [c!],
      batches: [
        [a, a, b, reannounce(a), a],
        [b, refundB, refundB, a, reannounce(refundB), capture(c!, { donorKey: "a", amountMinor: 50 })],
        [refundB, a],
      ],
    });
    expect(batResults).toEqual([true, false, true, false, false, false, true, false, false, false, true, false, false]);
  });

  test("refunds of pledges never captured leave tombstones that absorb later captures, in later batches too", async () => {
    const [c] = await newCampaigns(1);
    const p1 = capture(c!, { donorKey: "a", amountMinor: 500 });
    const p2 = capture(c!, { donorKey: "b", amountMinor: 600 });
    await expectBatchesEqualOneByOne({
      campaigns: [c!],
      batches: [[refundOf(p1), refundOf(p2, { amountMinor: 1 })], [p1, reannounce(p2), refundOf(p1)], [p2]],
    });
    expect((await campaignRows(bat, [c!]))[0]!.version).toBe(1);
  });

  test("an unknown campaign is logged per capture as today; its donation and donor rows are still kept", async () => {
    const [c] = await newCampaigns(1);
    const ghost = Bun.randomUUIDv7();
    const errorsBefore = batLog.lines.filter((l) => l.msg === "totals.unknown_campaign").length;
    const g1 = capture(ghost, { donorKey: "g", amountMinor: 100 });
    const g2 = capture(ghost, { donorKey: "g", amountMinor: 200 });
    await expectBatchesEqualOneByOne({
      campaigns: [c!],
      unknown: [ghost],
      batches: [[g1, capture(c!, { amountMinor: 300 }), g2, refundOf(g1)]],
    });
    const errors = batLog.lines.filter((l) => l.msg === "totals.unknown_campaign").slice(errorsBefore);
    expect(errors).toHaveLength(2);
    expect(new Set(errors.map((l) => `${l.level} ${l.campaignId} ${l.pledgeId}`))).toEqual(
      new Set([`error ${ghost} ${g1.data.pledgeId}`, `error ${ghost} ${g2.data.pledgeId}`]),
    );
  });

  test("seeded random mixes of captures, refunds, duplicates and reorderings over several campaigns", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const known = await newCampaigns(3);
      const ghost = Bun.randomUUIDv7();
      let state = seed;
      const rnd = () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      };
      const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const timeline: PledgeChangeEvent[] = [];
      const captured: PledgeChangeEvent[] = [];
      const orphans: PledgeChangeEvent[] = [];
      for (let i = 0; i < 60; i++) {
        const r = rnd();
        if (r < 0.4 || captured.length === 0) {
          const campaignId = rnd() < 0.08 ? ghost : pick(known);
          const e = capture(campaignId, {
            donorKey: `d${Math.floor(rnd() * 6)}`,
            amountMinor: 100 + Math.floor(rnd() * 900),
            anonymous: rnd() < 0.2,
          });
          captured.push(e);
          timeline.push(e);
        } else if (r < 0.6) timeline.push(refundOf(pick(captured)));
        else if (r < 0.68) {
          // A refund whose capture comes later (or never).
          const e = capture(pick(known), { donorKey: `d${Math.floor(rnd() * 6)}`, amountMinor: 100 });
          orphans.push(e);
          timeline.push(refundOf(e));
        } else if (r < 0.76 && orphans.length > 0) timeline.push(pick(orphans));
        else if (r < 0.88) timeline.push(pick(timeline));
        else timeline.push(reannounce(pick(timeline)));
      }
      for (let i = 0; i < 15; i++) {
        const a = Math.floor(rnd() * timeline.length);
        const b = Math.floor(rnd() * timeline.length);
        [timeline[a], timeline[b]] = [timeline[b]!, timeline[a]!];
      }
      const split = Math.floor(rnd() * 15);
      const batches: PledgeChangeEvent[][] = [];
      for (let i = split; i < timeline.length; ) {
        const size = 1 + Math.floor(rnd() * 25);
        batches.push(timeline.slice(i, i + size));
        i += size;
      }
      await expectBatchesEqualOneByOne({
        campaigns: known,
        unknown: [ghost],
        before: timeline.slice(0, split),
        batches,
      });
    }
  }, 60_000);

  test("a batch redelivered after it committed (same ids, any order, with new events) changes only the new ones", async () => {
    const [c1, c2] = await newCampaigns(2);
    const earlier = capture(c1!, { donorKey: "a", amountMinor: 100 });
    await batTotals.applyPledgeEvent(earlier);
    const batch = [
      capture(c1!, { donorKey: "a", amountMinor: 500 }),
      capture(c2!, { donorKey: "b", amountMinor: 200 }),
      refundOf(earlier),
    ];
    batch.push(refundOf(batch[1]!));
    expect(await batTotals.applyPledgeEvents(batch)).toEqual([true, true, true, true]);
    const ids = [c1!, c2!];
    const eventIds = batch.map((e) => e.id);
    const snapshot = async () => ({
      state: await state(bat, ids, eventIds),
      rows: await campaignRows(bat, ids),
      events: await totalsChanged(bat, ids),
    });
    const committed = await snapshot();

    expect(await batTotals.applyPledgeEvents(batch)).toEqual([false, false, false, false]);
    expect(await batTotals.applyPledgeEvents([...batch].reverse())).toEqual([false, false, false, false]);
    expect(await snapshot()).toEqual(committed);

    const extra = capture(c2!, { donorKey: "b", amountMinor: 40 });
    expect(await batTotals.applyPledgeEvents([...batch, extra])).toEqual([false, false, false, false, true]);
    const [r1, r2] = await campaignRows(bat, ids);
    expect([r1!.version, r2!.version]).toEqual([committed.rows[0]!.version, committed.rows[1]!.version + 1]);
    expect(r2!.raisedMinor).toBe(40);
  });

  test("a batch that fails part-way commits nothing: its redelivery applies it whole, once", async () => {
    const [c] = await newCampaigns(1);
    const good = [capture(c!, { donorKey: "a", amountMinor: 500 }), capture(c!, { donorKey: "b", amountMinor: 200 })];
    // A pledge id that is not a UUID fails the donations insert, after the inbox insert ran.
    const poison = capture(c!, { pledgeId: "not-a-uuid" });
    const before = await state(
      bat,
      [c!],
      [...good, poison].map((e) => e.id),
    );
    await expect(batTotals.applyPledgeEvents([...good, poison])).rejects.toThrow();
    expect(
      await state(
        bat,
        [c!],
        [...good, poison].map((e) => e.id),
      ),
    ).toEqual(before);
    expect(await batTotals.applyPledgeEvents(good)).toEqual([true, true]);
    const [row] = await campaignRows(bat, [c!]);
    expect({ raised: row!.raisedMinor, donors: row!.donorCount, version: row!.version }).toEqual({
      raised: 700,
      donors: 2,
      version: 2,
    });
  });

  /**
   * Ten batches over the same three campaigns, each on its own connection and all in flight at
   * once: a transaction holds the campaign rows until every batch waits on a lock (polled, no
   * sleeps), then lets go. Each batch captures 3 fresh pledges per campaign, listed in a campaign
   * and donor order of its own, so every batch moves every campaign. With `shared`, the batches
   * also share donors (in crossing orders) and refund earlier pledges (two batches the same two);
   * batch 0 repeats an event id of batch 9 and batch 2 re-announces a pledge of batch 7. Few
   * shared ids, so most batches reach the donor counters together.
   */
  async function raceTenBatches(shared: boolean) {
    const ids = await newCampaigns(3);
    const N = 10;
    const old = Array.from({ length: N }, (_, k) =>
      capture(ids[k % 3]!, { donorKey: `d${k % 5}`, amountMinor: 1000 + k }),
    );
    if (shared) for (const e of old) await batTotals.applyPledgeEvent(e);
    const versionsBefore = new Map((await campaignRows(bat, ids)).map((r) => [r.id, r.version]));
    const own = Array.from({ length: N }, (_, k) =>
      ids.flatMap((c, ci) =>
        [0, 1, 2].map((j) =>
          capture(c, {
            // Shared: even batches capture for d0, d1, d2 and odd ones for d2, d1, d0 (crossing).
            donorKey: shared ? `d${k % 2 === 0 ? j : 2 - j}` : `b${k}-d${j}`,
            amountMinor: 100 + 10 * k + j + ci,
          }),
        ),
      ),
    );
    const batches = own.map((events, k) => {
      const rotated = [...events.slice((k % 3) * 3), ...events.slice(0, (k % 3) * 3)];
      const ordered = k % 2 === 0 ? rotated : rotated.reverse();
      if (!shared) return ordered;
      // Batches 4 and 5 both refund old[4] and old[5], in crossing orders; the others their own.
      const refunds = k === 4 || k === 5 ? [refundOf(old[4]!), refundOf(old[5]!)] : [refundOf(old[k]!)];
      const extra = k === 0 ? [own[9]![0]!] : k === 2 ? [reannounce(own[7]![0]!)] : [];
      return [...(k % 2 === 0 ? refunds : refunds.reverse()), ...ordered, ...extra];
    });

    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const blocker = bat.db.transaction(async (tx) => {
      await tx.select({ id: campaigns.id }).from(campaigns).where(inArray(campaigns.id, ids)).for("update");
      // Shared: holding d1's counter (created by old[6]) makes an even batch that took d0 and an
      // odd one that took d2 both wait for d1, the ground for a deadlock if the order differed.
      if (shared)
        await tx
          .select()
          .from(campaignDonors)
          .where(and(eq(campaignDonors.campaignId, ids[0]!), eq(campaignDonors.donorKey, "d1")))
          .for("update");
      locked();
      await released;
    });
    await isLocked;
    const running = batches.map((b) =>
      batTotals.applyPledgeEvents(b).then(
        () => null,
        (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
      ),
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [row] = (await bat.db.execute(sql`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`)) as unknown as Array<{ waiting: number }>;
      if (row!.waiting >= N) break;
      if (Date.now() > deadline) throw new Error(`only ${row!.waiting} of ${N} batches reached a lock wait`);
      await Bun.sleep(10);
    }
    release();
    await blocker;
    // A deadlock would fail one of them (40P01).
    expect(await Promise.all(running)).toEqual(batches.map(() => null));

    // Every fresh pledge counts once; every earlier one is refunded once.
    const live = own.flat();
    const rows = await campaignRows(bat, ids);
    for (const row of rows) {
      const mine = live.filter((e) => e.data.campaignId === row.id);
      expect({
        raised: row.raisedMinor,
        pledges: row.pledgeCount,
        donors: row.donorCount,
        version: row.version,
      }).toEqual({
        raised: mine.reduce((s, e) => s + e.data.amountMinor, 0),
        pledges: mine.length,
        donors: new Set(mine.map((e) => e.data.donorKey)).size,
        version: versionsBefore.get(row.id)! + N,
      });
      // One event per batch, each a distinct version; the newest carries the final snapshot.
      const before = versionsBefore.get(row.id)!;
      const published = (await totalsChanged(bat, [row.id]))
        .map((r) => r.envelope.data as { version: number })
        .filter((d) => d.version > before);
      expect(published.map((d) => d.version).sort((a, b) => a - b)).toEqual(
        Array.from({ length: N }, (_, i) => before + 1 + i),
      );
      expect(published.find((d) => d.version === row.version)).toEqual(toCampaign(row));
    }
    // The donor counters agree with the donation rows.
    const counters = await bat.db.select().from(campaignDonors).where(inArray(campaignDonors.campaignId, ids));
    const expected = new Map<string, number>();
    for (const e of live) {
      const key = `${e.data.campaignId}/${e.data.donorKey}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    for (const row of counters) expect(row.capturedCount).toBe(expected.get(`${row.campaignId}/${row.donorKey}`) ?? 0);
    expect(counters.filter((r) => r.capturedCount > 0)).toHaveLength(expected.size);
  }

  test("10 batches racing on the same campaigns from separate connections lose no update", async () => {
    await raceTenBatches(false);
  }, 30_000);

  test("10 racing batches sharing donors, pledges and event ids never deadlock and converge", async () => {
    await raceTenBatches(true);
  }, 30_000);
});
