// Runs the shared bus contract against a real NATS JetStream server, plus what only a server
// can show: a restarted consumer resuming, malformed payloads, concurrent stream provisioning,
// how much a batch consumer pulls, and batches of redelivered messages.
import { afterAll, describe, expect, test } from "bun:test";
import {
  createJetStreamBus,
  type DeliveryContext,
  deleteStream,
  type EventEnvelope,
  jetStreamOptions,
  streamName,
} from "@careforall/bus";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { busContract, makeEvent } from "./contract";
import { captureLog, quietWindow, waitFor } from "./wait-for";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const run = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
const prefixes = new Set<string>();
let n = 0;

/** Every test gets its own stream, so durables never see another test's events. */
function freshPrefix(): string {
  const prefix = `${run}_${++n}`;
  prefixes.add(prefix);
  return prefix;
}

afterAll(async () => {
  await Promise.all([...prefixes].map((p) => deleteStream(url, p)));
});

busContract("jetstream", async (log) => {
  const prefix = freshPrefix();
  return {
    connect: () => createJetStreamBus({ url, prefix, log }),
    cleanup: async () => {
      await deleteStream(url, prefix);
      prefixes.delete(prefix);
    },
  };
});

describe("jetstream bus", () => {
  test("a restarted consumer resumes with the same durable and loses no unacked message", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const first = await createJetStreamBus({ url, prefix, log });
    const events = Array.from({ length: 6 }, (_, i) => makeEvent("pledge.created", { i }));
    for (const e of events) await first.publish(e);
    const [naked, blocking] = events as [EventEnvelope, EventEnvelope];

    const succeeded = new Map<string, { process: number; deliveryCount: number }[]>();
    const ok = (process: number, event: EventEnvelope, ctx: DeliveryContext) => {
      succeeded.set(event.id, [...(succeeded.get(event.id) ?? []), { process, deliveryCount: ctx.deliveryCount }]);
    };
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let blockingStarted = false;
    const sub = await first.subscribe({
      durable: "resume",
      types: ["pledge.created"],
      concurrency: 1,
      backoffMs: [300],
      handler: async (event, ctx) => {
        // The first event fails and waits out its backoff while this process goes away.
        if (event.id === naked.id) throw new Error("fails on the old process");
        if (event.id === blocking.id) {
          blockingStarted = true;
          await gate;
        }
        ok(1, event, ctx);
      },
    });
    await waitFor(() => blockingStarted);
    const stopping = sub.stop();
    release();
    await stopping;
    await first.close();

    const second = await createJetStreamBus({ url, prefix, log });
    try {
      await second.subscribe({
        durable: "resume",
        types: ["pledge.created"],
        handler: async (e, ctx) => ok(2, e, ctx),
      });
      // Well inside the 30 s ack_wait: messages the old process held were handed back, not left to time out.
      await waitFor(() => events.every((e) => succeeded.has(e.id)), 5_000);
      for (const e of events) expect(succeeded.get(e.id)?.length).toBe(1);
      expect(succeeded.get(blocking.id)?.[0]?.process).toBe(1);
      expect(succeeded.get(naked.id)?.[0]).toEqual({ process: 2, deliveryCount: 2 });
    } finally {
      await second.close();
    }
  });

  test("a message whose every attempt outlives ack_wait is terminated and logged, not dropped silently", async () => {
    const prefix = freshPrefix();
    const { log, lines } = captureLog();
    const bus = await createJetStreamBus({ url, prefix, log });
    try {
      let attempts = 0;
      await bus.subscribe({
        durable: "hung",
        types: ["pledge.created"],
        maxDeliver: 2,
        ackWaitMs: 200,
        handler: async () => {
          attempts++;
          await Bun.sleep(500);
        },
      });
      const event = makeEvent("pledge.created", {});
      await bus.publish(event);
      await waitFor(() => bus.stats().terminated === 1);
      expect(attempts).toBe(2);
      expect(lines.find((l) => l.msg === "bus.event_terminated")).toMatchObject({
        eventId: event.id,
        deliveryCount: 3,
      });
    } finally {
      await bus.close();
    }
  });

  test("a payload that is not an envelope is terminated, logged, counted, and does not block the next", async () => {
    const prefix = freshPrefix();
    const { log, lines } = captureLog();
    const bus = await createJetStreamBus({ url, prefix, log });
    const nc = await connect({ servers: url });
    try {
      const js = (await jetstreamManager(nc)).jetstream();
      await js.publish(`${prefix}.evt.pledge.created`, "{not json");
      const good = makeEvent("pledge.created", {});
      await bus.publish(good);
      const got: string[] = [];
      await bus.subscribe({ durable: "strict", types: ["pledge.created"], handler: async (e) => void got.push(e.id) });
      await waitFor(() => got.includes(good.id) && bus.stats().terminated === 1);
      expect(lines.find((l) => l.msg === "bus.malformed_event")).toMatchObject({ level: "error" });
    } finally {
      await nc.close();
      await bus.close();
    }
  });

  test("processes starting together provision one stream; a changed duplicate window converges", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const buses = await Promise.all([1, 2, 3].map(() => createJetStreamBus({ url, prefix, log })));
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(streamName(prefix));
      expect(info.config.subjects).toEqual([`${prefix}.evt.>`]);
      expect(info.config.duplicate_window).toBe(nanos(120_000));
      const changed = await createJetStreamBus({ url, prefix, log, duplicateWindowMs: 60_000 });
      buses.push(changed);
      expect((await jsm.streams.info(streamName(prefix))).config.duplicate_window).toBe(nanos(60_000));
    } finally {
      await nc.close();
      await Promise.all(buses.map((b) => b.close()));
    }
  });

  test("the stream's max age is set on a new stream and converged onto an existing one (0: forever)", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const first = await createJetStreamBus({ url, prefix, log });
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(streamName(prefix))).config.max_age).toBe(0);
      const dayOld = await createJetStreamBus({ url, prefix, log, maxAgeMs: 24 * 3_600_000 });
      await dayOld.close();
      expect((await jsm.streams.info(streamName(prefix))).config.max_age).toBe(nanos(24 * 3_600_000));
      // What every service passes: BUS_STREAM_MAX_AGE_HOURS from its config.
      const configured = await createJetStreamBus({
        ...jetStreamOptions({
          NATS_URL: url,
          BUS_PREFIX: prefix,
          BUS_DUPLICATE_WINDOW_MS: 120_000,
          BUS_STREAM_MAX_AGE_HOURS: 720,
        }),
        log,
      });
      await configured.close();
      expect((await jsm.streams.info(streamName(prefix))).config.max_age).toBe(nanos(720 * 3_600_000));
      // A bus opened without a max age (a tool, a test's publisher) leaves the services' setting alone.
      const tool = await createJetStreamBus({ url, prefix, log, duplicateWindowMs: 60_000 });
      await tool.close();
      const info = await jsm.streams.info(streamName(prefix));
      expect(info.config.duplicate_window).toBe(nanos(60_000));
      expect(info.config.max_age).toBe(nanos(720 * 3_600_000));
      // 0: forever again.
      const forever = await createJetStreamBus({ url, prefix, log, maxAgeMs: 0 });
      await forever.close();
      expect((await jsm.streams.info(streamName(prefix))).config.max_age).toBe(0);
    } finally {
      await nc.close();
      await first.close();
    }
  });

  test("retainedSince() moves forward as events age out of a stream with a max age", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const bus = await createJetStreamBus({ url, prefix, log, maxAgeMs: 1_000 });
    try {
      await bus.publish(makeEvent("pledge.created", { i: 0 }));
      const firstStored = Date.now();
      expect((await bus.retainedSince()).getTime()).toBeLessThanOrEqual(firstStored);
      // The server deletes it about a second later: then nothing that old can be delivered again.
      await waitFor(async () => (await bus.retainedSince()).getTime() > firstStored, 20_000, 100);
    } finally {
      await bus.close();
    }
  });

  test("a batch consumer pulls about maxBatch × concurrency messages, not the whole backlog", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const bus = await createJetStreamBus({ url, prefix, log });
    const nc = await connect({ servers: url });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => bus.publish(makeEvent("pledge.created", { i }))));
      let active = 0;
      let handled = 0;
      await bus.subscribeBatch({
        durable: "bounded",
        types: ["pledge.created"],
        maxBatch: 10,
        concurrency: 2,
        handleBatch: async (items) => {
          active++;
          await gate;
          handled += items.length;
        },
      });
      await waitFor(() => active === 2);
      // Time for an over-eager consumer to pull more than it can work on.
      await quietWindow(300);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.info(streamName(prefix), `${prefix}_bounded`);
      // 20 in the two running batches, at most about as many again buffered for the next ones.
      expect(info.num_ack_pending).toBeGreaterThanOrEqual(20);
      expect(info.num_ack_pending).toBeLessThanOrEqual(45);
      release();
      await waitFor(() => handled === 300);
    } finally {
      release();
      await nc.close();
      await bus.close();
    }
  });

  test("a consumer of several types is sent only what its filter covers, not the whole stream", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const bus = await createJetStreamBus({ url, prefix, log });
    const nc = await connect({ servers: url });
    try {
      // 3 other families' events for every one the consumer wants, all published before it starts.
      const wanted = [makeEvent("pledge.captured", { i: 0 }), makeEvent("pledge.refunded", { i: 1 })];
      for (let i = 0; i < 6; i++) await bus.publish(makeEvent("payment.authorized", { i }));
      for (const event of wanted) await bus.publish(event);
      await bus.publish(makeEvent("pledge.created", { i: 9 }));
      const seen: string[] = [];
      await bus.subscribe({
        durable: "totals",
        types: ["pledge.captured", "pledge.refunded"],
        handler: async (event) => {
          seen.push(event.id);
        },
      });
      await waitFor(() => seen.length === 2);
      const jsm = await jetstreamManager(nc);
      const consumerInfo = () => jsm.consumers.info(streamName(prefix), `${prefix}_totals`);
      const info = await consumerInfo();
      expect(seen).toEqual(wanted.map((e) => e.id));
      // Exact filters where the server takes several; one `pledge.*` where it takes one (2.9):
      // either way the six payment events never reach this consumer, at most the one pledge.created does.
      const filters = info.config.filter_subjects ?? [String(info.config.filter_subject)];
      expect([
        [`${prefix}.evt.pledge.captured`, `${prefix}.evt.pledge.refunded`],
        [`${prefix}.evt.pledge.*`],
      ]).toContainEqual(filters);
      await waitFor(async () => {
        const now = await consumerInfo();
        return now.num_pending === 0 && now.num_ack_pending === 0;
      });
      expect((await consumerInfo()).delivered.consumer_seq).toBeLessThanOrEqual(3);
    } finally {
      await nc.close();
      await bus.close();
    }
  });

  test("a recreated batch consumer gets what its predecessor held, redelivered and new alike, in one batch", async () => {
    const prefix = freshPrefix();
    const { log } = captureLog();
    const first = await createJetStreamBus({ url, prefix, log });
    const nc = await connect({ servers: url });
    const events = Array.from({ length: 6 }, (_, i) => makeEvent("pledge.created", { i }));
    for (const e of events) await first.publish(e);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const firstBatches: string[][] = [];
    const sub = await first.subscribeBatch({
      durable: "recreated",
      types: ["pledge.created"],
      maxBatch: 2,
      maxWaitMs: 50,
      handleBatch: async (items) => {
        firstBatches.push(items.map((i) => i.event.id));
        await gate;
      },
    });
    const second = await (async () => {
      try {
        await waitFor(() => firstBatches.length === 1);
        // The server has sent the predecessor one message beyond its running batch (buffered).
        const jsm = await jetstreamManager(nc);
        await waitFor(
          async () => (await jsm.consumers.info(streamName(prefix), `${prefix}_recreated`)).delivered.stream_seq >= 3,
        );
        const stopping = sub.stop();
        release();
        await stopping;
        await first.close();
        return await createJetStreamBus({ url, prefix, log });
      } finally {
        release();
        await nc.close();
      }
    })();
    try {
      const batches: { id: string; deliveryCount: number }[][] = [];
      // Other settings than its predecessor's: the durable is updated, not replaced.
      await second.subscribeBatch({
        durable: "recreated",
        types: ["pledge.created"],
        maxBatch: 10,
        maxWaitMs: 50,
        maxDeliver: 5,
        handleBatch: async (items) =>
          void batches.push(items.map((i) => ({ id: i.event.id, deliveryCount: i.ctx.deliveryCount }))),
      });
      const late = makeEvent("pledge.created", { late: true });
      await second.publish(late);
      const rest = [...events.slice(2), late].map((e) => e.id);
      // Well inside ack_wait: the buffered message was handed back at once.
      await waitFor(() => batches.flat().length >= rest.length, 5_000);
      await quietWindow(200);
      expect(firstBatches).toEqual([events.slice(0, 2).map((e) => e.id)]);
      expect(batches.flat().map((b) => b.id)).toEqual(rest);
      const [opening] = batches;
      const [held, fresh] = events.slice(2) as [EventEnvelope, EventEnvelope];
      expect(opening?.[0]).toEqual({ id: held.id, deliveryCount: 2 });
      expect(opening?.[1]).toEqual({ id: fresh.id, deliveryCount: 1 });
      expect(second.stats()).toMatchObject({ handled: rest.length, failed: 0, terminated: 0 });
    } finally {
      await second.close();
    }
  });
});
