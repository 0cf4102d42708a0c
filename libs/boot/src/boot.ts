// The one boot path every service takes: config (fail fast), logger, telemetry, identity, metrics,
// bus, then the service's own start (its database, relay, cache, workers and app), then listen;
// and the ordered stop. No signal handlers and no process.exit here (see process.ts), so several
// services can boot in one process on whatever Infrastructure they are given.
import { type Bus, exportBusMetrics, exportConsumerLag, type Fanout, type Subscription } from "@careforall/bus";
import type { Cache, RateLimiter } from "@careforall/cache";
import { type Clock, natsConfig, parseConfig, type Static, systemClock } from "@careforall/config";
import type { Database } from "@careforall/db";
import {
  createHttpMetrics,
  guardedFetch,
  type HttpMetrics,
  identityFromConfig,
  listen,
  type ReadinessChecks,
  type ServiceIdentity,
  type ServiceName,
  serviceFetch,
} from "@careforall/http";
import { createLogger, type Logger } from "@careforall/log";
import {
  type BurstHold,
  createInboxPruner,
  createOutboxRelay,
  exportOutboxLag,
  type InboxPruner,
  type InboxTable,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxTable,
} from "@careforall/outbox";
import type { TObject } from "@sinclair/typebox";
import type { Elysia } from "elysia";

/** Any Elysia app, whatever its route types. */
// biome-ignore lint/suspicious/noExplicitAny: the app's generic parameters are irrelevant here
export type AnyElysia = Elysia<any, any, any, any, any, any, any>;

/** The settings boot itself reads; every service's schema has them (commonConfig, serviceIdentityConfig, PORT). */
export interface BootConfig {
  LOG_LEVEL: string;
  HOST: string;
  PORT: number;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  SERVICE_PRIVATE_KEY?: string | undefined;
  SERVICE_TRUSTED_KEYS?: string | undefined;
}

/** A service's own PostgreSQL schema: its drizzle tables and drizzle-kit migrations. */
export interface DatabaseSpec<T extends Record<string, unknown>> {
  schema: T;
  migrationsFolder: string;
}

