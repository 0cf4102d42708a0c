// Inbox: consumers record each event id in the same transaction as its effect, so a
// redelivered event (at-least-once bus) applies once (invariant 5). Rows are pruned once their
// event can no longer reach the consumer again (see inbox-pruner.ts).
import type { Executor } from "@careforall/db";
import { sql } from "drizzle-orm";
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { InboxTable } from "./tables";

/** Returns true the first time `eventId` is seen by `consumer` in this transaction's view; false on a repeat. */
export async function recordInbox(
  tx: Executor<Record<string, unknown>>,
  table: InboxTable,
  consumer: string,
  eventId: string,
): Promise<boolean> {
  // The primary key decides races: of two concurrent deliveries only one insert returns a row.
  return (await recordInboxMany(tx, table, consumer, [eventId])).has(eventId);
}

/**
 * The batch form of recordInbox: records every id in one statement and returns the ids seen for
 * the first time (repeats inside `eventIds` count once). Same transaction as the batch's effect.
 */
export async function recordInboxMany(
  tx: Executor<Record<string, unknown>>,
  table: InboxTable,
  consumer: string,
  eventIds: readonly string[],
): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  // Sorted: two batches with overlapping ids insert them in one order, so they wait, never deadlock.
  const unique = [...new Set(eventIds)].sort();
  const rows = await tx
    .insert(table)
    .values(unique.map((eventId) => ({ consumer, eventId })))
    .onConflictDoNothing()
    .returning({ eventId: table.eventId });
  return new Set(rows.map((r) => r.eventId));
}

/**
 * Deletes up to `limit` inbox rows processed before `before`, oldest first, in one short statement
 * (inbox_processed_at_idx); returns how many went. The caller decides `before` (see createInboxPruner):
 * a row may only go once its event cannot be delivered again.
 */
export async function pruneInbox(
  // biome-ignore lint/suspicious/noExplicitAny: any drizzle pg database (postgres.js or PGlite)
  db: PgDatabase<any, any, any>,
  table: InboxTable,
  before: Date,
  limit = 5000,
): Promise<number> {
  // Raw SQL: drizzle's delete has no limit, order or SKIP LOCKED. SKIP LOCKED: replicas pruning at
  // once split the rows instead of waiting on (or deadlocking over) each other's. The count comes
  // back as a row, the same on both drivers.
  const rows = (await db.execute(sql`
    with gone as (
      delete from ${table} where (consumer, event_id) in (
        select consumer, event_id from ${table}
        where processed_at < ${before.toISOString()}::timestamptz
        order by processed_at
        limit ${limit}
        for update skip locked)
      returning 1)
    select count(*)::int as n from gone`)) as unknown as Array<{ n: number }>;
  return rows[0]?.n ?? 0;
}
