// The bank's double-entry ledger, all inside its own PostgreSQL schema "bank". Money is bigint
// minor units. Invariant 4 lives in the CHECK constraints: no non-system account can have a
// negative available balance, whatever the concurrency.
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
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const bankSchema = pgSchema("bank");

export const CURRENCIES = ["BDT", "USD", "EUR"] as const;
export const OWNER_TYPES = ["user", "campaign", "demo", "test", "system"] as const;
export const HOLD_STATUSES = ["held", "captured", "released", "expired"] as const;
export const TRANSFER_KINDS = ["funding", "capture", "refund"] as const;

const money = (name: string) => bigint(name, { mode: "number" });
const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const accounts = bankSchema.table(
  "accounts",
  {
    /** `acct_<uuidv7 hex>`, or a fixed name for the test and system accounts. */
    id: text("id").primaryKey(),
    ownerType: text("owner_type", { enum: OWNER_TYPES }).notNull(),
    ownerId: text("owner_id"),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    /** Always equals the sum of this account's entries. */
    balanceMinor: money("balance_minor").notNull().default(0),
    /** Sum of this account's holds in status `held`. */
    heldMinor: money("held_minor").notNull().default(0),
    /** sha-256 hex of the account secret (high-entropy random secrets; fixed "test" for test accounts). */
    secretHash: text("secret_hash"),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("accounts_owner_key").on(t.ownerType, t.ownerId).where(sql`owner_id is not null`),
    check("accounts_owner_type_check", sql`${t.ownerType} in ('user', 'campaign', 'demo', 'test', 'system')`),
    check("accounts_currency_check", sql`${t.currency} in ('BDT', 'USD', 'EUR')`),
    check("accounts_held_check", sql`${t.heldMinor} >= 0`),
    // Invariant 4: only the system funding accounts may go below zero.
    check("accounts_available_check", sql`${t.ownerType} = 'system' or ${t.balanceMinor} - ${t.heldMinor} >= 0`),
  ],
);

export const holds = bankSchema.table(
  "holds",
  {
    id: uuid("id").primaryKey(),
    /** The authorize call's idempotency key (the payment id): one hold per key. */
    idempotencyKey: text("idempotency_key").notNull().unique("holds_idempotency_key_key"),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    campaignId: text("campaign_id").notNull(),
    /** The campaign's receiving account. */
    toAccountId: text("to_account_id")
      .notNull()
      .references(() => accounts.id),
    amountMinor: money("amount_minor").notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    status: text("status", { enum: HOLD_STATUSES }).notNull().default("held"),
    capturedMinor: money("captured_minor").notNull().default(0),
    refundedMinor: money("refunded_minor").notNull().default(0),
    paymentRef: text("payment_ref").notNull(),
    expiresAt: at("expires_at").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    updatedAt: at("updated_at").notNull().defaultNow(),
  },
  (t) => [
    check("holds_status_check", sql`${t.status} in ('held', 'captured', 'released', 'expired')`),
    check("holds_amount_check", sql`${t.amountMinor} > 0`),
    check("holds_captured_check", sql`${t.capturedMinor} >= 0 and ${t.capturedMinor} <= ${t.amountMinor}`),
    check("holds_refunded_check", sql`${t.refundedMinor} >= 0 and ${t.refundedMinor} <= ${t.capturedMinor}`),
    index("holds_held_expiry_idx").on(t.expiresAt).where(sql`status = 'held'`),
    index("holds_account_idx").on(t.accountId),
  ],
);

export const transfers = bankSchema.table(
  "transfers",
  {
    id: uuid("id").primaryKey(),
    kind: text("kind", { enum: TRANSFER_KINDS }).notNull(),
    holdId: uuid("hold_id").references(() => holds.id),
    debitAccountId: text("debit_account_id")
      .notNull()
      .references(() => accounts.id),
    creditAccountId: text("credit_account_id")
      .notNull()
      .references(() => accounts.id),
    amountMinor: money("amount_minor").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("transfers_kind_check", sql`${t.kind} in ('funding', 'capture', 'refund')`),
    check("transfers_amount_check", sql`${t.amountMinor} > 0`),
    check("transfers_distinct_accounts_check", sql`${t.debitAccountId} <> ${t.creditAccountId}`),
    index("transfers_hold_idx").on(t.holdId),
  ],
);

export const entries = bankSchema.table(
  "entries",
  {
    /**
     * Assigned while the account row is locked, so per account the id order is the order in which
     * balances changed, and balance_after_minor reads as a running balance.
     */
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    transferId: uuid("transfer_id")
      .notNull()
      .references(() => transfers.id),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    /** Signed: debit negative, credit positive. Each transfer's two entries sum to 0. */
    amountMinor: money("amount_minor").notNull(),
    balanceAfterMinor: money("balance_after_minor").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("entries_amount_check", sql`${t.amountMinor} <> 0`),
    index("entries_account_id_idx").on(t.accountId, t.id.desc()),
    index("entries_transfer_idx").on(t.transferId),
  ],
);

/** Stored results of idempotent writes: same key + same body → this response again. */
export const idempotency = bankSchema.table(
  "idempotency",
  {
    key: text("key").notNull(),
    operation: text("operation").notNull(),
    requestHash: text("request_hash").notNull(),
    statusCode: integer("status_code").notNull(),
    response: jsonb("response").$type<unknown>(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "idempotency_pkey", columns: [t.key, t.operation] })],
);

/** Signed webhooks waiting for (or past) delivery; `id` is the webhook event id. */
export const webhookDeliveries = bankSchema.table(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey(),
    type: text("type").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: at("next_attempt_at").notNull().defaultNow(),
    deliveredAt: at("delivered_at"),
    /** Chaos: marked delivered without being sent. */
    dropped: boolean("dropped").notNull().default(false),
    /** Chaos: already held back once by the reorder knob. */
    heldBack: boolean("held_back").notNull().default(false),
    lastError: text("last_error"),
    /**
     * The trace context (`traceparent`, `tracestate`, `x-request-id`) of the call that queued it,
     * so the delivery continues the donation's trace; null when there was none.
     */
    traceHeaders: jsonb("trace_headers").$type<Record<string, string>>(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`delivered_at is null`)],
);

/** One row: the fault knobs every replica applies (PUT /bank/faults writes it, replicas poll it). */
export const faultSettings = bankSchema.table("fault_settings", {
  id: integer("id").primaryKey(),
  settings: jsonb("settings").$type<Record<string, unknown>>().notNull(),
  updatedAt: at("updated_at").notNull().defaultNow(),
});

export const outbox = outboxTable(bankSchema);
export const inbox = inboxTable(bankSchema);

export type AccountRow = typeof accounts.$inferSelect;
export type HoldRow = typeof holds.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type OwnerType = (typeof OWNER_TYPES)[number];
export type HoldStatus = (typeof HOLD_STATUSES)[number];
export type TransferKind = (typeof TRANSFER_KINDS)[number];
export type CurrencyCode = (typeof CURRENCIES)[number];

/** Passed to drizzle so `db.query.*` and the relay see every table. */
export const schema = {
  accounts,
  holds,
  transfers,
  entries,
  idempotency,
  webhookDeliveries,
  faultSettings,
  outbox,
  inbox,
};
export type BankDbSchema = typeof schema;
