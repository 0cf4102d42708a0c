// The journaled memory bus (embedded profile), each test on its own SQLite journal file: the
// shared bus contract, then what the journal adds — stored before publish() resolves (group
// commit), nothing acknowledged lost across a crash, dedupe across a restart, trimming.
import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Bus,
  type BusJournal,
  type EventEnvelope,
  type JournaledMemoryBusOptions,
  openJournaledMemoryBus,
  openSqliteJournal,
  type SqliteJournal,
} from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { busContract, makeEvent } from "./contract";
import { quietWindow, waitFor } from "./wait-for";

const dir = mkdtempSync(join(tmpdir(), "bus-journal-"));
let files = 0;
const journals: SqliteJournal[] = [];

/** A new journal file's path. */
const freshPath = () => join(dir, `journal-${++files}.sqlite`);

/** Opens the journal at `path` (a second handle on a file stands for the restarted process). */
function openJournal(path: string): SqliteJournal {
  const journal = openSqliteJournal(path);
  journals.push(journal);
  return journal;
}

afterAll(() => {
  for (const journal of journals) journal.close();
  rmSync(dir, { recursive: true, force: true });
});

busContract("journaled memory", async (log) => {
  const journal = openJournal(freshPath());
  const bus = await openJournaledMemoryBus({ log, journal });
  return {
    // One process-wide bus stands for the whole deployment: every "replica" shares it.
    connect: async () => bus,
    cleanup: async () => {
      await bus.close();
      journal.close();
    },
  };
});

/** A journal whose process "dies": once crashed, nothing it is asked reaches the database. */
function crashable(journal: BusJournal) {
  let crashed = false;
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      crashed ? Promise.reject(new Error("process is gone")) : fn(...args);
  const calls = { append: [] as number[] };
  const wrapped: BusJournal = {
    open: guard((o) => journal.open(o)),
    append: guard((events) => {
      calls.append.push(events.length);
      return journal.append(events);
    }),
    saveFloors: guard((floors) => journal.saveFloors(floors)),
    trim: guard((below, before) => journal.trim(below, before)),
  };
  return {
    journal: wrapped,
    calls,
    crash() {
      crashed = true;
    },
  };
}

