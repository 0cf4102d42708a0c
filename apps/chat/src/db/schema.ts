// The chat service's tables, inside its own PostgreSQL schema "chat" (no other service reads
// them): the messages, and the ids of the campaigns that exist (a projection of campaign events).
import { sql } from "drizzle-orm";
import { check, index, pgSchema, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

export const chatSchema = pgSchema("chat");

export const messages = chatSchema.table(
  "messages",
  {
    /** UUIDv7 (time-ordered): "newest first" is "id desc", and `before` pages by id. */
    id: uuid("id").primaryKey(),
    /** `campaign:<uuid>` or `support:<uuid>` (domain/rooms.ts). */
    room: text("room").notNull(),
    userId: uuid("user_id").notNull(),
    /** The poster's display name when they posted (from their access token). */
    name: text("name").notNull(),
    /** Exactly as sent: plain text, never escaped or interpreted here (the client renders it as text). */
    text: text("text").notNull(),
    /** The sender's own id for the message (reconciles its optimistic copy; makes a retried post idempotent). */
    clientId: text("client_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    // char_length counts code points, as the API does (domain/text.ts).
    check("messages_text_check", sql`char_length(${t.text}) between 1 and 2000`),
    check("messages_client_id_check", sql`char_length(${t.clientId}) between 1 and 64`),
    // History: one room, newest first, paged by id.
    index("messages_room_id_idx").on(t.room, t.id.desc()),
    // A retried post (same user, same clientId) finds the first message instead of adding another.
    uniqueIndex("messages_user_client_id_key")
      .on(t.userId, t.clientId)
      .where(sql`client_id is not null`),
  ],
);

/**
 * Campaigns known to exist, from campaign.created/updated/closed events: posts to a campaign room
 * are accepted only for these (a room of a made-up id would be a free, unmoderated store).
 */
export const campaigns = chatSchema.table("campaigns", {
  id: uuid("id").primaryKey(),
  seenAt: timestamp("seen_at", { withTimezone: true, mode: "date" }).notNull(),
});

export const schema = { messages, campaigns };
