// Campaign end dates (issue 8) against real PostgreSQL: the sweeper closes every campaign whose
// endsAt has passed — status closed and ONE campaign.closed event in the same transaction, the
// path a manual close takes — exactly once, even with two sweepers (replicas) at once or an owner
// closing at the same moment; open-ended and future campaigns are left alone, an ended campaign
// cannot be reopened by a PATCH, and a capture arriving after the close still counts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CampaignSnapshot, PledgeChange, PledgeChangeEvent } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { and, asc, eq, inArray } from "drizzle-orm";
import { campaigns, outbox } from "../src/db/schema";
import { createEndedCampaignCloser } from "../src/ended-campaigns";
import { type CampaignService, createCampaignService } from "../src/service";
import { createTotalsService } from "../src/totals";
import { startEndSweeper } from "../src/workers/end-sweeper";
import { type CampaignTestApp, startCampaignTestApp, user, validBody } from "./support";

let h: CampaignTestApp;
let service: CampaignService;
const owner = user("owner");
const MINUTE = 60_000;

beforeAll(async () => {
  h = await startCampaignTestApp({ poolMax: 16 });
  service = createCampaignService({ db: h.db, clock: h.clock });
});
afterAll(async () => {
  await h.stop();
});

const closer = () => createEndedCampaignCloser({ db: h.db, clock: h.clock });

/** A campaign ending `inMs` from the test clock (null: open-ended). */
async function campaign(inMs: number | null = MINUTE): Promise<CampaignSnapshot> {
  const endsAt = inMs === null ? undefined : new Date(h.clock.now() + inMs).toISOString();
  return service.create(owner, validBody(endsAt ? { endsAt } : {}) as Parameters<CampaignService["create"]>[1]);
}

async function row(id: string) {
  const [r] = await h.db.select().from(campaigns).where(eq(campaigns.id, id));
  return r!;
}

/** Every event committed for these campaigns, oldest first, as [type, aggregate, version, status]. */
async function events(ids: string[], type?: string) {
  const rows = await h.db
    .select()
    .from(outbox)
    .where(type ? and(inArray(outbox.aggregateId, ids), eq(outbox.type, type)) : inArray(outbox.aggregateId, ids))
    .orderBy(asc(outbox.id));
  return rows.map((r) => r.envelope as { type: string; aggregateId: string; data: CampaignSnapshot });
}

/** Moves the shared test clock to `ms` (never backwards: other tests' campaigns only end sooner). */
const moveTo = (ms: number) => h.clock.set(Math.max(ms, h.clock.now()));

describe("the sweep", () => {
  test("closes a campaign once its endsAt is reached: closed, version + 1, one campaign.closed with that snapshot", async () => {
    const c = await campaign();
    const endsAt = Date.parse(c.endsAt!);
    moveTo(endsAt - 1);
    expect((await closer().closeEnded()).map((s) => s.id)).not.toContain(c.id);
    expect((await row(c.id)).status).toBe("active");

    moveTo(endsAt);
    const closed = await closer().closeEnded();
    const mine = closed.find((s) => s.id === c.id);
    expect(mine).toMatchObject({ id: c.id, status: "closed", version: 2, endsAt: c.endsAt });
    expect(await row(c.id)).toMatchObject({ status: "closed", version: 2 });
    const sent = await events([c.id]);
    expect(sent.map((e) => [e.type, e.data.version, e.data.status])).toEqual([
      ["campaign.created", 1, "active"],
      ["campaign.closed", 2, "closed"],
    ]);
    // The event carries exactly the snapshot the sweep returned (what every reader applies).
    expect(sent[1]!.data).toEqual(mine!);
  });

  test("is idempotent: a second sweep closes nothing more and writes no event", async () => {
    const c = await campaign();
    moveTo(Date.parse(c.endsAt!) + 1);
    expect((await closer().closeEnded()).map((s) => s.id)).toContain(c.id);
    expect((await closer().closeEnded()).map((s) => s.id)).not.toContain(c.id);
    expect(await events([c.id], "campaign.closed")).toHaveLength(1);
    expect((await row(c.id)).version).toBe(2);
  });

  test("leaves open-ended campaigns, future ends and closed campaigns untouched", async () => {
    const openEnded = await campaign(null);
    const future = await campaign(10 * 24 * 60 * MINUTE);
    const manual = await campaign(null);
    await service.close(owner, manual.id);
    moveTo(h.clock.now() + 60 * MINUTE);
    await closer().closeEnded();
    expect(await row(openEnded.id)).toMatchObject({ status: "active", version: 1, endsAt: null });
    expect(await row(future.id)).toMatchObject({ status: "active", version: 1 });
    expect(await row(manual.id)).toMatchObject({ status: "closed", version: 2 });
    expect(await events([openEnded.id, future.id], "campaign.closed")).toHaveLength(0);
    expect(await events([manual.id], "campaign.closed")).toHaveLength(1);
  });

  test("closes in batches, earliest end first, until none is due", async () => {
    const batch = await Promise.all(Array.from({ length: 5 }, (_, i) => campaign(MINUTE + i)));
    moveTo(Date.parse(batch[4]!.endsAt!));
    const sweeper = closer();
    const seen: string[] = [];
    for (let closed = await sweeper.closeEnded(2); closed.length > 0; closed = await sweeper.closeEnded(2)) {
      expect(closed.length).toBeLessThanOrEqual(2);
      // Within one batch the order is the UPDATE's; across batches, earlier ends close first.
      seen.push(...closed.sort((x, y) => Date.parse(x.endsAt!) - Date.parse(y.endsAt!)).map((s) => s.id));
    }
    const ids = batch.map((c) => c.id);
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
  });
});

