// Bounded inbox: every minute, deletes the inbox rows whose event can no longer reach the consumer
// again — older than everything the bus still holds (minus a margin) and older than a minimum retention.
import { type Clock, systemClock } from "@careforall/config";
import type { Logger } from "@careforall/log";
import { createPollingLoop } from "@careforall/worker";
import type { PgDatabase } from "drizzle-orm/pg-core";
import { pruneInbox } from "./inbox";
import type { InboxTable } from "./tables";

const HOUR_MS = 60 * 60_000;

export interface InboxPrunerOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any drizzle pg database (postgres.js or PGlite)
  db: PgDatabase<any, any, any>;
  table: InboxTable;
  log: Logger;
  /** The time of the oldest event the bus could still deliver (Bus.retainedSince). */
  retainedSince(): Promise<Date>;
  /** A row is kept at least this long, whatever the bus holds (a re-publish after the duplicate window). */
  minRetentionMs: number;
  /** Kept this much further behind the bus's oldest event (default 1 hour): clocks and slow deliveries. */
  marginMs?: number;
  clock?: Clock;
  /** Between rounds (default 60 s). */
  intervalMs?: number;
  /** Rows per DELETE (default 5000). */
  batchSize?: number;
  /** Full batches per round at most (default 20); a round that stops on a full batch is followed by the next at once. */
  maxBatchesPerRound?: number;
  /** Told how many rows each round deleted (a metric). */
  onPruned?(count: number): void;
}

export interface InboxPruner {
  start(): void;
  /** Resolves once the round in progress (if any) has finished. */
  stop(): Promise<void>;
  /** The time before which rows may go now: min(retainedSince - margin, now - minRetention). */
  horizon(): Promise<Date>;
  /** One round: batches until one is not full (or maxBatchesPerRound); returns the rows deleted. */
  pruneOnce(): Promise<number>;
}

export function createInboxPruner(options: InboxPrunerOptions): InboxPruner {
  const { db, table, log } = options;
  const clock = options.clock ?? systemClock;
  const marginMs = options.marginMs ?? HOUR_MS;
  const batchSize = options.batchSize ?? 5000;
  const maxBatches = options.maxBatchesPerRound ?? 20;
  /** Whether the last round stopped on a full batch (more waiting). */
  let more = false;

  async function horizon(): Promise<Date> {
    const retained = (await options.retainedSince()).getTime();
    // Invariant 5 (each event applies once): a row goes only when its event is older than anything
    // the bus could deliver again AND older than the minimum retention.
    return new Date(Math.min(retained - marginMs, clock.now() - options.minRetentionMs));
  }

  async function pruneOnce(): Promise<number> {
    const before = await horizon();
    let total = 0;
    more = false;
    for (let i = 0; i < maxBatches; i++) {
      const deleted = await pruneInbox(db, table, before, batchSize);
      total += deleted;
      more = deleted >= batchSize;
      if (!more) break;
    }
    if (total > 0) {
      options.onPruned?.(total);
      log.info({ deleted: total, horizon: before.toISOString() }, "inbox.pruned");
    }
    return total;
  }

  const loop = createPollingLoop({
    name: "inbox.pruner",
    log,
    intervalMs: options.intervalMs ?? 60_000,
    async tick() {
      await pruneOnce();
      return more;
    },
  });

  return { start: loop.start, stop: loop.stop, horizon, pruneOnce };
}
