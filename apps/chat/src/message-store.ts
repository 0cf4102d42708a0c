// The messages table's two statements: the idempotent insert (one round trip; the unique index on
// (user_id, client_id) decides a race between retries) and the history page (index scan on
// (room, id desc)). Rows are turned into the API's message shape here, once.
import type { Database } from "@careforall/db";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { messages, type schema } from "./db/schema";
import type { ChatModel } from "./model";

export type ChatDb = Database<typeof schema>;
export type MessageRow = typeof messages.$inferSelect;

/** The API's message (a chat.message frame without `type`); clientId only when the sender gave one. */
export function toMessage(row: MessageRow): ChatModel.Message {
  return {
    id: row.id,
    room: row.room,
    userId: row.userId,
    name: row.name,
    text: row.text,
    at: row.createdAt.toISOString(),
    ...(row.clientId !== null ? { clientId: row.clientId } : {}),
  };
}

/**
 * Inserts the message, or — when the same user already posted with the same clientId — inserts
 * nothing and returns that first message (`created: false`). Concurrent retries: PostgreSQL makes
 * the second insert wait for the first and then skip it, so exactly one row and one `created`.
 */
export async function insertMessage(db: ChatDb, row: MessageRow): Promise<{ row: MessageRow; created: boolean }> {
  const inserted = await db
    .insert(messages)
    .values(row)
    .onConflictDoNothing({ target: [messages.userId, messages.clientId], where: sql`client_id is not null` })
    .returning();
  if (inserted[0]) return { row: inserted[0], created: true };
  if (row.clientId === null) throw new Error("insert into chat.messages without a clientId returned no row");
  const [first] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.userId, row.userId), eq(messages.clientId, row.clientId)))
    .limit(1);
  if (!first) throw new Error("chat.messages: a clientId conflict without its first message");
  return { row: first, created: false };
}

/** One page of a room's history, newest first; `before` (a message id) excludes it and everything newer. */
export async function listMessages(
  db: ChatDb,
  room: string,
  { limit, before }: { limit: number; before?: string | undefined },
): Promise<MessageRow[]> {
  return db
    .select()
    .from(messages)
    .where(before === undefined ? eq(messages.room, room) : and(eq(messages.room, room), lt(messages.id, before)))
    .orderBy(desc(messages.id))
    .limit(limit);
}
