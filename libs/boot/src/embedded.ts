// The embedded profile's infrastructure: every service of one process on ONE embedded PostgreSQL
// (PGlite behind a local socket; one schema per service, migrated as on the servers), ONE
// in-memory bus journaled beside it (a SQLite file in the data directory, so an accepted event
// survives a crash as on JetStream; see libs/bus/src/journal.ts for why not PGlite) and ONE
// in-memory cache, telemetry set up once, and services reaching each other in-process (the
// callee's app.handle, no socket) with the same credentials and caller checks.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type Bus,
  createMemoryFanout,
  type Fanout,
  openJournaledMemoryBus,
  openSqliteJournal,
  type SqliteJournal,
  type Subscription,
} from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { createDb, createEmbeddedDatabase, type EmbeddedDatabase, migrate } from "@careforall/db";
import type { ServiceName } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { initTelemetry } from "@careforall/telemetry";
import type { AnyElysia, Connection, InfraContext, Infrastructure } from "./boot";
import { deploymentEnvironment, serviceVersion } from "./resource";

export interface EmbeddedInfrastructureOptions {
  /** The database's directory (created when missing); undefined: in memory, gone at close. */
  dataDir?: string;
  /** A closed data directory copied into a missing `dataDir` instead of initialising one (see createEmbeddedDatabase). */
  seedFrom?: string;
  /** The platform's own log (the bus and the database's connection faults). */
  log: Logger;
  /**
   * Connections per service pool. Default: the service's DATABASE_POOL_MAX when its configuration
   * has one, else 4 (the one backend runs one transaction at a time anyway).
   */
  poolMax?: number;
}

export interface EmbeddedInfrastructure extends Infrastructure {
  /** `postgres://…` of the shared embedded database (every service's DATABASE_URL). */
  databaseUrl: string;
  /** A booted service's app, reachable in-process from now on (`connect`). */
  register(service: ServiceName, app: AnyElysia): void;
  /** The service is no longer reachable (calls to it fail like a refused connection). */
  unregister(service: ServiceName): void;
  /**
   * Waits until no running consumer has an event left (twice in a row, `intervalMs` apart) or the
   * deadline passes; returns the events still pending then. The bus's journal keeps what is left
   * across a restart (delivered again then); draining first only spares that redelivery.
   */
  drain(timeoutMs: number, intervalMs?: number): Promise<number>;
  /** Closes what the services share (bus, cache, database, telemetry), after every service stopped. */
  close(): Promise<void>;
}

/** The bus journal's file in the data directory (PostgreSQL ignores files it does not know there). */
export const JOURNAL_FILE = "careforall-bus.sqlite";

/** The base URL a service is reached at in-process (never resolved: no socket is opened). */
export const inProcessUrl = (service: ServiceName) => `http://${service}.in-process`;

/**
 * A fetch that hands the request to the service's app in this process. An aborted signal (the
 * caller's timeout) rejects as a network fetch would; a service not running rejects like a refused
 * connection, so breakers and unknown outcomes behave as they do over the network.
 */
export function inProcessFetch(service: ServiceName, appOf: (service: ServiceName) => AnyElysia | undefined) {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const app = appOf(service);
    if (!app) throw Object.assign(new Error(`${service} is not running in this process`), { code: "ECONNREFUSED" });
    const request = new Request(input, init);
    const signal = init?.signal;
    if (!signal) return app.handle(request);
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([app.handle(request), aborted]);
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }) as typeof fetch;
}