describe("two sweepers at once (two replicas)", () => {
  test("close each ended campaign exactly once, with exactly one campaign.closed each", async () => {
    for (let round = 0; round < 5; round++) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => campaign(MINUTE)));
      moveTo(Date.parse(batch.at(-1)!.endsAt!) + 1);
      // Two closers, as two processes would have: each its own transaction on its own connection.
      const [a, b] = await Promise.all([closer().closeEnded(), closer().closeEnded()]);
      const ids = batch.map((c) => c.id);
      const closedByA = a.map((s) => s.id).filter((id) => ids.includes(id));
      const closedByB = b.map((s) => s.id).filter((id) => ids.includes(id));
      // Disjoint, and together every one of them.
      expect(closedByA.filter((id) => closedByB.includes(id))).toEqual([]);
      expect([...closedByA, ...closedByB].sort()).toEqual([...ids].sort());
      const closedEvents = await events(ids, "campaign.closed");
      expect(closedEvents).toHaveLength(ids.length);
      expect(new Set(closedEvents.map((e) => e.aggregateId)).size).toBe(ids.length);
      for (const c of batch) expect(await row(c.id)).toMatchObject({ status: "closed", version: 2 });
    }
  });

  test("a sweeper skips a campaign another one holds (no waiting), and closes it later if it is still open", async () => {
    const c = await campaign();
    moveTo(Date.parse(c.endsAt!) + 1);
    // Another replica's sweep (or an owner's close) holds the row, mid-transaction.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = h.db.transaction(async (tx) => {
      await tx.select().from(campaigns).where(eq(campaigns.id, c.id)).for("update");
      locked();
      await released;
      // It rolls back: the campaign is still open for the next sweep.
      tx.rollback();
    });
    await isLocked;
    const skipped = await closer().closeEnded();
    expect(skipped.map((s) => s.id)).not.toContain(c.id);
    release();
    await holder.catch(() => undefined);
    expect((await closer().closeEnded()).map((s) => s.id)).toContain(c.id);
    expect(await events([c.id], "campaign.closed")).toHaveLength(1);
  });

  test("an owner's close racing the sweep: closed once, one campaign.closed, both answer closed", async () => {
    for (let round = 0; round < 10; round++) {
      const c = await campaign();
      moveTo(Date.parse(c.endsAt!) + 1);
      const [manual] = await Promise.all([service.close(owner, c.id), closer().closeEnded()]);
      expect(manual.status).toBe("closed");
      expect(await row(c.id)).toMatchObject({ status: "closed", version: 2 });
      expect(await events([c.id], "campaign.closed")).toHaveLength(1);
    }
  });
});

describe("around the sweep", () => {
  test("a manual close takes the same path: one campaign.closed, never campaign.updated", async () => {
    const c = await campaign(null);
    const closed = await service.close(owner, c.id);
    expect((await events([c.id])).map((e) => [e.type, e.data.status])).toEqual([
      ["campaign.created", "active"],
      ["campaign.closed", "closed"],
    ]);
    expect((await events([c.id], "campaign.closed"))[0]!.data).toEqual(closed);
  });

  test("an ended campaign the sweep has not reached yet cannot be reopened: PATCH → 409 campaign-ended", async () => {
    const c = await campaign();
    moveTo(Date.parse(c.endsAt!));
    const later = new Date(h.clock.now() + 60 * MINUTE).toISOString();
    const refused = await service.update(owner, c.id, { endsAt: later }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, code: "campaign-ended" });
    expect(await row(c.id)).toMatchObject({ status: "active", version: 1, endsAt: new Date(c.endsAt!) });
    expect(await events([c.id], "campaign.updated")).toHaveLength(0);
  });

  test("a capture that arrives after the sweep closed the campaign still counts (invariant 3)", async () => {
    const c = await campaign();
    moveTo(Date.parse(c.endsAt!) + 1);
    expect((await closer().closeEnded()).map((s) => s.id)).toContain(c.id);
    const totals = createTotalsService({ db: h.db, clock: h.clock, log: silentLogger() });
    const data: PledgeChange = {
      pledgeId: Bun.randomUUIDv7(),
      campaignId: c.id,
      donorId: null,
      donorKey: "guest:late-capture",
      donorName: "Ann",
      anonymous: false,
      message: null,
      status: "captured",
      amountMinor: 2_500,
      currency: "BDT",
      failureReason: null,
      at: h.clock.date().toISOString(),
    };
    expect(await totals.applyPledgeEvent(newEvent("pledge.captured", data.pledgeId, data) as PledgeChangeEvent)).toBe(
      true,
    );
    expect(await row(c.id)).toMatchObject({ status: "closed", raisedMinor: 2_500, donorCount: 1, pledgeCount: 1 });
  });

  test("the worker main starts closes an ended campaign within its interval", async () => {
    const c = await campaign();
    moveTo(Date.parse(c.endsAt!) + 1);
    const worker = startEndSweeper(closer(), silentLogger(), 50);
    try {
      await waitFor(async () => (await row(c.id)).status === "closed", {
        timeoutMs: 5_000,
        what: "the end sweeper to close the campaign",
      });
    } finally {
      worker.stop();
    }
    expect(await events([c.id], "campaign.closed")).toHaveLength(1);
  });
});
