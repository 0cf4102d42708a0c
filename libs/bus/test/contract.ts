// The behaviour every Bus implementation must show, registered once per implementation so the
// in-process bus cannot drift from JetStream: dedupe, sharing, filters, retries, traces, stop,
// and batched consumers.
import { afterEach, describe, expect, test } from "bun:test";
import type { BatchItem, Bus, DeliveryContext, EventEnvelope } from "@careforall/bus";
import type { Logger } from "@careforall/log";
import { currentTraceId, initTelemetry, requestIdOf, SpanKind, withRequestId, withSpan } from "@careforall/telemetry";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { captureLog, quietWindow, waitFor } from "./wait-for";

// Spans recorded: the batch test reads a consumer span's links.
initTelemetry({ service: "bus-test", recordSpans: true });

/** One isolated bus "deployment" (a fresh stream for JetStream). */
export interface BusNamespace {
  /** Opens a bus on the namespace; each call stands for another process (a replica). */
  connect(): Promise<Bus>;
  /** Removes whatever the namespace left behind (streams, consumers). */
  cleanup(): Promise<void>;
}

export type OpenNamespace = (log: Logger) => Promise<BusNamespace>;

export function makeEvent<T>(type: string, data: T, aggregateId = "agg-1"): EventEnvelope<T> {
  return { id: Bun.randomUUIDv7(), type, occurredAt: new Date().toISOString(), aggregateId, data };
}

interface Received {
  event: EventEnvelope;
  ctx: DeliveryContext;
  traceId: string | undefined;
}

/** The bus may stamp events with its own clock (the NATS server's, on this machine): a little slack. */
const CLOCK_SLACK_MS = 1_000;

// Short delays keep the suite fast while still exercising real redelivery timers.
const BACKOFF = [50, 100];

