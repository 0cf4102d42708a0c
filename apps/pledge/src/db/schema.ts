// The pledge service's tables, all inside its own PostgreSQL schema "pledge" (no other service
// reads them): pledges with their status history, idempotency keys, the campaign read model
// fed by campaign.* events, and the outbox / inbox of the money path (invariant 5).
import { inboxTable, outboxTable } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

export const pledgeSchema = pgSchema("pledge");

export const CURRENCIES = ["BDT", "USD", "EUR"] as const;
export const PLEDGE_STATUSES = [
  "pending",
  "authorized",
  "captured",
  "failed",
  "cancelled",
  "expired",
  "refunded",
] as const;
export const CAMPAIGN_STATUSES = ["active", "closed"] as const;
export const IDEMPOTENCY_STATES = ["in_flight", "done"] as const;

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const pledges = pledgeSchema.table(
  "pledges",
  {
    /** UUIDv7 (time-ordered), so "newest first" is "id desc". */
    id: uuid("id").primaryKey(),
    campaignId: uuid("campaign_id").notNull(),
    /** Null for guests. */
    donorId: uuid("donor_id"),
    /** The user id, or "guest:" + sha-256 of the normalised email: stable per donor. */
    donorKey: text("donor_key").notNull(),
    donorName: text("donor_name"),
    /** Guests only, normalised (trimmed, lower-cased). */
    guestEmail: text("guest_email"),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    status: text("status", { enum: PLEDGE_STATUSES }).notNull(),
    anonymous: boolean("anonymous").notNull().default(false),
    message: text("message"),
    failureReason: text("failure_reason"),
    sourceAccountId: text("source_account_id").notNull(),
    /** SHA-256 hex of the guest's receipt token; the token itself is handed out once. */
    receiptTokenHash: text("receipt_token_hash"),
    refundRequestedAt: ts("refund_requested_at"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    /** Incremented on every change. */
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check("pledges_currency_check", sql`${t.currency} in ('BDT', 'USD', 'EUR')`),
    check(
      "pledges_status_check",
      sql`${t.status} in ('pending', 'authorized', 'captured', 'failed', 'cancelled', 'expired', 'refunded')`,
    ),
    check("pledges_amount_minor_check", sql`${t.amountMinor} between 100 and 100000000`),
    index("pledges_donor_id_idx").on(t.donorId, t.id.desc()),
    index("pledges_status_id_idx").on(t.status, t.id.desc()),
    index("pledges_campaign_status_id_idx").on(t.campaignId, t.status, t.id.desc()),
    index("pledges_open_created_idx").on(t.createdAt).where(sql`status in ('pending', 'authorized')`),
  ],
);

/** Every status a pledge has been in, in order (seq 1 is always "pending"). */
export const pledgeHistory = pledgeSchema.table(
  "pledge_history",
  {
    pledgeId: uuid("pledge_id")
      .notNull()
      .references(() => pledges.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    status: text("status", { enum: PLEDGE_STATUSES }).notNull(),
    at: ts("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.pledgeId, t.seq] })],
);

/**
 * Idempotency-Key records, scoped per donor ("user:<id>" or a guest's "guest:<HMAC of the email>"). The primary
 * key decides races between concurrent requests; `lock_id` names the request that owns an
 * in-flight row, so only that request may finish or release it.
 */
export const idempotencyKeys = pledgeSchema.table(
  "idempotency_keys",
  {
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    state: text("state", { enum: IDEMPOTENCY_STATES }).notNull(),
    lockId: uuid("lock_id").notNull(),
    lockedAt: ts("locked_at").notNull(),
    responseStatus: integer("response_status"),
    responseBody: jsonb("response_body").$type<Record<string, unknown>>(),
    /**
     * A guest's receipt token sealed (AES-GCM) under a key derived from the guest's own request,
     * which includes the account secret we never store: only a byte-identical retry can open it.
     */
    sealedReceiptToken: text("sealed_receipt_token"),
    pledgeId: uuid("pledge_id"),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.key] }),
    check("idempotency_keys_state_check", sql`${t.state} in ('in_flight', 'done')`),
    index("idempotency_keys_expires_at_idx").on(t.expiresAt),
  ],
);

/**
 * Read model of campaigns (status, currency, end time), from campaign.created/updated/closed;
 * never older over newer.
 */
export const campaigns = pledgeSchema.table(
  "campaigns",
  {
    id: uuid("id").primaryKey(),
    status: text("status", { enum: CAMPAIGN_STATUSES }).notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    /** No pledge is accepted from this instant on (accept_pledge checks it); null: open-ended. */
    endsAt: ts("ends_at"),
    version: integer("version").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    check("campaigns_currency_check", sql`${t.currency} in ('BDT', 'USD', 'EUR')`),
    check("campaigns_status_check", sql`${t.status} in ('active', 'closed')`),
  ],
);

export const outbox = outboxTable(pledgeSchema);
export const inbox = inboxTable(pledgeSchema);

export type PledgeRow = typeof pledges.$inferSelect;
export type PledgeHistoryRow = typeof pledgeHistory.$inferSelect;
export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
export type CampaignViewRow = typeof campaigns.$inferSelect;

/** Passed to drizzle so `db.query.*` and the relay see every table. */
export const schema = { pledges, pledgeHistory, idempotencyKeys, campaigns, outbox, inbox };
export type PledgeDbSchema = typeof schema;
