// Which campaigns exist, as far as chat knows: a projection of campaign.created / updated / closed
// (workers/campaign-events.ts). Posting to `campaign:<id>` needs the id here; reading does not
// (an unknown campaign's room simply has no messages).
import type { Clock } from "@careforall/config";
import { eq } from "drizzle-orm";
import { campaigns } from "./db/schema";
import type { ChatDb } from "./message-store";

export async function campaignExists(db: ChatDb, campaignId: string): Promise<boolean> {
  const rows = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.id, campaignId)).limit(1);
  return rows.length > 0;
}

/**
 * Records campaigns as existing, in one statement. Idempotent by itself (an id already there is
 * skipped), so redelivered events need no inbox: applying one twice has the effect of once.
 */
export async function rememberCampaigns(db: ChatDb, clock: Clock, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const seenAt = clock.date();
  // Sorted and unique: two batches insert overlapping ids in one order, so they wait, never deadlock.
  const unique = [...new Set(ids)].sort();
  const inserted = await db
    .insert(campaigns)
    .values(unique.map((id) => ({ id, seenAt })))
    .onConflictDoNothing()
    .returning({ id: campaigns.id });
  return inserted.length;
}
