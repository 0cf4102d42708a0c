// The behaviour every Bus implementation must show, registered once per implementation so the
// in-process bus cannot drift from JetStream: dedupe, sharing, filters, retries, traces, stop.
import { afterEach, describe, expect, test } from "bun:test";
import type { Bus, DeliveryContext, EventEnvelope } from "@careforall/bus";
import type { Logger } from "@careforall/log";
import { currentTraceId, initTelemetry, SpanKind, withSpan } from "@careforall/telemetry";
import { captureLog, quietWindow, waitFor } from "./wait-for";

initTelemetry({ service: "bus-test" });

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
      for (let i = 0; i < 3; i++) await bus.publish(makeEvent("lag.tested", { i }));
      await waitFor(async () => (await sub.pending()) === 3);
      release();
      await waitFor(() => handled === 3);
      await waitFor(async () => (await sub.pending()) === 0);
      const broadcast = await bus.subscribe({ types: ["lag.tested"], handler: async () => {} });
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
      expect(bus.stats()).toMatchObject({ handled: 1, failed: 2, terminated: 0 });
    });

    test("a handler that always fails is terminated after maxDeliver, counted and logged", async () => {
      const { bus, lines } = await setup();
      const counts: number[] = [];
      await bus.subscribe({
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
        handler: async (event, ctx) => void got.push({ event, ctx, traceId: currentTraceId() }),
      });
      const stored = "4bf92f3577b34da6a3ce929d0e0e4736";
      await bus.publish(makeEvent("pledge.created", {}), {
        headers: { traceparent: `00-${stored}-00f067aa0ba902b7-01`, "x-request-id": "req-1" },
      });
      await waitFor(() => got.length === 1);
      expect(got[0]?.traceId).toBe(stored);
      expect(got[0]?.ctx.headers["x-request-id"]).toBe("req-1");
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
