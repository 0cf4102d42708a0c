// Closing campaigns whose endsAt has passed (issue 8): the sweeper's use case. Each batch is one
// transaction through the one close path (`closeCampaigns`: status → closed with its campaign.closed
// event, invariant 5). Rows are claimed with FOR UPDATE SKIP LOCKED and only active ones change,
// so two replicas sweeping at once, or an owner closing at the same moment, close a campaign once.
import type { Clock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import { and, asc, inArray, lte, sql } from "drizzle-orm";
import { campaigns } from "./db/schema";
import { type CampaignDb, closeCampaigns } from "./service";

export interface EndedCampaignsDeps {
  db: CampaignDb;
  clock: Clock;
  /** Called after a batch that closed campaigns has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
}

export function createEndedCampaignCloser({ db, clock, onCommitted }: EndedCampaignsDeps) {
  /** Closes up to `limit` ended campaigns, earliest end first; returns the closed snapshots. */
  async function closeEnded(limit = 100): Promise<CampaignSnapshot[]> {
    const closed = await db.transaction(async (tx) => {
      // Served by the partial index campaigns_active_ends_at_idx; locked rows belong to another
      // sweeper or a writer and are left to them (the next sweep sees what they did).
      const due = tx
        .select({ id: campaigns.id })
        .from(campaigns)
        // Raw: a literal 'active' (not a bound parameter) lets every plan match the partial index.
        .where(and(sql`${campaigns.status} = 'active'`, lte(campaigns.endsAt, clock.date())))
        .orderBy(asc(campaigns.endsAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      return closeCampaigns(tx, clock, inArray(campaigns.id, due));
    });
    if (closed.length > 0) onCommitted?.();
    return closed;
  }

  return { closeEnded };
}

export type EndedCampaignCloser = ReturnType<typeof createEndedCampaignCloser>;