/** Events in the journal file, read through a handle of its own. */
async function rows(path: string): Promise<number> {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("select count(*) as n from events").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("journaled memory bus", () => {
  const open: Bus[] = [];
  const openBus = async (options: JournaledMemoryBusOptions) => {
    const bus = await openJournaledMemoryBus(options);
    open.push(bus);
    return bus;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
  });

  test("an event is stored before publish() resolves and before any consumer sees it; a tick's publishes share one INSERT", async () => {
    const path = freshPath();
    const base = openJournal(path);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const appends: number[] = [];
    const journal: BusJournal = {
      ...base,
      append: async (events) => {
        appends.push(events.length);
        await gate;
        return base.append(events);
      },
    };
    const bus = await openBus({ log: silentLogger(), journal });
    const got: string[] = [];
    await bus.subscribe({ durable: "early", types: ["order.placed"], handler: async (e) => void got.push(e.id) });
    const events = Array.from({ length: 50 }, (_, i) => makeEvent("order.placed", { i }));
    let resolved = 0;
    const publishing = events.map((e) => bus.publish(e).then(() => resolved++));
    await waitFor(() => appends.length === 1);
    await quietWindow(100);
    expect({ resolved, got: got.length, stored: await rows(path) }).toEqual({ resolved: 0, got: 0, stored: 0 });
    release();
    await Promise.all(publishing);
    expect(await rows(path)).toBe(50);
    expect(appends).toEqual([50]);
    await waitFor(() => got.length === 50);
    // Offered in publish order.
    expect(got).toEqual(events.map((e) => e.id));
  });

  test("a failed write rejects publish(); the same id published again is accepted, not a duplicate", async () => {
    const path = freshPath();
    const base = openJournal(path);
    let failNext = true;
    const journal: BusJournal = {
      ...base,
      append: async (events) => {
        if (failNext) {
          failNext = false;
          throw new Error("disk full");
        }
        return base.append(events);
      },
    };
    const bus = await openBus({ log: silentLogger(), journal });
    const got: string[] = [];
    await bus.subscribe({ durable: "retry", types: ["order.placed"], handler: async (e) => void got.push(e.id) });
    const event = makeEvent("order.placed", {});
    await expect(bus.publish(event)).rejects.toThrow("disk full");
    expect(await bus.publish(event)).toEqual({ duplicate: false });
    await waitFor(() => got.length === 1);
    expect(await rows(path)).toBe(1);
  });

  test("crash: every unacknowledged event is delivered after the restart, acknowledged ones at most once more, no resolved publish lost", async () => {
    const path = freshPath();
    const first = crashable(openJournal(path));
    const bus1 = await openJournaledMemoryBus({
      log: silentLogger(),
      journal: first.journal,
      floorSaveIntervalMs: 20,
    });
    let releaseHeld!: () => void;
    const held = new Promise<void>((resolve) => {
      releaseHeld = resolve;
    });
    const acked = new Set<string>();
    const holding = new Set<string>();
    await bus1.subscribe({
      durable: "svc",
      types: ["order.*"],
      concurrency: 64,
      handler: async (event) => {
        if ((event.data as { i: number }).i % 3 === 2) {
          holding.add(event.id);
          await held;
          throw new Error("the process died under this handler");
        }
        acked.add(event.id);
      },
    });
    const published: EventEnvelope[] = [];
    for (let i = 0; i < 30; i++) {
      const event = makeEvent("order.placed", { i });
      await bus1.publish(event);
      published.push(event);
    }
    await waitFor(() => acked.size === 20 && holding.size === 10);
    // Some acks are saved as floors: the held events keep the floor at the first of them.
    await quietWindow(100);
    // Published last, right before the crash: resolved means stored, whatever happens next.
    const lastMoment = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const event = makeEvent("order.shipped", { i: 100 + i });
        await bus1.publish(event);
        return event;
      }),
    );
    published.push(...lastMoment);
    first.crash();

    const bus2 = await openBus({ log: silentLogger(), journal: openJournal(path) });
    const again = new Map<string, number>();
    await bus2.subscribe({
      durable: "svc",
      types: ["order.*"],
      handler: async (event) => void again.set(event.id, (again.get(event.id) ?? 0) + 1),
    });
    // A durable first seen after the crash starts at the beginning of what is retained.
    const fresh: string[] = [];
    await bus2.subscribe({ durable: "newcomer", types: ["order.*"], handler: async (e) => void fresh.push(e.id) });
    const unacked = published.filter((e) => !acked.has(e.id));
    await waitFor(() => unacked.every((e) => again.has(e.id)));
    await waitFor(() => fresh.length === published.length);
    await quietWindow(200);
    for (const e of published) if (acked.has(e.id)) expect(again.get(e.id) ?? 0).toBeLessThanOrEqual(1);
    for (const count of again.values()) expect(count).toBe(1);
    expect(fresh.sort()).toEqual(published.map((e) => e.id).sort());
    // The floor had moved past the acked prefix: not everything came back.
    expect(again.size).toBeLessThan(published.length);

    // The dead process's leftovers: its handlers end, its journal calls fail (logged), then it is let go.
    releaseHeld();
    await bus1.close();
  });

  test("ids inside the duplicate window stay duplicates across a restart", async () => {
    let now = 1_000_000;
    const path = freshPath();
    const options = () => ({
      log: silentLogger(),
      journal: openJournal(path),
      duplicateWindowMs: 60_000,
      now: () => now,
    });
    const bus1 = await openJournaledMemoryBus(options());
    const event = makeEvent("pledge.created", {});
    expect(await bus1.publish(event)).toEqual({ duplicate: false });
    await bus1.close();
    now += 30_000;
    const bus2 = await openJournaledMemoryBus(options());
    expect(await bus2.publish(event)).toEqual({ duplicate: true });
    await bus2.close();
    now += 30_000;
    const bus3 = await openBus(options());
    expect(await bus3.publish(event)).toEqual({ duplicate: false });
  });

  test("events every durable is past are trimmed, in the journal and in memory, once out of the duplicate window", async () => {
    let now = 5_000_000;
    const path = freshPath();
    const bus = await openBus({
      log: silentLogger(),
      journal: openJournal(path),
      duplicateWindowMs: 1_000,
      floorSaveIntervalMs: 10,
      trimIntervalMs: 20,
      now: () => now,
    });
    const a: string[] = [];
    await bus.subscribe({ durable: "a", types: ["order.*"], handler: async (e) => void a.push(e.id) });
    for (let i = 0; i < 10; i++) await bus.publish(makeEvent("order.placed", { i }));
    await waitFor(() => a.length === 10);
    // Handled, but still inside the duplicate window: kept.
    await quietWindow(100);
    expect(await rows(path)).toBe(10);
    now += 2_000;
    await waitFor(async () => (await rows(path)) === 0);
    // Gone from memory too: a durable first seen now has nothing to catch up on.
    const b: string[] = [];
    await bus.subscribe({ durable: "b", types: ["order.*"], handler: async (e) => void b.push(e.id) });
    const late = makeEvent("order.placed", { late: true });
    await bus.publish(late);
    await waitFor(() => b.length === 1 && a.length === 11);
    expect(b).toEqual([late.id]);
  });

  test("a durable that never comes back pins the journal only until the retention passes", async () => {
    let now = 9_000_000;
    const path = freshPath();
    const options = () => ({
      log: silentLogger(),
      journal: openJournal(path),
      duplicateWindowMs: 1_000,
      retentionMs: 60_000,
      trimIntervalMs: 20,
      now: () => now,
    });
    const bus1 = await openJournaledMemoryBus(options());
    // "gone" fails every event and waits a minute to retry: at close they are all still its to handle.
    await bus1.subscribe({
      durable: "gone",
      types: ["order.*"],
      backoffMs: [60_000],
      handler: async () => {
        throw new Error("broken consumer");
      },
    });
    await bus1.subscribe({ durable: "busy", types: ["order.*"], handler: async () => {} });
    for (let i = 0; i < 5; i++) await bus1.publish(makeEvent("order.placed", { i }));
    await bus1.close();
    // "gone" is never subscribed again; its saved floor keeps what it has not handled...
    now += 10_000;
    const bus2 = await openBus(options());
    await bus2.subscribe({ durable: "busy", types: ["order.*"], handler: async () => {} });
    await bus2.publish(makeEvent("order.placed", { i: 5 }));
    await quietWindow(150);
    expect(await rows(path)).toBeGreaterThan(0);
    // ...until the retention is over.
    now += 120_000;
    await waitFor(async () => (await rows(path)) === 0);
  });
});
