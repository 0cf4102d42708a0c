// The campaign service's tables, all inside its own PostgreSQL schema "campaign" (no other
// service reads them). Totals columns are maintained by the money path's event consumers.
import { inboxTable, outboxTable } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const campaignSchema = pgSchema("campaign");

export const CURRENCIES = ["BDT", "USD", "EUR"] as const;
export const CAMPAIGN_STATUSES = ["active", "closed"] as const;

export const campaigns = campaignSchema.table(
  "campaigns",
  {
    /** UUIDv7 (time-ordered), so "newest first" is "id desc". */
    id: uuid("id").primaryKey(),
    ownerId: uuid("owner_id").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull(),
    goalMinor: bigint("goal_minor", { mode: "number" }).notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    status: text("status", { enum: CAMPAIGN_STATUSES }).notNull().default("active"),
    raisedMinor: bigint("raised_minor", { mode: "number" }).notNull().default(0),
    donorCount: integer("donor_count").notNull().default(0),
    pledgeCount: integer("pledge_count").notNull().default(0),
    endsAt: timestamp("ends_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** Incremented on every change; caches keep the snapshot with the highest version. */
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check("campaigns_currency_check", sql`${t.currency} in ('BDT', 'USD', 'EUR')`),
    check("campaigns_status_check", sql`${t.status} in ('active', 'closed')`),
    check("campaigns_goal_minor_check", sql`${t.goalMinor} >= 100`),
    check("campaigns_totals_check", sql`${t.raisedMinor} >= 0 and ${t.donorCount} >= 0 and ${t.pledgeCount} >= 0`),
    index("campaigns_status_id_idx").on(t.status, t.id.desc()),
    // An owner's own campaigns, newest first (GET /api/me/campaigns).
    index("campaigns_owner_id_idx").on(t.ownerId, t.id.desc()),
    // The end sweeper's scan: only active campaigns with an end, earliest first.
    index("campaigns_active_ends_at_idx")
      .on(t.endsAt)
      .where(sql`status = 'active' and ends_at is not null`),
  ],
);

/**
 * One row per captured pledge (the donations read model behind GET /campaigns/:id/donations).
 * The pledge id is the key, so a pledge can add to a total at most once, whatever the event ids.
 */
export const donations = campaignSchema.table(
  "donations",
  {
    pledgeId: uuid("pledge_id").primaryKey(),
    campaignId: uuid("campaign_id").notNull(),
    donorKey: text("donor_key").notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency", { enum: CURRENCIES }).notNull(),
    /** Null when the donor chose to stay anonymous. */
    donorName: text("donor_name"),
    message: text("message"),
    capturedAt: timestamp("captured_at", { withTimezone: true, mode: "date" }).notNull(),
    refundedAt: timestamp("refunded_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("donations_campaign_captured_idx").on(t.campaignId, t.capturedAt.desc(), t.pledgeId.desc())],
);

/** Captured, not refunded pledges per donor and campaign: donorCount counts the rows above zero. */
export const campaignDonors = campaignSchema.table(
  "campaign_donors",
  {
    campaignId: uuid("campaign_id").notNull(),
    donorKey: text("donor_key").notNull(),
    capturedCount: integer("captured_count").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.campaignId, t.donorKey] }),
    check("campaign_donors_count_check", sql`${t.capturedCount} >= 0`),
  ],
);

export const outbox = outboxTable(campaignSchema);
export const inbox = inboxTable(campaignSchema);

export type CampaignRow = typeof campaigns.$inferSelect;

/** Passed to drizzle so `db.query.*` and the relay see every table. */
export const schema = { campaigns, donations, campaignDonors, outbox, inbox };
export type CampaignDbSchema = typeof schema;