/** An open database: drizzle, a /ready ping, and close (the pool). */
export interface OpenedDatabase<T extends Record<string, unknown>> {
  db: Database<T>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The shared cache and the rate limiter on the same store (Redis, or memory in one process). */
export interface SharedCache {
  cache: Cache;
  limiter: RateLimiter;
  close(): Promise<void>;
}

/** What an Infrastructure is told about the service it opens something for. */
export interface InfraContext {
  service: ServiceName;
  config: Record<string, unknown>;
  log: Logger;
}

/**
 * Where a service's state lives. The servers profile opens PostgreSQL, JetStream and Redis
 * (servers.ts); a one-process profile passes its own (PGlite, the in-memory bus and cache).
 */
export interface Infrastructure {
  /** The service's database, created if missing and migrated (under a lock) before it is returned. */
  database<T extends Record<string, unknown>>(ctx: InfraContext, spec: DatabaseSpec<T>): Promise<OpenedDatabase<T>>;
  bus(ctx: InfraContext): Promise<Bus>;
  /** Live fan-out between processes (NATS core; in memory in one process): pushes to WebSocket clients. */
  fanout(ctx: InfraContext): Promise<Fanout>;
  cache(ctx: InfraContext): Promise<SharedCache>;
  telemetry(ctx: InfraContext): { shutdown(): Promise<void> };
  /**
   * How the service reaches `target`: a base URL and the fetch that carries a request there
   * (servers: the `<TARGET>_URL` setting and the network; one process: the target's app in-process).
   */
  connect(ctx: InfraContext, target: ServiceName): Connection;
}

/** A way to reach another service: what an Eden client (`treaty(url, { fetcher })`) takes. */
export interface Connection {
  url: string;
  fetch: typeof fetch;
}

/** The timeout and breaker every call to another service goes through. */
export interface UpstreamGuard {
  timeoutMs: number;
  /** How long the breaker stays open after `failureThreshold` failed calls in a row. */
  openMs: number;
  failureThreshold: number;
}

export interface RelaySettings {
  db: OutboxRelayOptions["db"];
  table: OutboxTable;
  burst?: BurstHold;
  /** false: the relay is built (lag exported) but not started, and `outbox.relay_disabled` is logged. */
  enabled?: boolean;
}

export interface InboxPruneSettings {
  db: OutboxRelayOptions["db"];
  table: InboxTable;
}

/** What a service's start gets: everything boot built, and helpers that open the rest in stop order. */
export interface BootContext<C> {
  service: ServiceName;
  config: C;
  log: Logger;
  clock: Clock;
  metrics: HttpMetrics;
  identity: ServiceIdentity;
  bus: Bus;
  /** The /ready checks boot owns (the bus, optional); spread into the app's own. */
  checks: ReadinessChecks;
  /** Opens the service's database (closed after the bus at stop). */
  database<T extends Record<string, unknown>>(spec: DatabaseSpec<T>): Promise<OpenedDatabase<T>>;
  /** The outbox relay onto the bus, its lag exported, started (stopped after the workers, before the bus). */
  relay(settings: RelaySettings): OutboxRelay;
  /**
   * The inbox pruner, started: every minute it deletes the inbox rows whose event the bus can no
   * longer deliver (older than bus.retainedSince() minus an hour, and than INBOX_MIN_RETENTION_HOURS),
   * counted in careforall_inbox_pruned_total. Stopped with the workers.
   */
  pruneInbox(settings: InboxPruneSettings): InboxPruner;
  /** The shared cache (opened once; closed after the databases). */
  cache(): Promise<SharedCache>;
  /** Live fan-out to other processes (opened once; closed before the bus). Same NATS as the bus, so /ready's nats check covers it. */
  fanout(): Promise<Fanout>;
  /** Consumers: lag exported under each one's durable name, stopped first at shutdown. Returns its argument. */
  consume<S extends Subscription | readonly Subscription[]>(subscriptions: S): S;
  /** A worker's stop, run at shutdown after the consumers, in the order registered. */
  onStop(name: string, step: () => unknown): void;
  /**
   * How this service calls `target`: its URL, and a fetch that times out, sits behind its own
   * breaker and carries this service's credential for `target` — over the network or in-process,
   * as the infrastructure connects them.
   */
  upstream(target: ServiceName, guard: UpstreamGuard): Connection;
  /** The bare connection to `target` (no credential, timeout or breaker): for a client that adds its own. */
  connect(target: ServiceName): Connection;
}

export interface ServiceDefinition<S extends TObject> {
  name: ServiceName;
  /** The service's environment schema (must include BootConfig's fields). */
  config: S;
  /** false for a service no other service calls (the gateway): it needs no trusted keys. */
  trustsOthers?: boolean;
  /** Builds the service's own parts and returns its app, not yet listening. */
  start(ctx: BootContext<Static<S>>): Promise<AnyElysia>;
}

/** Identity, for inference: `export const service = defineService({ ... })`. */
export function defineService<S extends TObject>(definition: ServiceDefinition<S>): ServiceDefinition<S> {
  return definition;
}

export interface BootOptions {
  infrastructure: Infrastructure;
  /** The environment the config is read from (default process.env). */
  env?: Record<string, string | undefined>;
  /** false: build everything but do not listen (a caller that reaches the app in-process). */
  listen?: boolean;
  /** Overrides config.PORT (0: any free port). */
  port?: number;
  clock?: Clock;
  /** Defaults to the JSON logger on stdout at LOG_LEVEL. */
  createLog?: (service: ServiceName, level: string) => Logger;
}

export interface BootedService<C> {
  service: ServiceName;
  config: C;
  log: Logger;
  app: AnyElysia;
  /** The port listened on; undefined when not listening. */
  port: number | undefined;
  /**
   * Ordered stop: stop accepting (in-flight requests finish) → consumers → workers → relay → bus →
   * databases → cache → telemetry. A failing step is logged and the rest still run. Idempotent.
   */
  stop(reason?: string): Promise<void>;
}

type Step = { name: string; run: () => unknown };

/**
 * Boots one service. A failure after the logger exists is logged as `service.start_failed`
 * (fatal), whatever was opened is closed again, and the error is rethrown; a configuration error
 * (ConfigError, every problem listed) is thrown before anything is opened.
 */
export async function bootService<S extends TObject>(
  definition: ServiceDefinition<S>,
  options: BootOptions,
): Promise<BootedService<Static<S>>> {
  const service = definition.name;
  const config = parseConfig(service, definition.config, options.env ?? process.env);
  const base = config as unknown as BootConfig;
  const log = options.createLog?.(service, base.LOG_LEVEL) ?? createLogger({ service, level: base.LOG_LEVEL });
  const infra = options.infrastructure;
  const infraCtx: InfraContext = { service, config: config as Record<string, unknown>, log };
  const clock = options.clock ?? systemClock;

  // Stop order is by kind, whatever order start opened things in.
  const consumers: Subscription[] = [];
  const workers: Step[] = [];
  const relays: Step[] = [];
  const buses: Step[] = [];
  const databases: Step[] = [];
  const caches: Step[] = [];
  const telemetry = infra.telemetry(infraCtx);
  let app: AnyElysia | undefined;
  let listening = false;

  const runSteps = async () => {
    const steps: Step[] = [
      { name: "consumers", run: () => Promise.all(consumers.map((s) => s.stop())) },
      ...workers,
      ...relays,
      ...buses,
      ...databases,
      ...caches,
      { name: "telemetry", run: () => telemetry.shutdown() },
    ];
    for (const step of steps) {
      try {
        await step.run();
      } catch (err) {
        log.error({ err, step: step.name }, "service.shutdown_failed");
      }
    }
  };

  try {
    const identity = await identityFromConfig(service, base, { trustsOthers: definition.trustsOthers ?? true });
    const metrics = createHttpMetrics(service);
    const bus = await infra.bus(infraCtx);
    buses.push({ name: "bus", run: () => bus.close() });
    exportBusMetrics(metrics, bus);
    exportConsumerLag(metrics, consumers);

    let sharedCache: Promise<SharedCache> | undefined;
    let fanout: Promise<Fanout> | undefined;
    const ctx: BootContext<Static<S>> = {
      service,
      config,
      log,
      clock,
      metrics,
      identity,
      bus,
      checks: { nats: { check: () => bus.ping(), optional: true } },
      async database(spec) {
        const opened = await infra.database(infraCtx, spec);
        databases.push({ name: "database", run: () => opened.close() });
        return opened;
      },
      relay({ db, table, burst, enabled = true }) {
        const relay = createOutboxRelay({ db, table, bus, log, ...(burst ? { burst } : {}) });
        exportOutboxLag(metrics, relay);
        relays.push({ name: "relay", run: () => relay.stop() });
        if (enabled) relay.start();
        else log.warn("outbox.relay_disabled");
        return relay;
      },
      pruneInbox({ db, table }) {
        const configured = (config as Record<string, unknown>).INBOX_MIN_RETENTION_HOURS;
        // A schema without the setting (a test's) gets natsConfig's default.
        const hours = typeof configured === "number" ? configured : natsConfig.INBOX_MIN_RETENTION_HOURS.default;
        const pruned = metrics.counter(
          "careforall_inbox_pruned_total",
          "Inbox rows deleted once their event could not come back",
        );
        const pruner = createInboxPruner({
          db,
          table,
          log,
          clock,
          retainedSince: () => bus.retainedSince(),
          minRetentionMs: hours * 60 * 60_000,
          onPruned: (count) => pruned.inc(count),
        });
        workers.push({ name: "inbox pruner", run: () => pruner.stop() });
        pruner.start();
        return pruner;
      },
      cache() {
        sharedCache ??= infra.cache(infraCtx).then((opened) => {
          caches.push({ name: "cache", run: () => opened.close() });
          return opened;
        });
        return sharedCache;
      },
      fanout() {
        fanout ??= infra.fanout(infraCtx).then((opened) => {
          buses.unshift({ name: "fanout", run: () => opened.close() });
          return opened;
        });
        return fanout;
      },
      consume(subscriptions) {
        consumers.push(...(Array.isArray(subscriptions) ? subscriptions : [subscriptions as Subscription]));
        return subscriptions;
      },
      onStop(name, run) {
        workers.push({ name, run });
      },
      upstream(target, guard) {
        const { url, fetch } = infra.connect(infraCtx, target);
        return { url, fetch: serviceFetch(identity, target, guardedFetch(target, log, guard, fetch)) };
      },
      connect(target) {
        return infra.connect(infraCtx, target);
      },
    };

    app = await definition.start(ctx);
    let port: number | undefined;
    if (options.listen !== false) {
      port = listen(app, { port: options.port ?? base.PORT, hostname: base.HOST, log });
      listening = true;
    }

    let stopped: Promise<void> | undefined;
    const started = app;
    return {
      service,
      config,
      log,
      app: started,
      port,
      stop(reason = "stop") {
        stopped ??= (async () => {
          log.info({ signal: reason }, "service.stopping");
          if (listening) {
            try {
              await started.stop(false);
            } catch (err) {
              log.error({ err, step: "server" }, "service.shutdown_failed");
            }
          }
          await runSteps();
        })();
        return stopped;
      },
    };
  } catch (err) {
    log.fatal({ err }, "service.start_failed");
    if (listening) await app?.stop(true).catch(() => {});
    await runSteps();
    throw err;
  }
}
