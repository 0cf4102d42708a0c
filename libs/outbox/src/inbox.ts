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
  const rows = await tx
    .insert(table)
    .values({ consumer, eventId })
    .onConflictDoNothing()
    .returning({ eventId: table.eventId });
  return rows.length === 1;
}
