// Reading and marking a user's notifications: their own rows, and for admins also the "admins"
// rows every admin sees, each admin with their own read marks (admin_reads). Newest first, paged
// by the stored sequence with the shared cursor codec; someone else's notification is a 404.
import type { Clock } from "@careforall/config";
import { cursorCodec, cursorValues, notFound, type Principal } from "@careforall/http";
import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { adminReads, notifications } from "./db/schema";
import { ADMINS } from "./domain";
import type { NotificationModel } from "./model";
import type { NotificationDb } from "./store";

/** Pages continue below the sequence number of the last one shown. */
const pageCursor = cursorCodec("notifications", cursorValues.id);

const recipientsOf = (p: Principal) => (p.role === "admin" ? [p.id, ADMINS] : [p.id]);

export function createNotificationService({ db, clock }: { db: NotificationDb; clock: Clock }) {
  async function list(
    principal: Principal,
    query: NotificationModel.ListNotificationsQuery,
  ): Promise<NotificationModel.NotificationPage> {
    const limit = query.limit ?? 20;
    const below = pageCursor.decode(query.cursor);
    // An admin's mark on an "admins" row; a user's own row carries its mark itself.
    const readAt = sql<Date | null>`coalesce(${notifications.readAt}, ${adminReads.readAt})`.mapWith(
      notifications.readAt,
    );
    const rows = await db
      .select({
        id: notifications.id,
        seq: notifications.seq,
        kind: notifications.kind,
        title: notifications.title,
        body: notifications.body,
        at: notifications.at,
        readAt,
        pledgeId: notifications.pledgeId,
        campaignId: notifications.campaignId,
      })
      .from(notifications)
      .leftJoin(adminReads, and(eq(adminReads.notificationId, notifications.id), eq(adminReads.adminId, principal.id)))
      .where(
        and(
          inArray(notifications.recipient, recipientsOf(principal)),
          below === undefined ? undefined : lt(notifications.seq, below),
          query.unread ? and(isNull(notifications.readAt), isNull(adminReads.readAt)) : undefined,
        ),
      )
      .orderBy(desc(notifications.seq))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((n) => ({
        id: n.id,
        kind: n.kind as NotificationModel.Kind,
        title: n.title,
        body: n.body,
        at: n.at.toISOString(),
        readAt: n.readAt ? n.readAt.toISOString() : null,
        ...(n.pledgeId ? { pledgeId: n.pledgeId } : {}),
        ...(n.campaignId ? { campaignId: n.campaignId } : {}),
      })),
      nextCursor: rows.length > limit && last ? pageCursor.encode(last.seq) : null,
    };
  }

  /** Marks one notification read for the caller (idempotent); not theirs or unknown → 404. */
  async function markRead(principal: Principal, id: string): Promise<void> {
    const [row] = await db
      .select({ recipient: notifications.recipient })
      .from(notifications)
      .where(and(eq(notifications.id, id), inArray(notifications.recipient, recipientsOf(principal))));
    if (!row) throw notFound(`Notification ${id} does not exist`);
    const now = clock.date();
    if (row.recipient === ADMINS) {
      await db
        .insert(adminReads)
        .values({ notificationId: id, adminId: principal.id, readAt: now })
        .onConflictDoNothing();
      return;
    }
    await db
      .update(notifications)
      .set({ readAt: now })
      .where(and(eq(notifications.id, id), isNull(notifications.readAt)));
  }

  /** Marks everything the caller sees as read (an admin: their own rows and every "admins" row). */
  async function markAllRead(principal: Principal): Promise<void> {
    const now = clock.date();
    await db.transaction(async (tx) => {
      await tx
        .update(notifications)
        .set({ readAt: now })
        .where(and(eq(notifications.recipient, principal.id), isNull(notifications.readAt)));
      if (principal.role !== "admin") return;
      // drizzle's insert … select cannot add the constant columns; one statement in SQL instead.
      await tx.execute(sql`
        insert into ${adminReads} (notification_id, admin_id, read_at)
        select n.id, ${principal.id}::uuid, ${now.toISOString()}::timestamptz from ${notifications} n
        where n.recipient = ${ADMINS}
          and not exists (select 1 from ${adminReads} r where r.notification_id = n.id and r.admin_id = ${principal.id}::uuid)
        on conflict do nothing`);
    });
  }

  return { list, markRead, markAllRead };
}

export type NotificationService = ReturnType<typeof createNotificationService>;
