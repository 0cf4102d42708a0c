// Inbox pruning against real PostgreSQL: pruneInbox deletes only rows older than its horizon,
// oldest first, at most `limit`; the pruner's horizon keeps every row whose event the bus could
// still deliver, and every row younger than the minimum retention.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, type DbHandle, type TestDatabase } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import { createInboxPruner, pruneInbox } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { DDL, inbox, tables } from "./fixtures/schema";

const log = silentLogger();
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
let tdb: TestDatabase;
let handle: DbHandle<typeof tables>;

beforeAll(async () => {
  tdb = await createTestDatabase("inbox_prune");
  handle = createDb({ url: tdb.url, schema: tables, max: 2 });
  await handle.client.unsafe(DDL);
});
afterAll(async () => {
  await handle.close();
  await tdb.drop();
});
beforeEach(async () => {
  await handle.client`truncate outbox_demo.inbox`;
});

/** One row per age (ms before `now`), event id `e<age in hours>`. */
async function rowsAged(now: number, agesMs: number[]) {
  await handle.db
    .insert(inbox)
    .values(agesMs.map((age) => ({ consumer: "c", eventId: `e${age / HOUR}`, processedAt: new Date(now - age) })));
}

async function remaining(): Promise<string[]> {
  const rows = await handle.db.select({ id: inbox.eventId, at: inbox.processedAt }).from(inbox);
  return rows.sort((a, b) => a.at.getTime() - b.at.getTime()).map((r) => r.id);
}

describe("pruneInbox", () => {
  test("deletes the rows processed before the horizon, oldest first, no more than the limit", async () => {
    const now = Date.now();
    await rowsAged(now, [10 * HOUR, 9 * HOUR, 8 * HOUR, 7 * HOUR, 2 * HOUR, 1 * HOUR]);
    const before = new Date(now - 5 * HOUR);
    expect(await pruneInbox(handle.db, inbox, before, 3)).toBe(3);
    expect(await remaining()).toEqual(["e7", "e2", "e1"]);
    expect(await pruneInbox(handle.db, inbox, before, 3)).toBe(1);
    expect(await pruneInbox(handle.db, inbox, before, 3)).toBe(0);
    expect(await remaining()).toEqual(["e2", "e1"]);
  });
});

describe("inbox pruner", () => {
  const start = Date.UTC(2026, 5, 1);

  function pruner(retainedSince: () => Date, clock = manualClock(start), batchSize = 2) {
    const pruned: number[] = [];
    const p = createInboxPruner({
      db: handle.db,
      table: inbox,
      log,
      clock,
      retainedSince: async () => retainedSince(),
      minRetentionMs: 7 * DAY,
      batchSize,
      onPruned: (n) => pruned.push(n),
    });
    return { p, pruned, clock };
  }

  test("prunes nothing while the bus still holds every event (a stream kept forever)", async () => {
    await rowsAged(start, [400 * DAY, 30 * DAY, 8 * DAY, 1 * HOUR]);
    // Max age 0: the oldest event held is the first one ever published, older than every row.
    const { p, pruned } = pruner(() => new Date(start - 500 * DAY));
    expect(await p.pruneOnce()).toBe(0);
    expect(pruned).toEqual([]);
    expect(await remaining()).toHaveLength(4);
  });

  test("prunes rows older than the bus's oldest event (minus the margin) once past the minimum retention", async () => {
    const clock = manualClock(start);
    // The stream keeps 10 days: events of the last 10 days can still be delivered.
    await rowsAged(start, [20 * DAY, 12 * DAY, 10 * DAY + 30 * 60_000, 9 * DAY, 2 * DAY]);
    const { p, pruned } = pruner(() => new Date(clock.now() - 10 * DAY), clock);
    // Horizon: min(10 days + 1 h ago, 7 days ago) = 10 days + 1 h ago. Within the margin stays.
    expect((await p.horizon()).getTime()).toBe(start - 10 * DAY - HOUR);
    expect(await p.pruneOnce()).toBe(2);
    // Several full batches of 2 in one round would have taken the rest too: the round stopped on a short one.
    expect(pruned).toEqual([2]);
    expect(await remaining()).toEqual(["e240.5", "e216", "e48"]);
    // Time passes: the stream moves on, the rows whose events aged out follow.
    clock.advance(3 * DAY);
    expect(await p.pruneOnce()).toBe(2);
    expect(await remaining()).toEqual(["e48"]);
  });

  test("never prunes a row younger than the minimum retention, even when the bus holds only newer events", async () => {
    const clock = manualClock(start);
    await rowsAged(start, [8 * DAY, 7 * DAY - HOUR, 3 * DAY, 1 * HOUR]);
    // A stream with a short max age (or emptied): its oldest event is a minute old.
    const { p } = pruner(() => new Date(clock.now() - 60_000), clock, 1);
    expect((await p.horizon()).getTime()).toBe(start - 7 * DAY);
    // Batches of one: the round goes on while batches are full, and stops on the first short one.
    expect(await p.pruneOnce()).toBe(1);
    expect(await remaining()).toEqual(["e167", "e72", "e1"]);
  });

  test("the loop prunes a backlog larger than a round, and stops cleanly", async () => {
    const clock = manualClock(start);
    await rowsAged(
      start,
      Array.from({ length: 9 }, (_, i) => (30 + i) * DAY),
    );
    const pruned: number[] = [];
    const p = createInboxPruner({
      db: handle.db,
      table: inbox,
      log,
      clock,
      retainedSince: async () => new Date(clock.now() - DAY),
      minRetentionMs: 7 * DAY,
      batchSize: 2,
      maxBatchesPerRound: 2,
      // The loop's own interval is never waited for: full rounds are followed by the next at once.
      intervalMs: 3_600_000,
      onPruned: (n) => pruned.push(n),
    });
    p.start();
    try {
      await waitFor(async () => (await remaining()).length === 0, { timeoutMs: 30_000, what: "the backlog pruned" });
    } finally {
      await p.stop();
    }
    expect(await remaining()).toEqual([]);
    expect(pruned.reduce((a, b) => a + b, 0)).toBe(9);
    expect(pruned).toEqual([4, 4, 1]);
  });
});
