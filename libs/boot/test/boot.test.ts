// bootService on injected infrastructure: the in-memory bus and cache, real PostgreSQL for the
// database (created, migrated under the lock). What is checked: the stop order, start_failed on
// a failing step (with everything opened closed again), config errors before anything opens,
// consumer-lag gauges labelled by each subscription's own durable name, and the bus's /ready check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  type BootContext,
  bootService,
  defineService,
  type Infrastructure,
  serversInfrastructure,
} from "@careforall/boot";
import { type Bus, createMemoryBus, createMemoryFanout, type Subscription } from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { ConfigError, commonConfig, databaseConfig, natsConfig, serviceIdentityConfig, T } from "@careforall/config";
import { createDb, createTestDatabase, type TestDatabase } from "@careforall/db";
import { generateServiceKeySet, trustedKeysJson } from "@careforall/http";
import { createLogger, type Logger } from "@careforall/log";
import { waitFor } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import { inbox, outbox, tables } from "./fixtures/schema";

const ProbeConfig = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3999 }),
});
type Ctx = BootContext<typeof ProbeConfig.static>;

const MIGRATIONS = join(import.meta.dir, "fixtures", "migrations");
let tdb: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  tdb = await createTestDatabase("boot");
  const keys = await generateServiceKeySet();
  env = {
    DATABASE_URL: tdb.url,
    SERVICE_PRIVATE_KEY: keys.campaign.privateKeyPem,
    SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
  };
});
afterAll(async () => {
  await tdb.drop();
});

/** The servers profile's database on the test server; the bus, cache and telemetry in memory; every close recorded. */
function recordingInfrastructure(order: string[], overrides: Partial<Infrastructure> = {}): Infrastructure {
  const servers = serversInfrastructure();
  return {
    async database(ctx, spec) {
      const opened = await servers.database(ctx, spec);
      return { ...opened, close: () => opened.close().then(() => void order.push("database")) };
    },
    async bus(ctx) {
      const bus = createMemoryBus({ log: ctx.log });
      const recordedBus: Bus = {
        publish: (event, options) => bus.publish(event, options),
        subscribe: (options) => bus.subscribe(options),
        subscribeBatch: (options) => bus.subscribeBatch(options),
        ping: () => bus.ping(),
        stats: () => bus.stats(),
        retainedSince: () => bus.retainedSince(),
        close: () => bus.close().then(() => void order.push("bus")),
      };
      return recordedBus;
    },
    async cache() {
      const cache = createMemoryCache();
      return {
        cache,
        limiter: createMemoryRateLimiter(),
        close: () => cache.close().then(() => void order.push("cache")),
      };
    },
    async fanout(ctx) {
      const fanout = createMemoryFanout({ log: ctx.log });
      const close = fanout.close.bind(fanout);
      return Object.assign(fanout, { close: () => close().then(() => void order.push("fanout")) });
    },
    telemetry: () => ({ shutdown: async () => void order.push("telemetry") }),
    connect: (ctx, target) => servers.connect(ctx, target),
    ...overrides,
  };
}

/** A logger whose JSON lines the test reads. */
function capturedLog(): { lines: Array<Record<string, unknown>>; createLog: (service: string) => Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  return { lines, createLog: (service) => createLogger({ service, level: "info", destination }) };
}

/** A subscription whose stop is recorded (and whether the server still accepted at that moment). */
function recorded(sub: Subscription, order: string[], before?: () => Promise<void>): Subscription {
  return {
    durable: sub.durable,
    pending: () => sub.pending(),
    stop: async () => {
      await before?.();
      order.push(`consumer:${sub.durable}`);
      await sub.stop();
    },
  };
}

const accepting = (port: number) =>
  fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }).then(
    () => true,
    () => false,
  );

