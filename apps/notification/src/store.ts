// Storing notifications: one INSERT for a whole set, where the (recipient, kind, subject) key
// decides what is new — a redelivered event, a racing replica or a second sweep stores nothing
// twice, and only the rows this statement inserted are returned (and so pushed).
import type { Database, Tx } from "@careforall/db";
import { type NotificationDbSchema, type NotificationRow, notifications } from "./db/schema";
import type { NotificationKind } from "./domain";

export type NotificationDb = Database<NotificationDbSchema>;
export type NotificationTx = Tx<NotificationDbSchema>;

export interface NewNotification {
  recipient: string;
  kind: NotificationKind;
  /** What it is about: the pledge, the campaign or the event; unique per recipient and kind. */
  subject: string;
  title: string;
  body: string;
  pledgeId: string | null;
  campaignId: string | null;
  at: Date;
}

const keyOf = (n: NewNotification) => `${n.recipient}\u0000${n.kind}\u0000${n.subject}`;

/** Inserts the notifications that are new; returns those rows (in key order). */
export async function storeNotifications(
  tx: NotificationTx | NotificationDb,
  rows: readonly NewNotification[],
): Promise<NotificationRow[]> {
  if (rows.length === 0) return [];
  // Sorted by the unique key: racing batches wait on each other's rows in one order, never deadlock.
  const sorted = [...new Map(rows.map((n) => [keyOf(n), n])).values()].sort((a, b) =>
    keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0,
  );
  return tx
    .insert(notifications)
    .values(sorted.map((n) => ({ id: Bun.randomUUIDv7(), ...n })))
    .onConflictDoNothing()
    .returning();
}
