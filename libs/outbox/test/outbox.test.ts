import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type Bus, createJetStreamBus, createMemoryBus, deleteStream, type EventEnvelope } from "@careforall/bus";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, type DbHandle, type TestDatabase } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import { createOutboxRelay, enqueue, newEvent, recordInbox, recordInboxMany } from "@careforall/outbox";
import { currentTraceId, initTelemetry, requestIdOf, SpanKind, withRequestId, withSpan } from "@careforall/telemetry";
import { TEST_NATS_URL, uniqueName, waitFor } from "@careforall/testkit";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { eq, sql } from "drizzle-orm";
import { DDL, inbox, outbox, tables, widgets } from "./fixtures/schema";

const log = silentLogger();
initTelemetry({ service: "outbox-test" });
let tdb: TestDatabase;
let handle: DbHandle<typeof tables>;

beforeAll(async () => {
  tdb = await createTestDatabase("outbox");
  handle = createDb({ url: tdb.url, schema: tables, max: 8 });
  await handle.client.unsafe(DDL);
});
afterAll(async () => {
  await handle.close();
  await tdb.drop();
});

async function reset() {
  await handle.client`truncate outbox_demo.widgets, outbox_demo.outbox, outbox_demo.inbox`;
}

function collect(bus: Bus, durable: string) {
  const seen: EventEnvelope[] = [];
  const sub = bus.subscribe({ durable, types: ["widget.*"], handler: async (e) => void seen.push(e) });
  return { seen, sub };
}

/** A relay (not started: tests call drainOnce) that holds events during more than 20 commits a second. */
function burstRelay(bus: Bus, holdMs: number) {
  const clock = manualClock(Date.now());
  const relay = createOutboxRelay({ db: handle.db, table: outbox, bus, log, clock, burst: { ratePerSec: 20, holdMs } });
  return { clock, relay };
}

