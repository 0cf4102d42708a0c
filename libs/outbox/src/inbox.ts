// Inbox: consumers record each event id in the same transaction as its effect, so a
// redelivered event (at-least-once bus) applies once (invariant 5).
import type { Executor } from "@careforall/db";
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
