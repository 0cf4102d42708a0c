// Reading pledges: one pledge for its donor, an admin or its receipt token holder; the donor's
// and the admin's lists; captured pledges for the campaign read-model rebuild; the audit's ledger
// and the status gauge. Nothing here writes.
import type { Clock } from "@careforall/config";
import { isUuid, notFound, type Principal } from "@careforall/http";
import { and, asc, desc, eq, gt, inArray, lt, lte, type SQL, sql } from "drizzle-orm";
import type { PledgeConfig } from "./config";
import { pledgeHistory, pledges } from "./db/schema";
import { decodeListCursor, encodeListCursor, type PledgeStatus, pageOf, receiptTokenMatches } from "./domain";
import type { PledgeModel } from "./model";
import { type PledgeDb, pledgesWithHistory } from "./pledge-store";

const OPEN_STATUSES: PledgeStatus[] = ["pending", "authorized"];

export interface PledgeQueriesDeps {
  db: PledgeDb;
  clock: Clock;
  config: Pick<PledgeConfig, "STUCK_AFTER_SECONDS">;
}

export const pledgeNotFound = (id: string) => notFound(`Pledge ${id} does not exist`);

export function createPledgeQueries({ db, clock, config }: PledgeQueriesDeps) {
  /** Its donor, an admin, or the holder of its receipt token; anyone else learns nothing (404). */
  async function get(id: string, viewer: Principal | null, receiptToken: string | undefined) {
    const [row] = await db.select().from(pledges).where(eq(pledges.id, id));
    const allowed =
      row &&
      (viewer?.role === "admin" ||
        (viewer !== null && row.donorId === viewer.id) ||
        (receiptToken !== undefined && receiptTokenMatches(receiptToken, row.receiptTokenHash)));
    if (!row || !allowed) throw pledgeNotFound(id);
    const [pledge] = await pledgesWithHistory(db, [row]);
    return pledge!;
  }

  async function listPage(conditions: SQL[], query: { limit?: number | undefined; cursor?: string | undefined }) {
    const limit = query.limit ?? 20;
    const after = decodeListCursor(query.cursor);
    if (after) conditions.push(lt(pledges.id, after));
    const rows = await db
      .select()
      .from(pledges)
      .where(and(...conditions))
      .orderBy(desc(pledges.id))
      .limit(limit + 1);
    const { page, nextCursor } = pageOf(rows, limit);
    return { items: await pledgesWithHistory(db, page), nextCursor };
  }

  /** The signed-in donor's own pledges, newest first. */
  function listMine(viewer: Principal, query: PledgeModel.MyPledgesQuery): Promise<PledgeModel.PledgePage> {
    if (!isUuid(viewer.id)) return Promise.resolve({ items: [], nextCursor: null });
    return listPage([eq(pledges.donorId, viewer.id)], query);
  }

  function listAll(query: PledgeModel.AdminListQuery): Promise<PledgeModel.PledgePage> {
    return listPage(query.status ? [eq(pledges.status, query.status)] : [], query);
  }

  /** Captured pledges of one campaign (oldest first), for the campaign service's read-model rebuild. */
  async function listCaptured(
    campaignId: string,
    query: { limit?: number | undefined; cursor?: string | undefined },
  ): Promise<PledgeModel.CapturedPage> {
    const limit = query.limit ?? 20;
    const after = decodeListCursor(query.cursor);
    const rows = await db
      .select()
      .from(pledges)
      .where(
        and(
          eq(pledges.campaignId, campaignId),
          eq(pledges.status, "captured"),
          ...(after ? [gt(pledges.id, after)] : []),
        ),
      )
      .orderBy(asc(pledges.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const capturedAt = new Map<string, Date>();
    if (page.length > 0) {
      const steps = await db
        .select({ pledgeId: pledgeHistory.pledgeId, at: pledgeHistory.at })
        .from(pledgeHistory)
        .where(
          and(
            inArray(
              pledgeHistory.pledgeId,
              page.map((r) => r.id),
            ),
            eq(pledgeHistory.status, "captured"),
          ),
        );
      for (const s of steps) capturedAt.set(s.pledgeId, s.at);
    }
    const last = page.at(-1);
    return {
      items: page.map((r) => ({
        pledgeId: r.id,
        campaignId: r.campaignId,
        donorKey: r.donorKey,
        donorName: r.donorName,
        anonymous: r.anonymous,
        message: r.message,
        amountMinor: r.amountMinor,
        currency: r.currency,
        capturedAt: (capturedAt.get(r.id) ?? r.updatedAt).toISOString(),
      })),
      nextCursor: rows.length > limit && last ? encodeListCursor(last.id) : null,
    };
  }

  /** The audit's view of pledges: captured money per campaign and pledges stuck past the grace period. */
  async function ledger(): Promise<PledgeModel.Ledger> {
    const now = clock.date();
    const rows = await db
      .select({
        campaignId: pledges.campaignId,
        sum: sql<string>`coalesce(sum(${pledges.amountMinor}) filter (where ${pledges.status} = 'captured'), 0)::bigint`,
        count: sql<number>`(count(*) filter (where ${pledges.status} = 'captured'))::int`,
      })
      .from(pledges)
      .where(inArray(pledges.status, ["captured", "refunded"]))
      .groupBy(pledges.campaignId)
      .orderBy(asc(pledges.campaignId));
    const stuckBefore = new Date(now.getTime() - config.STUCK_AFTER_SECONDS * 1000);
    const [stuck] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(pledges)
      .where(and(inArray(pledges.status, OPEN_STATUSES), lte(pledges.createdAt, stuckBefore)));
    return {
      campaigns: rows.map((r) => ({
        campaignId: r.campaignId,
        capturedMinusRefundedMinor: Number(r.sum),
        capturedCount: r.count,
      })),
      stuckPledges: stuck?.n ?? 0,
      checkedAt: now.toISOString(),
    };
  }

  /** Pledges by status, for the /metrics gauge. */
  async function countByStatus(): Promise<Array<{ status: PledgeStatus; count: number }>> {
    return db
      .select({ status: pledges.status, count: sql<number>`count(*)::int` })
      .from(pledges)
      .groupBy(pledges.status);
  }

  return { get, listMine, listAll, listCaptured, ledger, countByStatus };
}

export type PledgeQueries = ReturnType<typeof createPledgeQueries>;