describe("bootService", () => {
  test("stops in order: server (in-flight requests finish) → consumers → workers as registered → relay → bus → database → cache → telemetry", async () => {
    const order: string[] = [];
    const { lines, createLog } = capturedLog();
    let port = 0;
    let acceptingAtConsumerStop: boolean | undefined;
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start({ bus, database, relay, cache, fanout, consume, onStop }: Ctx) {
        const { db } = await database({ schema: tables, migrationsFolder: MIGRATIONS });
        const outboxRelay = relay({ db, table: outbox });
        const stopRelay = outboxRelay.stop.bind(outboxRelay);
        outboxRelay.stop = () => stopRelay().then(() => void order.push("relay"));
        await cache();
        await fanout();
        const sub = await bus.subscribe({ durable: "probe-notes", types: ["note.added"], handler: async () => {} });
        consume(
          recorded(sub, order, async () => {
            acceptingAtConsumerStop = await accepting(port);
          }),
        );
        onStop("worker-a", () => void order.push("worker-a"));
        onStop("worker-b", async () => void order.push("worker-b"));
        return new Elysia()
          .get("/", () => "ok")
          .get("/slow", async () => {
            await slowGate;
            order.push("slow-request-answered");
            return "slow";
          });
      },
    });
    const booted = await bootService(definition, {
      infrastructure: recordingInfrastructure(order),
      env,
      port: 0,
      createLog,
    });
    port = booted.port as number;
    expect(await accepting(port)).toBe(true);
    expect(lines.some((l) => l.msg === "service.listening" && l.port === port)).toBe(true);

    const slow = fetch(`http://127.0.0.1:${port}/slow`);
    await waitFor(() => booted.app.server?.pendingRequests === 1, { what: "the slow request in flight" });
    const stopping = booted.stop("SIGTERM");
    const again = booted.stop("SIGTERM");
    setTimeout(releaseSlow, 50);
    await Promise.all([stopping, again]);
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("slow");

    expect(order).toEqual([
      "slow-request-answered",
      "consumer:probe-notes",
      "worker-a",
      "worker-b",
      "relay",
      "fanout",
      "bus",
      "database",
      "cache",
      "telemetry",
    ]);
    expect(acceptingAtConsumerStop).toBe(false);
    expect(lines.filter((l) => l.msg === "service.stopping")).toEqual([
      expect.objectContaining({ signal: "SIGTERM", service: "campaign" }),
    ]);
    expect(lines.some((l) => l.msg === "service.shutdown_failed")).toBe(false);
  });

  test("a failing start step logs one fatal service.start_failed, closes what was opened and rejects; nothing listens", async () => {
    const order: string[] = [];
    const { lines, createLog } = capturedLog();
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start({ database, relay, cache, onStop }: Ctx) {
        const { db } = await database({ schema: tables, migrationsFolder: MIGRATIONS });
        relay({ db, table: outbox });
        await cache();
        onStop("worker", () => void order.push("worker"));
        throw new Error("admin account could not be ensured");
      },
    });
    await expect(
      bootService(definition, { infrastructure: recordingInfrastructure(order), env, port: 0, createLog }),
    ).rejects.toThrow("admin account could not be ensured");
    const fatal = lines.filter((l) => l.msg === "service.start_failed");
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ level: "fatal", service: "campaign" });
    expect(JSON.stringify(fatal[0]?.err)).toContain("admin account could not be ensured");
    expect(order).toEqual(["worker", "bus", "database", "cache", "telemetry"]);
    expect(lines.some((l) => l.msg === "service.listening")).toBe(false);
  });

  test("the bus failing to open is a start_failed too (telemetry shut down, nothing else to close)", async () => {
    const order: string[] = [];
    const { lines, createLog } = capturedLog();
    let started = false;
    const infrastructure = recordingInfrastructure(order, {
      bus: () => Promise.reject(new Error("nats unreachable")),
    });
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start() {
        started = true;
        return new Elysia();
      },
    });
    await expect(bootService(definition, { infrastructure, env, port: 0, createLog })).rejects.toThrow(
      "nats unreachable",
    );
    expect(started).toBe(false);
    expect(lines.filter((l) => l.msg === "service.start_failed")).toHaveLength(1);
    expect(order).toEqual(["telemetry"]);
  });

  test("a missing service key is a start_failed before the database or bus is touched", async () => {
    const order: string[] = [];
    const { lines, createLog } = capturedLog();
    let busOpened = false;
    const infrastructure = recordingInfrastructure(order, {
      bus: async () => {
        busOpened = true;
        throw new Error("unreachable");
      },
    });
    const definition = defineService({ name: "campaign", config: ProbeConfig, start: async () => new Elysia() });
    await expect(
      bootService(definition, {
        infrastructure,
        env: { ...env, SERVICE_PRIVATE_KEY: "" },
        port: 0,
        createLog,
      }),
    ).rejects.toThrow("SERVICE_PRIVATE_KEY");
    expect(busOpened).toBe(false);
    expect(lines.filter((l) => l.msg === "service.start_failed")).toHaveLength(1);
  });

  test("a bad configuration throws ConfigError listing every problem, before a logger or anything else exists", async () => {
    const order: string[] = [];
    let logged = false;
    const definition = defineService({ name: "campaign", config: ProbeConfig, start: async () => new Elysia() });
    const failure = await bootService(definition, {
      infrastructure: recordingInfrastructure(order),
      env: { ...env, PORT: "not-a-port", DATABASE_URL: "mysql://x" },
      createLog: (service) => {
        logged = true;
        return createLogger({ service, level: "silent" });
      },
    }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems.join("\n")).toContain("PORT");
    expect((failure as ConfigError).problems.join("\n")).toContain("DATABASE_URL");
    expect(logged).toBe(false);
    expect(order).toEqual([]);
  });

  test("consumer lag is labelled by each subscription's own durable name, whatever order they were handed over in", async () => {
    const order: string[] = [];
    let ctx!: Ctx;
    const gates: Array<() => void> = [];
    const blocked = async () =>
      new Promise<void>((resolve) => {
        gates.push(resolve);
      });
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start(c: Ctx) {
        ctx = c;
        const subscribe = (durable: string, type: string) =>
          c.bus.subscribe({ durable, types: [type], concurrency: 8, handler: blocked });
        // Handed over in the opposite order of their names, and one of them alone, later.
        c.consume(
          await Promise.all([subscribe("lag-beta", "beta.happened"), subscribe("lag-alpha", "alpha.happened")]),
        );
        c.consume(await c.bus.subscribe({ types: ["alpha.happened"], handler: async () => {} }));
        return new Elysia();
      },
    });
    const booted = await bootService(definition, {
      infrastructure: recordingInfrastructure(order),
      env,
      listen: false,
      createLog: (service) => createLogger({ service, level: "silent" }),
    });
    const late = ctx.consume(
      await ctx.bus.subscribe({ durable: "lag-gamma", types: ["gamma.happened"], handler: blocked }),
    );
    const publish = (type: string) =>
      ctx.bus.publish({
        id: Bun.randomUUIDv7(),
        type,
        occurredAt: new Date().toISOString(),
        aggregateId: "a",
        data: {},
      });
    for (let i = 0; i < 3; i++) await publish("alpha.happened");
    await publish("beta.happened");
    for (let i = 0; i < 2; i++) await publish("gamma.happened");
    const sample = (consumer: string, text: string) =>
      new RegExp(`^careforall_bus_consumer_pending\\{[^}]*consumer="${consumer}"[^}]*\\} (\\d+)$`, "m").exec(text)?.[1];
    await waitFor(async () => sample("lag-gamma", await ctx.metrics.registry.metrics()) === "2", {
      what: "every lag sampled",
    });
    const text = await ctx.metrics.registry.metrics();
    expect(sample("lag-alpha", text)).toBe("3");
    expect(sample("lag-beta", text)).toBe("1");
    expect(late.durable).toBe("lag-gamma");
    // The broadcast has no lag and no sample.
    expect(text.match(/^careforall_bus_consumer_pending\{/gm)).toHaveLength(3);
    for (const release of gates.splice(0)) release();
    await booted.stop();
  });

  test("ctx.pruneInbox prunes the rows past its horizon at once, counts and logs them, and stops with the workers, before the bus", async () => {
    const order: string[] = [];
    const { lines, createLog } = capturedLog();
    const hour = 60 * 60_000;
    let metrics: Ctx["metrics"] | undefined;
    let left: () => Promise<string[]> = async () => [];
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start({ database, pruneInbox, onStop, ...ctx }: Ctx) {
        metrics = ctx.metrics;
        const { db } = await database({ schema: tables, migrationsFolder: MIGRATIONS });
        await db.delete(inbox);
        const now = Date.now();
        // The bus (in memory, empty) holds nothing older than now; the minimum retention is 2 hours.
        await db.insert(inbox).values([
          { consumer: "c", eventId: "old", processedAt: new Date(now - 3 * hour) },
          { consumer: "c", eventId: "recent", processedAt: new Date(now - hour) },
        ]);
        onStop("worker", () => void order.push("worker"));
        const pruner = pruneInbox({ db, table: inbox });
        const stopPruner = pruner.stop.bind(pruner);
        pruner.stop = () => stopPruner().then(() => void order.push("inbox pruner"));
        left = async () => (await db.select().from(inbox)).map((r) => r.eventId);
        return new Elysia();
      },
    });
    const booted = await bootService(definition, {
      infrastructure: recordingInfrastructure(order),
      env: { ...env, INBOX_MIN_RETENTION_HOURS: "2" },
      listen: false,
      createLog,
    });
    try {
      const pruned = await waitFor(() => lines.find((l) => l.msg === "inbox.pruned"), { what: "a pruning round" });
      expect(await left()).toEqual(["recent"]);
      expect(pruned).toMatchObject({ deleted: 1, service: "campaign" });
      expect(Date.parse(String(pruned?.horizon))).toBeLessThan(Date.now() - 2 * hour + 60_000);
      const counted = await metrics?.registry.getSingleMetric("careforall_inbox_pruned_total")?.get();
      expect(counted?.values[0]?.value).toBe(1);
    } finally {
      await booted.stop();
    }
    expect(order.slice(0, 3)).toEqual(["worker", "inbox pruner", "bus"]);
    expect(lines.some((l) => l.msg === "service.shutdown_failed" || l.msg === "inbox.pruner.failed")).toBe(false);
  });

  test("the bus is on /ready (optional: a service answers without it), and migrations apply once when replicas boot together", async () => {
    const order: string[] = [];
    const checks: Array<Ctx["checks"]> = [];
    const definition = defineService({
      name: "campaign",
      config: ProbeConfig,
      async start(c: Ctx) {
        await c.database({ schema: tables, migrationsFolder: MIGRATIONS });
        checks.push(c.checks);
        return new Elysia();
      },
    });
    const fresh = await createTestDatabase("boot_twice");
    try {
      const boot = () =>
        bootService(definition, {
          infrastructure: recordingInfrastructure(order),
          env: { ...env, DATABASE_URL: fresh.url },
          listen: false,
          createLog: (service) => createLogger({ service, level: "silent" }),
        });
      const replicas = await Promise.all([boot(), boot(), boot()]);
      const nats = checks[0]?.nats;
      expect(nats).toMatchObject({ optional: true });
      const check = typeof nats === "function" ? nats : nats?.check;
      expect(await check?.()).toBe(true);
      for (const r of replicas) await r.stop();
      expect(await check?.()).toBe(false);

      const probe = createDb({ url: fresh.url, schema: tables, max: 1 });
      const [journal] = await probe.db.execute<{ n: number }>(
        sql`select count(*)::int as n from campaign.__migrations`,
      );
      // Each of the fixture's two migrations, once.
      expect(journal?.n).toBe(2);
      await probe.close();
    } finally {
      await fresh.drop();
    }
  });
});