export function busContract(name: string, open: OpenNamespace): void {
  describe(`${name} bus contract`, () => {
    const namespaces: BusNamespace[] = [];
    const buses: Bus[] = [];

    async function setup() {
      const captured = captureLog(`bus-${name}`);
      const ns = await open(captured.log);
      namespaces.push(ns);
      const connect = async () => {
        const bus = await ns.connect();
        buses.push(bus);
        return bus;
      };
      return { bus: await connect(), connect, lines: captured.lines };
    }

    afterEach(async () => {
      await Promise.all(buses.splice(0).map((b) => b.close()));
      await Promise.all(namespaces.splice(0).map((ns) => ns.cleanup()));
    });

    test("a durable handler receives the published envelope intact", async () => {
      const { bus } = await setup();
      const got: Received[] = [];
      await bus.subscribe({
        durable: "intact",
        types: ["pledge.created"],
        handler: async (event, ctx) => {
          got.push({ event, ctx, traceId: currentTraceId() });
        },
      });
      const event = makeEvent("pledge.created", { pledgeId: "p1", amount: 2500, currency: "EUR", tags: ["a", "b"] });
      const result = await bus.publish(event);
      expect(result).toEqual({ duplicate: false });
      await waitFor(() => got.length === 1);
      expect(got[0]?.event).toEqual(event);
      expect(got[0]?.ctx.deliveryCount).toBe(1);
      expect(bus.stats()).toMatchObject({ published: 1, handled: 1, failed: 0, terminated: 0 });
    });

    test("pending() reports a durable's backlog (consumer lag) and drops to 0 once handled", async () => {
      const { bus } = await setup();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let handled = 0;
      const sub = await bus.subscribe({
        durable: "lag",
        types: ["lag.tested"],
        concurrency: 1,
        handler: async () => {
          await gate;
          handled++;
        },
      });
      // A subscription names its durable (the label of its lag gauge); a broadcast has none.
      expect(sub.durable).toBe("lag");
      for (let i = 0; i < 3; i++) await bus.publish(makeEvent("lag.tested", { i }));
      await waitFor(async () => (await sub.pending()) === 3);
      release();
      await waitFor(() => handled === 3);
      await waitFor(async () => (await sub.pending()) === 0);
      const broadcast = await bus.subscribe({ types: ["lag.tested"], handler: async () => {} });
      expect(broadcast.durable).toBeUndefined();
      expect(await broadcast.pending()).toBe(0);
    });

    test("the same id published twice is stored once and handled once", async () => {
      const { bus } = await setup();
      const seen: string[] = [];
      await bus.subscribe({
        durable: "dedupe",
        types: ["pledge.*"],
        concurrency: 1,
        handler: async (event) => {
          seen.push(event.id);
        },
      });
      const event = makeEvent("pledge.created", { n: 1 });
      expect(await bus.publish(event)).toEqual({ duplicate: false });
      expect(await bus.publish({ ...event })).toEqual({ duplicate: true });
      // In-order delivery: once the marker is handled, a second copy would already have arrived.
      const marker = makeEvent("pledge.captured", {});
      await bus.publish(marker);
      await waitFor(() => seen.includes(marker.id));
      expect(seen).toEqual([event.id, marker.id]);
      expect(bus.stats()).toMatchObject({ published: 2, duplicates: 1 });
    });

    test("subscribers sharing a durable split the work, each event handled exactly once", async () => {
      const { bus, connect } = await setup();
      const replica = await connect();
      const byReplica: [string[], string[]] = [[], []];
      for (const [i, b] of [bus, replica].entries()) {
        await b.subscribe({
          durable: "workers",
          types: ["pledge.created"],
          concurrency: 1,
          handler: async (event) => {
            byReplica[i as 0 | 1].push(event.id);
            await Bun.sleep(5);
          },
        });
      }
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const event = makeEvent("pledge.created", { i });
        ids.push(event.id);
        await bus.publish(event);
      }
      await waitFor(() => byReplica[0].length + byReplica[1].length >= 20);
      const all = [...byReplica[0], ...byReplica[1]];
      expect(all.sort()).toEqual([...ids].sort());
      expect(byReplica[0].length).toBeGreaterThan(0);
      expect(byReplica[1].length).toBeGreaterThan(0);
    });

    test("independent durables each receive every event", async () => {
      const { bus } = await setup();
      const a: string[] = [];
      const b: string[] = [];
      await bus.subscribe({ durable: "svc_a", types: ["pledge.captured"], handler: async (e) => void a.push(e.id) });
      await bus.subscribe({ durable: "svc_b", types: ["pledge.captured"], handler: async (e) => void b.push(e.id) });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const event = makeEvent("pledge.captured", { i });
        ids.push(event.id);
        await bus.publish(event);
      }
      await waitFor(() => a.length === 5 && b.length === 5);
      expect(a.sort()).toEqual([...ids].sort());
      expect(b.sort()).toEqual([...ids].sort());
    });

    test("type filters select exact types, several types, and one-token wildcards", async () => {
      const { bus } = await setup();
      const campaigns: string[] = [];
      const pledges: string[] = [];
      await bus.subscribe({
        durable: "campaigns",
        types: ["campaign.*"],
        concurrency: 1,
        handler: async (e) => void campaigns.push(e.type),
      });
      await bus.subscribe({
        durable: "pledges",
        types: ["pledge.created", "pledge.captured"],
        concurrency: 1,
        handler: async (e) => void pledges.push(e.type),
      });
      // Non-matching types first: with in-order delivery they would surface before the last matches.
      for (const type of [
        "campaign.goal.reached",
        "pledge.failed",
        "campaign.created",
        "pledge.created",
        "campaign.totals_changed",
        "pledge.captured",
      ]) {
        await bus.publish(makeEvent(type, {}));
      }
      await waitFor(() => campaigns.includes("campaign.totals_changed") && pledges.includes("pledge.captured"));
      expect(campaigns).toEqual(["campaign.created", "campaign.totals_changed"]);
      expect(pledges).toEqual(["pledge.created", "pledge.captured"]);
    });

    test("a failing handler is redelivered with backoff until it succeeds", async () => {
      const { bus } = await setup();
      const counts: number[] = [];
      const times: number[] = [];
      await bus.subscribe({
        durable: "flaky",
        types: ["payment.authorized"],
        backoffMs: BACKOFF,
        handler: async (_event, ctx) => {
          counts.push(ctx.deliveryCount);
          times.push(performance.now());
          if (ctx.deliveryCount < 3) throw new Error("bank timeout");
        },
      });
      await bus.publish(makeEvent("payment.authorized", {}));
      await waitFor(() => bus.stats().handled === 1);
      expect(counts).toEqual([1, 2, 3]);
      const [t1 = 0, t2 = 0, t3 = 0] = times;
      // Timers may fire a little early; the backoff must still be clearly applied.
      expect(t2 - t1).toBeGreaterThanOrEqual(40);
      expect(t3 - t2).toBeGreaterThanOrEqual(80);
      expect(bus.stats()).toMatchObject({ handled: 1, failed: 2, terminated: 0, redelivered: 2 });
    });

    test("a handler that always fails is terminated after maxDeliver, counted and logged", async () => {
      const { bus, lines } = await setup();
      const counts: number[] = [];
      const sub = await bus.subscribe({
        durable: "poison",
        types: ["pledge.created"],
        maxDeliver: 3,
        backoffMs: BACKOFF,
        handler: async (_event, ctx) => {
          counts.push(ctx.deliveryCount);
          throw new Error("always broken");
        },
      });
      const event = makeEvent("pledge.created", {});
      await bus.publish(event);
      await waitFor(() => bus.stats().terminated === 1);
      // Terminated means settled: the event no longer counts as consumer lag.
      await waitFor(async () => (await sub.pending()) === 0);
      await quietWindow(300);
      expect(counts).toEqual([1, 2, 3]);
      expect(bus.stats()).toMatchObject({ terminated: 1, failed: 3, handled: 0 });
      const line = lines.find((l) => l.msg === "bus.event_terminated");
      expect(line).toMatchObject({ level: "error", eventId: event.id, eventType: "pledge.created", deliveryCount: 3 });
    });

    test("the publisher's trace continues in the handler", async () => {
      const { bus } = await setup();
      const got: Received[] = [];
      await bus.subscribe({
        durable: "traced",
        types: ["pledge.created"],
        handler: async (event, ctx) => void got.push({ event, ctx, traceId: currentTraceId() }),
      });
      const traceId = await withSpan("POST /pledges", { kind: SpanKind.SERVER }, async () => {
        await bus.publish(makeEvent("pledge.created", {}));
        return currentTraceId();
      });
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      await waitFor(() => got.length === 1);
      expect(got[0]?.traceId).toBe(traceId);
      expect(got[0]?.ctx.headers.traceparent).toContain(traceId as string);
    });

    test("a stored traceparent passed as a header wins over the caller's context (outbox relay)", async () => {
      const { bus } = await setup();
      const got: Received[] = [];
      await bus.subscribe({
        durable: "relayed",
        types: ["pledge.created"],
        handler: async (event, ctx) => {
          got.push({ event, ctx, traceId: currentTraceId() });
          requestIds.push(requestIdOf());
        },
      });
      const requestIds: Array<string | undefined> = [];
      const stored = "4bf92f3577b34da6a3ce929d0e0e4736";
      await bus.publish(makeEvent("pledge.created", {}), {
        headers: { traceparent: `00-${stored}-00f067aa0ba902b7-01`, "x-request-id": "req-1" },
      });
      await waitFor(() => got.length === 1);
      expect(got[0]?.traceId).toBe(stored);
      expect(got[0]?.ctx.headers["x-request-id"]).toBe("req-1");
      // The consumer runs in the request's context: its spans and log lines name the request.
      expect(requestIds).toEqual(["req-1"]);
    });

    test("a handler's failure is logged with the event's request id, trace id and the consumer's span id", async () => {
      const { bus, lines } = await setup();
      await bus.subscribe({
        durable: "failing",
        types: ["pledge.created"],
        maxDeliver: 1,
        handler: async () => {
          throw new Error("boom");
        },
      });
      const traceId = await withSpan(
        "POST /pledges",
        { kind: SpanKind.SERVER, parent: withRequestId(ROOT_CONTEXT, "req-f1") },
        async () => {
          await bus.publish(makeEvent("pledge.created", {}));
          return currentTraceId();
        },
      );
      const line = await waitFor(() => lines.find((l) => l.msg === "bus.event_terminated"), 15_000);
      expect(line).toMatchObject({ requestId: "req-f1", traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    });

    test("broadcast subscribers in every process get only events published after subscribing", async () => {
      const { bus, connect } = await setup();
      const replica = await connect();
      const before = makeEvent("campaign.totals_changed", { total: 1 });
      await bus.publish(before);
      const got: [string[], string[]] = [[], []];
      for (const [i, b] of [bus, replica].entries()) {
        await b.subscribe({ types: ["campaign.*"], handler: async (e) => void got[i as 0 | 1].push(e.id) });
      }
      const after = makeEvent("campaign.totals_changed", { total: 2 });
      await bus.publish(after);
      // Ordered delivery: had `before` been delivered, it would have come first.
      await waitFor(() => got[0].includes(after.id) && got[1].includes(after.id));
      expect(got[0]).toEqual([after.id]);
      expect(got[1]).toEqual([after.id]);
    });

    test("a broadcast handler failure is logged, not redelivered", async () => {
      const { bus, lines } = await setup();
      const got: string[] = [];
      await bus.subscribe({
        types: ["campaign.*"],
        concurrency: 1,
        handler: async (e) => {
          got.push(e.id);
          if (e.type === "campaign.bad") throw new Error("render failed");
        },
      });
      const bad = makeEvent("campaign.bad", {});
      const good = makeEvent("campaign.good", {});
      await bus.publish(bad);
      await bus.publish(good);
      await waitFor(() => got.includes(good.id));
      expect(got).toEqual([bad.id, good.id]);
      expect(lines.find((l) => l.msg === "bus.broadcast_handler_failed")).toMatchObject({ eventId: bad.id });
    });

    test("stop() waits for the in-flight handler to finish", async () => {
      const { bus } = await setup();
      let started = false;
      let finished = false;
      const sub = await bus.subscribe({
        durable: "slow",
        types: ["pledge.created"],
        handler: async () => {
          started = true;
          await Bun.sleep(150);
          finished = true;
        },
      });
      await bus.publish(makeEvent("pledge.created", {}));
      await waitFor(() => started);
      await sub.stop();
      expect(finished).toBe(true);
      expect(bus.stats().handled).toBe(1);
    });

    test("events published before a durable first subscribes are delivered to it", async () => {
      const { bus } = await setup();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const event = makeEvent("pledge.refunded", { i });
        ids.push(event.id);
        await bus.publish(event);
      }
      const got: string[] = [];
      await bus.subscribe({ durable: "late", types: ["pledge.refunded"], handler: async (e) => void got.push(e.id) });
      await waitFor(() => got.length === 3);
      expect(got.sort()).toEqual(ids.sort());
    });

    test("ping answers while open; a closed bus refuses to publish", async () => {
      const { bus } = await setup();
      expect(await bus.ping()).toBe(true);
      await bus.close();
      expect(await bus.ping()).toBe(false);
      await expect(bus.publish(makeEvent("pledge.created", {}))).rejects.toThrow();
    });

    describe("subscribeBatch", () => {
      const ids = (items: BatchItem[]) => items.map((i) => i.event.id);

      test("events published before and while subscribed arrive once each, in batches of 1..maxBatch", async () => {
        const { bus } = await setup();
        const published: string[] = [];
        const publish = async () => {
          const event = makeEvent("order.placed", { n: published.length });
          published.push(event.id);
          await bus.publish(event);
        };
        for (let i = 0; i < 30; i++) await publish();
        const batches: string[][] = [];
        const sub = await bus.subscribeBatch({
          durable: "batched",
          types: ["order.placed"],
          maxBatch: 8,
          handleBatch: async (items) => void batches.push(ids(items)),
        });
        expect(sub.durable).toBe("batched");
        for (let i = 0; i < 30; i++) await publish();
        await waitFor(() => bus.stats().handled === 60);
        // Acked, not merely handled: nothing is left for a redelivery.
        await waitFor(async () => (await sub.pending()) === 0);
        await quietWindow(200);
        expect(batches.flat().sort()).toEqual([...published].sort());
        for (const batch of batches) expect(batch.length).toBeWithin(1, 9);
        expect(batches.some((b) => b.length > 1)).toBe(true);
        expect(bus.stats()).toMatchObject({ handled: 60, failed: 0, terminated: 0 });
      });

      test("a burst arriving while a batch is applied is handled in far fewer calls than events", async () => {
        const { bus } = await setup();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let calls = 0;
        const seen = new Set<string>();
        await bus.subscribeBatch({
          durable: "burst",
          types: ["order.placed"],
          handleBatch: async (items) => {
            calls++;
            await gate;
            for (const id of ids(items)) seen.add(id);
          },
        });
        await bus.publish(makeEvent("order.placed", { opener: true }));
        await waitFor(() => calls === 1);
        await Promise.all(Array.from({ length: 250 }, (_, i) => bus.publish(makeEvent("order.placed", { i }))));
        release();
        await waitFor(() => seen.size === 251);
        expect(calls).toBeLessThan(251 / 5);
        expect(bus.stats()).toMatchObject({ handled: 251, failed: 0 });
      });

      test("with concurrency 1, order within and across batches follows publish order", async () => {
        const { bus } = await setup();
        const published: string[] = [];
        const publish = async () => {
          const event = makeEvent("order.placed", { n: published.length });
          published.push(event.id);
          await bus.publish(event);
        };
        for (let i = 0; i < 40; i++) await publish();
        const order: string[] = [];
        let active = 0;
        let maxActive = 0;
        await bus.subscribeBatch({
          durable: "ordered",
          types: ["order.placed"],
          maxBatch: 7,
          handleBatch: async (items) => {
            maxActive = Math.max(maxActive, ++active);
            // Uneven durations: overlapping batches would finish out of order.
            await Bun.sleep((7 - items.length) % 3);
            order.push(...ids(items));
            active--;
          },
        });
        for (let i = 0; i < 40; i++) await publish();
        await waitFor(() => order.length >= 80);
        expect(order).toEqual(published);
        expect(maxActive).toBe(1);
      });

      test("at most `concurrency` batches run at once", async () => {
        const { bus } = await setup();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let active = 0;
        let maxActive = 0;
        let handled = 0;
        await bus.subscribeBatch({
          durable: "parallel",
          types: ["order.placed"],
          maxBatch: 5,
          concurrency: 2,
          handleBatch: async (items) => {
            maxActive = Math.max(maxActive, ++active);
            await gate;
            handled += items.length;
            active--;
          },
        });
        for (let i = 0; i < 30; i++) await bus.publish(makeEvent("order.placed", { i }));
        await waitFor(() => active === 2);
        await quietWindow(100);
        expect(maxActive).toBe(2);
        release();
        await waitFor(() => handled === 30);
        expect(maxActive).toBe(2);
      });

      test("a failing batch is split: the poison event is terminated, its neighbours handled once alone", async () => {
        const { bus, lines } = await setup();
        const events = Array.from({ length: 5 }, (_, i) => makeEvent("order.placed", { i }));
        const poison = events[2] as EventEnvelope;
        for (const e of events) await bus.publish(e);
        const calls: { ids: string[]; counts: number[] }[] = [];
        const succeeded = new Map<string, number>();
        const sub = await bus.subscribeBatch({
          durable: "split",
          types: ["order.placed"],
          maxBatch: 10,
          maxWaitMs: 50,
          maxDeliver: 3,
          backoffMs: BACKOFF,
          handleBatch: async (items) => {
            calls.push({ ids: ids(items), counts: items.map((i) => i.ctx.deliveryCount) });
            if (items.some((i) => i.event.id === poison.id)) throw new Error("cannot apply");
            for (const id of ids(items)) succeeded.set(id, (succeeded.get(id) ?? 0) + 1);
          },
        });
        await waitFor(() => bus.stats().terminated === 1 && bus.stats().handled === 4);
        await waitFor(async () => (await sub.pending()) === 0);
        await quietWindow(300);
        // The poison really shared a batch with healthy events.
        expect(calls.some((c) => c.ids.length > 1 && c.ids.includes(poison.id))).toBe(true);
        for (const e of events) if (e !== poison) expect(succeeded.get(e.id)).toBe(1);
        // Healthy events were acked by their first delivery's singleton run, never redelivered.
        const alone = calls.filter((c) => c.ids.length === 1);
        for (const c of alone) if (c.ids[0] !== poison.id) expect(c.counts).toEqual([1]);
        expect(alone.filter((c) => c.ids[0] === poison.id).map((c) => c.counts[0])).toEqual([1, 2, 3]);
        expect(bus.stats()).toMatchObject({ handled: 4, failed: 3, terminated: 1 });
        expect(lines.find((l) => l.msg === "bus.batch_failed")).toMatchObject({ level: "warn", durable: "split" });
        expect(lines.find((l) => l.msg === "bus.event_terminated")).toMatchObject({
          eventId: poison.id,
          deliveryCount: 3,
        });
      });

      test("a transient failure is redelivered with backoff and then succeeds", async () => {
        const { bus } = await setup();
        const counts: number[] = [];
        const times: number[] = [];
        await bus.subscribeBatch({
          durable: "flaky_batch",
          types: ["payment.authorized"],
          backoffMs: BACKOFF,
          handleBatch: async (items) => {
            for (const { ctx } of items) {
              counts.push(ctx.deliveryCount);
              times.push(performance.now());
              if (ctx.deliveryCount < 3) throw new Error("database busy");
            }
          },
        });
        await bus.publish(makeEvent("payment.authorized", {}));
        await waitFor(() => bus.stats().handled === 1);
        expect(counts).toEqual([1, 2, 3]);
        const [t1 = 0, t2 = 0, t3 = 0] = times;
        expect(t2 - t1).toBeGreaterThanOrEqual(40);
        expect(t3 - t2).toBeGreaterThanOrEqual(80);
        expect(bus.stats()).toMatchObject({ handled: 1, failed: 2, terminated: 0 });
      });

      test("a lone event is handled promptly, without waiting for a full batch", async () => {
        const { bus } = await setup();
        const got: string[][] = [];
        await bus.subscribeBatch({
          durable: "lone",
          types: ["order.placed"],
          handleBatch: async (items) => void got.push(ids(items)),
        });
        const event = makeEvent("order.placed", {});
        await bus.publish(event);
        await waitFor(() => got.length === 1, 2_000);
        expect(got).toEqual([[event.id]]);
      });

      test("stop() lets the batch in flight finish; the rest goes to the next subscription", async () => {
        const { bus } = await setup();
        const events = Array.from({ length: 6 }, (_, i) => makeEvent("order.placed", { i }));
        for (const e of events) await bus.publish(e);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const first: string[][] = [];
        let finished = false;
        const sub = await bus.subscribeBatch({
          durable: "handover",
          types: ["order.placed"],
          maxBatch: 3,
          maxWaitMs: 50,
          handleBatch: async (items) => {
            first.push(ids(items));
            await gate;
            finished = true;
          },
        });
        await waitFor(() => first.length === 1);
        const stopping = sub.stop();
        release();
        await stopping;
        expect(finished).toBe(true);
        expect(first).toEqual([events.slice(0, 3).map((e) => e.id)]);
        expect(bus.stats().handled).toBe(3);
        const late = makeEvent("order.placed", { late: true });
        await bus.publish(late);
        const second: string[] = [];
        await bus.subscribeBatch({
          durable: "handover",
          types: ["order.placed"],
          handleBatch: async (items) => void second.push(...ids(items)),
        });
        // Well inside ack_wait: what the first subscription held but never started was handed back.
        const rest = [...events.slice(3), late].map((e) => e.id);
        await waitFor(() => second.length >= rest.length, 5_000);
        await quietWindow(200);
        expect(second.sort()).toEqual(rest.sort());
        expect(first.flat()).toHaveLength(3);
      });

      test("stop() while a batch is still forming neither waits out maxWaitMs nor starts it", async () => {
        const { bus } = await setup();
        const first: string[] = [];
        const sub = await bus.subscribeBatch({
          durable: "forming",
          types: ["order.placed"],
          maxBatch: 10,
          maxWaitMs: 5_000,
          handleBatch: async (items) => void first.push(...ids(items)),
        });
        const event = makeEvent("order.placed", {});
        await bus.publish(event);
        // The lone event is in hand, waiting up to maxWaitMs for company.
        await quietWindow(100);
        expect(first).toEqual([]);
        const started = performance.now();
        await sub.stop();
        expect(performance.now() - started).toBeLessThan(2_000);
        const second: string[] = [];
        await bus.subscribeBatch({
          durable: "forming",
          types: ["order.placed"],
          handleBatch: async (items) => void second.push(...ids(items)),
        });
        await waitFor(() => second.length === 1, 2_000);
        expect(second).toEqual([event.id]);
        expect(first).toEqual([]);
      });

      test("one CONSUMER span per batch links every publisher's trace; a lone event continues its trace", async () => {
        const { bus } = await setup();
        const published: string[] = [];
        for (let i = 0; i < 3; i++) {
          const traceId = await withSpan("POST /orders", { kind: SpanKind.SERVER }, async () => {
            await bus.publish(makeEvent("order.placed", { i }));
            return currentTraceId();
          });
          published.push(traceId as string);
        }
        const got: { size: number; traceId: string | undefined; links: string[] }[] = [];
        await bus.subscribeBatch({
          durable: "traced_batch",
          types: ["order.placed"],
          maxWaitMs: 50,
          handleBatch: async (items) => {
            const span = trace.getActiveSpan() as unknown as { links?: { context: { traceId: string } }[] } | undefined;
            got.push({
              size: items.length,
              traceId: currentTraceId(),
              links: (span?.links ?? []).map((l) => l.context.traceId),
            });
          },
        });
        await waitFor(() => got.length === 1);
        expect(got[0]?.size).toBe(3);
        expect(got[0]?.links.sort()).toEqual([...published].sort());
        expect(got[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
        const lone = await withSpan("POST /orders", { kind: SpanKind.SERVER }, async () => {
          await bus.publish(makeEvent("order.placed", { lone: true }));
          return currentTraceId();
        });
        await waitFor(() => got.length === 2);
        expect(got[1]).toMatchObject({ size: 1, traceId: lone });
      });

      test("a batch whose events all belong to one trace continues it, with its request id", async () => {
        const { bus } = await setup();
        const traceId = await withSpan(
          "POST /orders",
          { kind: SpanKind.SERVER, parent: withRequestId(ROOT_CONTEXT, "req-b1") },
          async () => {
            for (let i = 0; i < 3; i++) await bus.publish(makeEvent("order.placed", { i }));
            return currentTraceId();
          },
        );
        const got: { size: number; traceId: string | undefined; requestId: string | undefined }[] = [];
        await bus.subscribeBatch({
          durable: "one_trace_batch",
          types: ["order.placed"],
          maxWaitMs: 50,
          handleBatch: async (items) => {
            got.push({ size: items.length, traceId: currentTraceId(), requestId: requestIdOf() });
          },
        });
        await waitFor(() => got.reduce((n, b) => n + b.size, 0) === 3);
        for (const batch of got) expect(batch).toMatchObject({ traceId, requestId: "req-b1" });
      });

      test("options are validated up front", async () => {
        const { bus } = await setup();
        const base = { durable: "v", types: ["order.placed"], handleBatch: async () => {} };
        await expect(bus.subscribeBatch({ ...base, maxBatch: 0 })).rejects.toThrow("maxBatch");
        await expect(bus.subscribeBatch({ ...base, maxBatch: 2.5 })).rejects.toThrow("maxBatch");
        await expect(bus.subscribeBatch({ ...base, maxWaitMs: -1 })).rejects.toThrow("maxWaitMs");
        await expect(bus.subscribeBatch({ ...base, concurrency: 0 })).rejects.toThrow("concurrency");
        await expect(bus.subscribeBatch({ ...base, durable: "" })).rejects.toThrow("durable");
        await expect(bus.subscribeBatch({ ...base, types: [] })).rejects.toThrow("types");
      });
    });

    test("retainedSince() is now on an empty bus, then the first held event's time, however many follow", async () => {
      const { bus } = await setup();
      const before = Date.now();
      const empty = (await bus.retainedSince()).getTime();
      expect(empty).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
      expect(empty).toBeLessThanOrEqual(Date.now() + CLOCK_SLACK_MS);
      const sent = Date.now();
      await bus.publish(makeEvent("retained.tested", { i: 0 }));
      const firstStored = Date.now();
      // Later events get later times, so a bus answering "now" (or the newest event) fails below.
      await quietWindow(20);
      for (let i = 1; i < 3; i++) await bus.publish(makeEvent("retained.tested", { i }));
      const since = (await bus.retainedSince()).getTime();
      expect(since).toBeLessThanOrEqual(firstStored);
      expect(since).toBeGreaterThanOrEqual(sent - CLOCK_SLACK_MS);
      // Handling does not move it: JetStream keeps acknowledged events (limits retention), the
      // journaled bus keeps them inside the duplicate window at least.
      const handled: number[] = [];
      await bus.subscribe({
        durable: "retained",
        types: ["retained.tested"],
        handler: async () => void handled.push(1),
      });
      await waitFor(() => handled.length === 3);
      expect((await bus.retainedSince()).getTime()).toBeLessThanOrEqual(firstStored);
    });

    test("invalid event types and filters are rejected up front", async () => {
      const { bus } = await setup();
      await expect(bus.publish(makeEvent("pledge.*", {}))).rejects.toThrow("invalid event type");
      await expect(
        bus.subscribe({ durable: "x", types: ["pledge..created"], handler: async () => {} }),
      ).rejects.toThrow("invalid event type filter");
      await expect(bus.subscribe({ durable: "x", types: [], handler: async () => {} })).rejects.toThrow();
    });
  });
}
