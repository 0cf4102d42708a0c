// The notification service's tables, all inside its own PostgreSQL schema "notification": small
// projections of campaigns and pledges fed by events, the stored notifications, and their read marks.
import { inboxTable } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const notificationSchema = pgSchema("notification");

const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * What notification needs of a campaign (title and currency for texts, goal and owner for
 * goal_reached, the totals last pushed), kept from campaign.* snapshots. `version` is the newest
 * snapshot applied: an older one never overwrites it, and no older totals are pushed after it.
 */
export const campaigns = notificationSchema.table("campaigns", {
  id: uuid("id").primaryKey(),
  ownerId: uuid("owner_id").notNull(),
  title: text("title").notNull(),
  goalMinor: bigint("goal_minor", { mode: "number" }).notNull(),
  currency: text("currency").notNull(),
  status: text("status").notNull(),
  raisedMinor: bigint("raised_minor", { mode: "number" }).notNull(),
  donorCount: integer("donor_count").notNull(),
  pledgeCount: integer("pledge_count").notNull(),
  version: integer("version").notNull(),
});

/**
 * Each pledge's furthest state seen (forward only, whatever order its events come in) and since
 * when it exists: the stuck sweeper's input. `stuckNotified` keeps the sweeper's scan to pledges
 * it has not reported yet.
 */
export const pledges = notificationSchema.table(
  "pledges",
  {
    id: uuid("id").primaryKey(),
    campaignId: uuid("campaign_id").notNull(),
    donorId: uuid("donor_id"),
    status: text("status").notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /** When the pledge was created (pledge.created), or the earliest event time seen before that one. */
    createdAt: at("created_at").notNull(),
    updatedAt: at("updated_at").notNull(),
    stuckNotified: boolean("stuck_notified").notNull().default(false),
  },
  (t) => [
    // The sweeper's scan: open pledges not reported yet, oldest first.
    index("pledges_open_created_idx")
      .on(t.createdAt)
      .where(sql`status in ('pending', 'authorized') and not stuck_notified`),
  ],
);

/**
 * Stored notifications. `recipient` is a user id, or "admins" for the operator kinds every admin
 * sees. (recipient, kind, subject) is unique — subject is the pledge, the campaign or the event
 * the notification is about — so a redelivered event or a second sweeper stores none twice.
 * `seq` orders the list (newest first) and carries the cursor. `readAt` is the recipient's own
 * read mark; for "admins" rows each admin's mark is in admin_reads.
 */
export const notifications = notificationSchema.table(
  "notifications",
  {
    id: uuid("id").primaryKey(),
    seq: bigserial("seq", { mode: "number" }).notNull(),
    recipient: text("recipient").notNull(),
    kind: text("kind").notNull(),
    subject: text("subject").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull(),
    pledgeId: uuid("pledge_id"),
    campaignId: uuid("campaign_id"),
    at: at("at").notNull(),
    readAt: at("read_at"),
  },
  (t) => [
    uniqueIndex("notifications_once_idx").on(t.recipient, t.kind, t.subject),
    uniqueIndex("notifications_recipient_seq_idx").on(t.recipient, t.seq.desc()),
  ],
);

/** Per-admin read marks of "admins" notifications (one row per admin and notification read). */
export const adminReads = notificationSchema.table(
  "admin_reads",
  {
    notificationId: uuid("notification_id").notNull(),
    adminId: uuid("admin_id").notNull(),
    readAt: at("read_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.notificationId, t.adminId] })],
);

/**
 * The last audit seen (one row, id 1): its drift, when it was checked, and whether the drift now
 * persisting has been reported (cleared by an audit at zero drift).
 */
export const auditState = notificationSchema.table(
  "audit_state",
  {
    id: integer("id").primaryKey(),
    lastDriftMinor: bigint("last_drift_minor", { mode: "number" }).notNull(),
    lastCheckedAt: at("last_checked_at").notNull(),
    alerted: boolean("alerted").notNull(),
  },
  (t) => [check("audit_state_single_row", sql`${t.id} = 1`)],
);

export const inbox = inboxTable(notificationSchema);

export type CampaignRow = typeof campaigns.$inferSelect;
export type PledgeRow = typeof pledges.$inferSelect;
export type NotificationRow = typeof notifications.$inferSelect;

/** Passed to drizzle so `db.query.*` sees every table. */
export const schema = { campaigns, pledges, notifications, adminReads, auditState, inbox };
export type NotificationDbSchema = typeof schema;