export async function embeddedInfrastructure(options: EmbeddedInfrastructureOptions): Promise<EmbeddedInfrastructure> {
  const { log } = options;
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const database: EmbeddedDatabase = await createEmbeddedDatabase({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.seedFrom ? { seedFrom: options.seedFrom } : {}),
    onConnectionError: (err) => log.warn({ err }, "embedded_database.connection_dropped"),
  });
  // Events are stored before publish() resolves and each durable's floor is saved, so a crash loses
  // nothing the outbox relays handed over. In the data directory: it lives and dies with the data.
  let journal: SqliteJournal | undefined;
  let bus: Bus;
  try {
    journal = openSqliteJournal(options.dataDir ? join(options.dataDir, JOURNAL_FILE) : ":memory:");
    bus = await openJournaledMemoryBus({ log, journal });
  } catch (err) {
    journal?.close();
    await database.close().catch(() => {});
    throw err;
  }
  const cache = createMemoryCache();
  const fanout = createMemoryFanout({ log });
  const limiter = createMemoryRateLimiter();
  const apps = new Map<ServiceName, AnyElysia>();
  // The subscriptions not stopped yet (drain waits for these only).
  const live = new Set<Subscription>();
  const track = async (subscribing: Promise<Subscription>): Promise<Subscription> => {
    const sub = await subscribing;
    live.add(sub);
    return {
      durable: sub.durable,
      pending: () => sub.pending(),
      stop: () => {
        live.delete(sub);
        return sub.stop();
      },
    };
  };
  // Flushed at close only when it exports: the provider is the process's, and without an exporter
  // there is nothing to flush (and a shut-down provider would stop trace ids for whatever else
  // shares the process, e.g. other suites of a test run).
  let telemetry: { shutdown(): Promise<void> } | undefined;
  const poolMax = (ctx: InfraContext): number => {
    const configured = ctx.config.DATABASE_POOL_MAX;
    return options.poolMax ?? (typeof configured === "number" ? configured : 4);
  };
  let closed: Promise<void> | undefined;

  return {
    databaseUrl: database.url,
    async database(ctx: InfraContext, spec) {
      // One database, one schema per service named after it, migrated under the same lock as on the servers.
      await migrate({ url: database.url, migrationsFolder: spec.migrationsFolder, schema: ctx.service });
      return createDb({ url: database.url, schema: spec.schema, max: poolMax(ctx), name: ctx.service });
    },
    // Shared by every service: a service's stop must not close it under the others (close() does).
    async bus(): Promise<Bus> {
      return {
        publish: (event, publishOptions) => bus.publish(event, publishOptions),
        subscribe: (subscribeOptions) => track(bus.subscribe(subscribeOptions)),
        subscribeBatch: (subscribeOptions) => track(bus.subscribeBatch(subscribeOptions)),
        ping: () => bus.ping(),
        stats: () => bus.stats(),
        retainedSince: () => bus.retainedSince(),
        close: async () => {},
      };
    },
    async cache() {
      return { cache, limiter, close: async () => {} };
    },
    // Shared too: a service's stop unsubscribes its listeners itself; close() ends it.
    async fanout(): Promise<Fanout> {
      return { ...fanoutView(fanout), close: async () => {} };
    },
    telemetry(ctx) {
      const endpoint = ctx.config.OTEL_EXPORTER_OTLP_ENDPOINT as string | undefined;
      const started = initTelemetry({
        service: "careforall",
        version: serviceVersion("gateway"),
        environment: deploymentEnvironment(),
        endpoint,
      });
      if (endpoint) telemetry ??= started;
      return { shutdown: async () => {} };
    },
    connect(_ctx, target): Connection {
      return { url: inProcessUrl(target), fetch: inProcessFetch(target, (s) => apps.get(s)) };
    },
    register(service, app) {
      apps.set(service, app);
    },
    unregister(service) {
      apps.delete(service);
    },
    async drain(timeoutMs, intervalMs = 50) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      for (;;) {
        const counts = await Promise.all([...live].map((sub) => sub.pending().catch(() => 0)));
        const left = counts.reduce((sum, n) => sum + n, 0);
        // Twice in a row: a consumer's commit is published by its relay a moment later.
        quiet = left === 0 ? quiet + 1 : 0;
        if (quiet >= 2 || Date.now() >= deadline) return left;
        await Bun.sleep(intervalMs);
      }
    },
    close() {
      closed ??= (async () => {
        apps.clear();
        const steps: Array<[string, () => Promise<unknown>]> = [
          ["bus", () => bus.close()],
          ["bus journal", async () => journal?.close()],
          ["fanout", () => fanout.close()],
          ["cache", () => cache.close()],
          ["database", () => database.close()],
          ["telemetry", async () => telemetry?.shutdown()],
        ];
        for (const [step, run] of steps) {
          try {
            await run();
          } catch (err) {
            log.error({ err, step }, "platform.shutdown_failed");
          }
        }
      })();
      return closed;
    },
  };
}

/** The shared fan-out's methods bound to it (a view whose close the caller replaces). */
function fanoutView(fanout: Fanout): Fanout {
  return {
    publish: (topic, message) => fanout.publish(topic, message),
    subscribe: (topic, listener) => fanout.subscribe(topic, listener),
    flush: () => fanout.flush(),
    topics: () => fanout.topics(),
    ping: () => fanout.ping(),
    stats: () => fanout.stats(),
    close: () => fanout.close(),
  };
}
