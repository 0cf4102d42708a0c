// Outbox and inbox tables, declared inside each service's own PostgreSQL schema so that
// drizzle-kit generates them with the service's migrations.

import type { EventEnvelope } from "@careforall/bus";
import { sql } from "drizzle-orm";
import { index, integer, jsonb, type PgSchema, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

const sqlUnpublished = sql`published_at is null`;

export function outboxTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    "outbox",
    {
      id: uuid("id").primaryKey(),
      type: text("type").notNull(),
      aggregateId: text("aggregate_id").notNull(),
      /** The whole envelope, exactly as it will be published. */
      envelope: jsonb("envelope").$type<EventEnvelope>().notNull(),
      /** Trace context captured when the event was written, so the trace continues after the relay. */
      headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
      createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
      publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
      attempts: integer("attempts").notNull().default(0),
      nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
      lastError: text("last_error"),
    },
    // In id order, the relay's own order: a plain index scan marks the entries of published rows
    // dead as it passes them (a bitmap scan never does), so the scan stays short between vacuums.
    (t) => [index("outbox_unpublished_id_idx").on(t.id).where(sqlUnpublished)],
  );
}

export function inboxTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    "inbox",
    {
      consumer: text("consumer").notNull(),
      eventId: text("event_id").notNull(),
      processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    },
    // processed_at: the pruner deletes the oldest rows first, a few thousand at a time.
    (t) => [primaryKey({ columns: [t.consumer, t.eventId] }), index("inbox_processed_at_idx").on(t.processedAt)],
  );
}

export type OutboxTable = ReturnType<typeof outboxTable>;
export type InboxTable = ReturnType<typeof inboxTable>;
