// Transactional outbox (invariant 5: a state change and its event commit together) and the
// relay that publishes committed events to the bus, at least once, safe with N replicas.
import type { Bus, EventEnvelope } from "@careforall/bus";
import { type Clock, systemClock } from "@careforall/config";
import type { Executor } from "@careforall/db";
import type { Logger } from "@careforall/log";
import { extractTraceContext, injectTraceHeaders, withContext } from "@careforall/telemetry";
import { createPollingLoop } from "@careforall/worker";
import { inArray, sql } from "drizzle-orm";
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { OutboxTable } from "./tables";

/** Builds an envelope with a fresh UUIDv7 id. */
export function newEvent<TData, TType extends string>(
  type: TType,
  aggregateId: string,
  data: TData,
  clock: Clock = systemClock,
): EventEnvelope<TData, TType> {
  return { id: Bun.randomUUIDv7(), type, occurredAt: clock.date().toISOString(), aggregateId, data };
}

/**
 * Inserts events into the outbox inside the caller's transaction, with the trace context and
 * request id of what is being handled (`traceparent`, `x-request-id`): the relay publishes each
 * event in that context, so its consumers continue the trace and name the request.
 */
export async function enqueue(
  tx: Executor<Record<string, unknown>>,
  table: OutboxTable,
  events: EventEnvelope | EventEnvelope[],
): Promise<void> {
  const list = Array.isArray(events) ? events : [events];
  if (list.length === 0) return;
  const headers = injectTraceHeaders();
  await (tx as Executor<Record<string, unknown>>)
    .insert(table)
    .values(list.map((e) => ({ id: e.id, type: e.type, aggregateId: e.aggregateId, envelope: e, headers })));
}

export interface OutboxRelayOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any drizzle pg database (postgres.js or PGlite)
  db: PgDatabase<any, any, any>;
  table: OutboxTable;
  bus: Bus;
  log: Logger;
  clock?: Clock;
  batchSize?: number;
  /** Poll interval when idle; `kick()` wakes the relay sooner. */
  pollMs?: number;
  /** Retry delays after a failed publish, in ms; the last repeats. */
  backoffMs?: number[];
  /** Published rows older than this are deleted. */
  retainMs?: number;
  /** Commits' kicks within this window share one publish round (default 10 ms): batches under load. */
  coalesceMs?: number;
  /** Burst absorption (see BurstHold); absent or a rate of 0: every event goes out at once. */
  burst?: BurstHold;
}

/**
 * While commits (kicks) arrive faster than `ratePerSec`, measured over the last second, the relay
 * holds events back in the outbox until they are `holdMs` old, so a burst of accepted donations is
 * not processed by the pipeline while it is still arriving: the accept path keeps the machine
 * (PostgreSQL included) and the pipeline drains the backlog, in full batches, once the rate falls.
 * Nothing is lost or reordered: the events wait, committed, where a crash would leave them anyway.
 */
export interface BurstHold {
  ratePerSec: number;
  holdMs: number;
}