describe("outbox", () => {
  test("an event is enqueued only if its transaction commits", async () => {
    await reset();
    const { db } = handle;
    await db
      .transaction(async (tx) => {
        await tx.insert(widgets).values({ id: "rolled-back", qty: 1 });
        await enqueue(tx, outbox, newEvent("widget.created", "rolled-back", {}));
        throw new Error("abort");
      })
      .catch(() => {});
    await db.transaction(async (tx) => {
      await tx.insert(widgets).values({ id: "kept", qty: 1 });
      await enqueue(tx, outbox, newEvent("widget.created", "kept", {}));
    });
    const rows = await db.select().from(outbox);
    expect(rows.map((r) => r.aggregateId)).toEqual(["kept"]);
  });

  test("the relay publishes in order, marks rows published, and reports lag", async () => {
    await reset();
    const bus = createMemoryBus({ log });
    const { seen, sub } = collect(bus, "order");
    await sub;
    for (let i = 0; i < 5; i++) {
      await handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", `w${i}`, { i })));
    }
    const relay = createOutboxRelay({ db: handle.db, table: outbox, bus, log });
    expect((await relay.lag()).pending).toBe(5);
    expect(await relay.drainOnce()).toBe(5);
    expect(await relay.drainOnce()).toBe(0);
    await waitFor(() => seen.length === 5, { what: "5 events" });
    expect(seen.map((e) => e.aggregateId)).toEqual(["w0", "w1", "w2", "w3", "w4"]);
    expect((await relay.lag()).pending).toBe(0);
    await bus.close();
  });

  test("a row keeps the trace and request id of what enqueued it; its consumer continues them", async () => {
    await reset();
    const bus = createMemoryBus({ log });
    const got: Array<{ traceId: string | undefined; requestId: string | undefined }> = [];
    await bus.subscribe({
      durable: "traced",
      types: ["widget.*"],
      handler: async () => void got.push({ traceId: currentTraceId(), requestId: requestIdOf() }),
    });
    const traceId = await withSpan(
      "POST /widgets",
      { kind: SpanKind.SERVER, parent: withRequestId(ROOT_CONTEXT, "req-o1") },
      async () => {
        await handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", "traced", {})));
        return currentTraceId();
      },
    );
    const [row] = await handle.db.select().from(outbox);
    expect(row?.headers).toMatchObject({
      "x-request-id": "req-o1",
      traceparent: expect.stringContaining(traceId as string),
    });
    // Published later by the relay, outside the request: the stored context wins.
    await createOutboxRelay({ db: handle.db, table: outbox, bus, log }).drainOnce();
    await waitFor(() => got.length === 1, { what: "the event consumed" });
    expect(got).toEqual([{ traceId, requestId: "req-o1" }]);
    await bus.close();
  });

  test("a failed publish is retried later with backoff and nothing is lost", async () => {
    await reset();
    const inner = createMemoryBus({ log });
    let failures = 2;
    const flaky: Bus = {
      ...inner,
      publish: async (e, o) => {
        if (failures-- > 0) throw new Error("publish refused");
        return inner.publish(e, o);
      },
      // The bus answers: the failure is this event's, so the row itself is backed off.
      ping: async () => true,
    };
    const { seen, sub } = collect(inner, "flaky");
    await sub;
    await handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", "f1", {})));
    const relay = createOutboxRelay({ db: handle.db, table: outbox, bus: flaky, log, backoffMs: [10], pollMs: 10 });
    relay.start();
    await waitFor(() => seen.length === 1, { what: "retried publish" });
    await relay.stop();
    const [row] = await handle.db.select().from(outbox).where(eq(outbox.aggregateId, "f1"));
    expect(row?.attempts).toBe(3);
    expect(row?.publishedAt).not.toBeNull();
    await inner.close();
  });

  test("a bus that is away: nothing is marked; when it is back the backlog goes out first, in order", async () => {
    await reset();
    const inner = createMemoryBus({ log });
    let away = true;
    const outage: Bus = {
      ...inner,
      publish: async (e, o) => {
        if (away) throw new Error("CONNECTION_REFUSED");
        return inner.publish(e, o);
      },
      ping: async () => !away,
    };
    const { seen, sub } = collect(inner, "outage");
    await sub;
    const commit = (id: string) =>
      handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", id, {})));
    for (const id of ["o1", "o2", "o3"]) await commit(id);
    const relay = createOutboxRelay({ db: handle.db, table: outbox, bus: outage, log, backoffMs: [60_000] });
    expect(await relay.drainOnce()).toBe(0);
    await commit("o4"); // committed during the outage
    expect(await relay.drainOnce()).toBe(0);
    // Not backed off, not counted as attempts: the outage was the bus's, not the events'.
    const rows = await handle.db.select().from(outbox);
    expect(rows.map((r) => r.attempts)).toEqual([0, 0, 0, 0]);
    expect(rows.every((r) => r.nextAttemptAt.getTime() <= Date.now())).toBe(true);

    away = false;
    await Bun.sleep(2); // o4 is stamped in microseconds; the relay's clock reads milliseconds
    expect(await relay.drainOnce()).toBe(4);
    await waitFor(() => seen.length === 4, { what: "the backlog" });
    expect(seen.map((e) => e.aggregateId)).toEqual(["o1", "o2", "o3", "o4"]);
    await inner.close();
  });

  test("during a burst of commits events wait until they are holdMs old; when it ends, all go out in order", async () => {
    await reset();
    const bus = createMemoryBus({ log });
    const { seen, sub } = collect(bus, "burst");
    await sub;
    // Rows get PostgreSQL's now(): the clock is set to real time after a commit, then moved by hand.
    const { clock, relay } = burstRelay(bus, 5_000);
    const commit = (id: string) =>
      handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", id, {})));
    const burstOf = (commits: number) => {
      for (let i = 0; i < commits; i++) relay.kick();
    };
    const published = () => seen.map((e) => e.aggregateId);

    await commit("early");
    clock.set(Date.now());
    burstOf(30);
    expect(relay.holding()).toBe(true);
    expect(await relay.drainOnce()).toBe(0);

    // Still bursting 5 s later: what has waited the whole hold goes out, what just came stays.
    clock.advance(5_001);
    await Bun.sleep(2); // "late" is stamped after the hold's edge (clock set + 1 ms), never on it
    await commit("late");
    burstOf(30);
    expect(await relay.drainOnce()).toBe(1);
    await waitFor(() => published().length === 1, { what: "the held event" });
    expect(published()).toEqual(["early"]);

    // A second without commits: the burst is over and the rest goes out at once.
    clock.advance(1_001);
    expect(relay.holding()).toBe(false);
    expect(await relay.drainOnce()).toBe(1);
    await waitFor(() => published().length === 2, { what: "the rest" });
    expect(published()).toEqual(["early", "late"]);
    await bus.close();
  });

  test("below the burst rate nothing is held", async () => {
    await reset();
    const bus = createMemoryBus({ log });
    const { seen, sub } = collect(bus, "steady");
    await sub;
    const { clock, relay } = burstRelay(bus, 60_000);
    await handle.db.transaction((tx) => enqueue(tx, outbox, newEvent("widget.created", "steady", {})));
    clock.set(Date.now() + 1); // +1: PostgreSQL stamps microseconds, Date.now() truncates to the millisecond
    for (let i = 0; i < 20; i++) relay.kick();
    expect(await relay.drainOnce()).toBe(1);
    await waitFor(() => seen.length === 1, { what: "the event" });
    await bus.close();
  });

  test("several relay replicas publish each event exactly once between them (SKIP LOCKED)", async () => {
    await reset();
    const bus = createMemoryBus({ log });
    let publishes = 0;
    const counting: Bus = {
      ...bus,
      publish: (e, o) => {
        publishes++;
        return bus.publish(e, o);
      },
    };
    await handle.db.transaction((tx) =>
      enqueue(
        tx,
        outbox,
        Array.from({ length: 300 }, (_, i) => newEvent("widget.created", `r${i}`, {})),
      ),
    );
    const relays = Array.from({ length: 4 }, () =>
      createOutboxRelay({ db: handle.db, table: outbox, bus: counting, log, batchSize: 20, pollMs: 5 }),
    );
    for (const r of relays) r.start();
    await waitFor(async () => (await relays[0]!.lag()).pending === 0, { what: "backlog drained" });
    await Promise.all(relays.map((r) => r.stop()));
    expect(publishes).toBe(300);
    await bus.close();
  });

  test("a commit followed by SIGKILL before publishing still reaches JetStream after restart", async () => {
    await reset();
    const prefix = uniqueName("outbox");
    const bus = await createJetStreamBus({ url: TEST_NATS_URL, prefix, log });
    try {
      const { seen, sub } = collect(bus, "crash");
      await sub;
      const child = Bun.spawn(["bun", join(import.meta.dir, "fixtures/commit-then-die.ts"), tdb.url, "crash-1"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const code = await child.exited;
      expect(await new Response(child.stdout).text()).toContain("committed");
      expect(child.signalCode ?? code).toBe("SIGKILL");
      // The process is gone; the event only exists in PostgreSQL. A new relay (the restart) picks it up.
      expect(seen).toHaveLength(0);
      const relay = createOutboxRelay({ db: handle.db, table: outbox, bus, log, pollMs: 10 });
      relay.start();
      await waitFor(() => seen.some((e) => e.aggregateId === "crash-1"), { what: "event after restart" });
      await relay.stop();
      // Publishing again (a relay that died after publish, before marking) is deduplicated by id.
      const [row] = await handle.db.select().from(outbox).where(eq(outbox.aggregateId, "crash-1"));
      expect((await bus.publish(row!.envelope)).duplicate).toBe(true);
    } finally {
      await bus.close();
      await deleteStream(TEST_NATS_URL, prefix);
    }
  });
});

describe("inbox", () => {
  test("the same event id applies its effect once, even when delivered concurrently", async () => {
    await reset();
    await handle.db.insert(widgets).values({ id: "counter", qty: 0 });
    const eventId = Bun.randomUUIDv7();
    const apply = () =>
      handle.db.transaction(async (tx) => {
        if (!(await recordInbox(tx, inbox, "widget-counter", eventId))) return false;
        await tx
          .update(widgets)
          .set({ qty: sql`${widgets.qty} + 1` })
          .where(eq(widgets.id, "counter"));
        return true;
      });
    const results = await Promise.all(Array.from({ length: 10 }, apply));
    expect(results.filter(Boolean)).toHaveLength(1);
    const [row] = await handle.db.select().from(widgets).where(eq(widgets.id, "counter"));
    expect(row?.qty).toBe(1);
    // Another consumer of the same event has its own record.
    expect(await recordInbox(handle.db, inbox, "other-consumer", eventId)).toBe(true);
  });

  test("an effect that rolls back does not record the event, so a redelivery applies it", async () => {
    await reset();
    const eventId = Bun.randomUUIDv7();
    await handle.db
      .transaction(async (tx) => {
        await recordInbox(tx, inbox, "c", eventId);
        throw new Error("effect failed");
      })
      .catch(() => {});
    expect(await recordInbox(handle.db, inbox, "c", eventId)).toBe(true);
  });

  test("recordInboxMany: one statement for a batch; only first-seen ids come back, repeats and overlaps once", async () => {
    await reset();
    const [a, b, c] = [Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7()];
    expect(await recordInbox(handle.db, inbox, "batch", a)).toBe(true);
    const first = await recordInboxMany(handle.db, inbox, "batch", [a, b, b, c]);
    expect([...first].sort()).toEqual([b, c].sort());
    // Batches racing on overlapping ids in different orders: each id is first-seen by exactly one, no deadlock.
    const d = Bun.randomUUIDv7();
    const ids = [c, d, ...Array.from({ length: 20 }, () => Bun.randomUUIDv7())];
    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        handle.db.transaction((tx) => recordInboxMany(tx, inbox, "batch", i % 2 ? [...ids].reverse() : ids)),
      ),
    );
    const won = racers.flatMap((s) => [...s]);
    expect(won.sort()).toEqual(ids.filter((id) => id !== c).sort());
    expect(await recordInboxMany(handle.db, inbox, "batch", [])).toEqual(new Set());
  });
});
