// The payment service's tables, all inside its own PostgreSQL schema "payment" (no other service
// reads them). One payment per pledge is decided by the unique constraint on pledge_id.
import { inboxTable, outboxTable } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, pgSchema, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { PAYMENT_STATUSES } from "../domain/payment-machine";

export const paymentSchema = pgSchema("payment");

export const CURRENCIES = ["BDT", "USD", "EUR"] as const;

const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const statusList = sql.raw(PAYMENT_STATUSES.map((s) => `'${s}'`).join(", "));

export const payments = paymentSchema.table(
  "payments",
  {
    /** UUIDv7; also the bank idempotency key of the authorize and the hold's paymentRef. */
    id: uuid("id").primaryKey(),
    pledgeId: uuid("pledge_id").notNull().unique("payments_pledge_id_key"),
    campaignId: uuid("campaign_id").notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    sourceAccountId: text("source_account_id").notNull(),
    /** The bank's single-purpose grant from pledge.created; never returned by the API. */
    sourceGrant: text("source_grant").notNull(),
    status: text("status", { enum: PAYMENT_STATUSES }).notNull(),
    holdId: text("hold_id"),
    captureTransferId: text("capture_transfer_id"),
    refundTransferId: text("refund_transfer_id"),
    failureReason: text("failure_reason"),
    cancelRequested: boolean("cancel_requested").notNull().default(false),
    refundRequested: boolean("refund_requested").notNull().default(false),
    /** Bank calls that ended in an unknown outcome, and when to try again. */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: at("next_attempt_at").notNull().defaultNow(),
    lastError: text("last_error"),
    createdAt: at("created_at").notNull().defaultNow(),
    /** Time of the last change of status or flags; the reconciler measures staleness from it. */
    updatedAt: at("updated_at").notNull().defaultNow(),
    /** Incremented on every change; writers update only the version they read. */
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check("payments_status_check", sql`${t.status} in (${statusList})`),
    check("payments_currency_check", sql`${t.currency} in ('BDT', 'USD', 'EUR')`),
    check("payments_amount_minor_check", sql`${t.amountMinor} > 0`),
    // The reconciler's scan: only payments still waiting on the bank.
    index("payments_pending_idx")
      .on(t.updatedAt)
      .where(
        sql`status in ('authorizing', 'authorized', 'capturing', 'refunding') or (status = 'captured' and (cancel_requested or refund_requested))`,
      ),
  ],
);

export const paymentHistory = paymentSchema.table(
  "payment_history",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    paymentId: uuid("payment_id")
      .notNull()
      .references(() => payments.id),
    status: text("status", { enum: PAYMENT_STATUSES }).notNull(),
    at: at("at").notNull().defaultNow(),
    /** What moved it: "bank:authorize", "webhook:<event id>", "reconciler", "pledge.cancelled", "operator", ... */
    cause: text("cause").notNull(),
  },
  (t) => [index("payment_history_payment_idx").on(t.paymentId, t.id)],
);

export const outbox = outboxTable(paymentSchema);
export const inbox = inboxTable(paymentSchema);

export type PaymentRow = typeof payments.$inferSelect;

/** Passed to drizzle so `db.query.*` and the relay see every table. */
export const schema = { payments, paymentHistory, outbox, inbox };
export type PaymentDbSchema = typeof schema;