/** Kicks per second over the last second, in ten 100 ms buckets. */
function createRateMeter(clock: Clock) {
  const BUCKET_MS = 100;
  const counts = new Array<number>(10).fill(0);
  let lastBucket = Math.floor(clock.now() / BUCKET_MS);
  const advance = () => {
    const bucket = Math.floor(clock.now() / BUCKET_MS);
    for (let b = lastBucket + 1; b <= Math.min(bucket, lastBucket + counts.length); b++) counts[b % counts.length] = 0;
    lastBucket = Math.max(lastBucket, bucket);
  };
  return {
    record() {
      advance();
      counts[lastBucket % counts.length] = (counts[lastBucket % counts.length] ?? 0) + 1;
    },
    perSecond(): number {
      advance();
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}

export interface OutboxRelay {
  start(): void;
  stop(): Promise<void>;
  /** Publishes one batch; returns how many events were published. */
  drainOnce(): Promise<number>;
  /** Wake the loop now (after a commit) instead of waiting for the next poll. */
  kick(): void;
  /** Unpublished events and the age of the oldest, for metrics. */
  lag(): Promise<{ pending: number; oldestAgeSeconds: number }>;
  /** Whether a burst is holding events back now (see BurstHold). */
  holding(): boolean;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, table, bus, log } = options;
  const clock = options.clock ?? systemClock;
  const batchSize = options.batchSize ?? 100;
  const pollMs = options.pollMs ?? 250;
  const backoff = options.backoffMs ?? [100, 500, 2000, 10_000];
  const retainMs = options.retainMs ?? 60 * 60 * 1000;
  let lastPrune = 0;
  const burst = options.burst && options.burst.ratePerSec > 0 ? options.burst : undefined;
  const meter = burst ? createRateMeter(clock) : undefined;
  let held = false;

  /** Whether a burst is on now; logs the start and end of one. */
  function holding(): boolean {
    if (!burst || !meter) return false;
    const rate = meter.perSecond();
    const now = rate > burst.ratePerSec;
    if (now !== held) {
      held = now;
      log.info(
        { commitsPerSecond: rate, holdMs: burst.holdMs },
        now ? "outbox.burst_hold_started" : "outbox.burst_hold_ended",
      );
    }
    return now;
  }

  /** True from a batch that failed whole with the bus unreachable until a publish succeeds again. */
  let busAway = false;

  async function drainOnce(): Promise<number> {
    // While the bus is away nothing is read or marked: one ping per tick says when it is back.
    if (busAway && !(await bus.ping())) return 0;
    // During a burst only events older than the hold go out (the oldest first, as always). The
    // clock counts whole milliseconds while next_attempt_at has microseconds: the cut-off is the
    // end of the current millisecond, or a row committed within it would wait for the next tick.
    const readyBy = new Date(clock.now() + 1 - (holding() ? (burst?.holdMs ?? 0) : 0)).toISOString();
    return db.transaction(async (tx) => {
      // SKIP LOCKED lets several relay replicas split the backlog without blocking each other;
      // drizzle has no builder for it. Order by id, not created_at: ids are UUIDv7 minted when
      // the event is built (after the aggregate's row lock), while created_at is the transaction's
      // start, so two overlapping transactions on one aggregate could publish in the wrong order.
      // A plain index scan in id order (outbox_unpublished_id_idx) marks published rows' entries
      // dead as it passes them; the planner would pick a bitmap scan, which walks every dead
      // entry again until vacuum (7 ms a tick under a burst). Raw SQL: drizzle cannot SET LOCAL.
      await tx.execute(sql`set local enable_bitmapscan = off`);
      const rows = (await tx.execute(sql`
        select id, envelope, headers, attempts from ${table}
        where published_at is null and next_attempt_at <= ${readyBy}::timestamptz
        order by id
        limit ${batchSize}
        for update skip locked`)) as unknown as Array<{
        id: string;
        envelope: EventEnvelope;
        headers: Record<string, string>;
        attempts: number;
      }>;
      // Publishes are pipelined: the client writes them to the connection in call order, so the
      // stream keeps the batch's order while the acks come back together; then one UPDATE marks
      // every acknowledged row. A failed publish is retried later with backoff (JetStream drops
      // the duplicate if it had in fact arrived).
      const outcomes = await Promise.allSettled(rows.map((row) => bus.publish(row.envelope, { headers: row.headers })));
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
      // Every publish failed and the bus does not answer: the bus is away, not these events. No row
      // is marked or backed off, so the backlog stays first in line and goes out in order, at once,
      // when the bus is back (per-row backoff would let newer events overtake it). One line per outage.
      if (failed && outcomes.every((o) => o.status === "rejected") && !(await bus.ping())) {
        if (!busAway) log.warn({ err: failed.reason, waiting: rows.length }, "outbox.bus_unavailable");
        busAway = true;
        return 0;
      }
      if (busAway) log.info("outbox.bus_back");
      busAway = false;
      const publishedIds: string[] = [];
      for (const [i, outcome] of outcomes.entries()) {
        const row = rows[i]!;
        if (outcome.status === "fulfilled") {
          publishedIds.push(row.id);
          continue;
        }
        const delay = backoff[Math.min(row.attempts, backoff.length - 1)] ?? 1000;
        const reason = outcome.reason as Error | undefined;
        // In the event's stored context: the line names the request that caused the event.
        withContext(extractTraceContext(row.headers ?? {}), () =>
          log.warn({ err: reason, eventId: row.id, attempts: row.attempts + 1 }, "outbox.publish_failed"),
        );
        await tx.execute(sql`
          update ${table} set attempts = attempts + 1, last_error = ${String(reason?.message ?? reason)},
            next_attempt_at = ${new Date(clock.now() + delay).toISOString()}::timestamptz
          where id = ${row.id}`);
      }
      if (publishedIds.length > 0) {
        await tx
          .update(table)
          .set({ publishedAt: clock.date(), attempts: sql`${table.attempts} + 1` })
          .where(inArray(table.id, publishedIds));
      }
      return publishedIds.length;
    });
  }

  async function prune() {
    if (clock.now() - lastPrune < 60_000) return;
    lastPrune = clock.now();
    await db.execute(
      sql`delete from ${table} where published_at < ${new Date(clock.now() - retainMs).toISOString()}::timestamptz`,
    );
  }

  const loop = createPollingLoop({
    name: "outbox.relay",
    log,
    intervalMs: pollMs,
    coalesceMs: options.coalesceMs ?? 10,
    async tick() {
      const published = await drainOnce();
      await prune();
      return published >= batchSize;
    },
  });

  return {
    start: loop.start,
    stop: loop.stop,
    kick() {
      meter?.record();
      // During a burst the loop's own poll publishes what has been held long enough; a tick per
      // commit would only find nothing old enough.
      if (!holding()) loop.kick();
    },
    drainOnce,
    holding,
    async lag() {
      const [row] = (await db.execute(sql`
        select count(*)::int as pending,
          coalesce(extract(epoch from (now() - min(created_at))), 0)::float as oldest
        from ${table} where published_at is null`)) as unknown as Array<{ pending: number; oldest: number }>;
      return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.oldest ?? 0 };
    },
  };
}

/** Anything that can register a gauge read at scrape time (an app's HttpMetrics). */
export interface GaugeRegistry {
  gauge(name: string, help: string, collect: () => number | Promise<number>): unknown;
}

/** Exports the relay's lag on /metrics: unpublished events and the age of the oldest. */
export function exportOutboxLag(metrics: GaugeRegistry, relay: Pick<OutboxRelay, "lag" | "holding">): void {
  metrics.gauge("careforall_outbox_burst_holding", "1 while a burst of commits holds events back in the outbox", () =>
    relay.holding() ? 1 : 0,
  );
  metrics.gauge(
    "careforall_outbox_pending_events",
    "Outbox events not yet published",
    async () => (await relay.lag()).pending,
  );
  metrics.gauge(
    "careforall_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox event",
    async () => (await relay.lag()).oldestAgeSeconds,
  );
}
