// What one batch of events does, decided before any write: the projection rows to upsert, the
// live frames to push once the batch has committed, and the notifications to store. Pure, so the
// ordering rules (forward only, never an older totals snapshot after a newer one) are table-tested.
import type { CampaignSnapshot, PledgeChange, PledgeCreated, PledgeStatus } from "@careforall/events";
import { type PledgeStatusFrame, type Push, type TotalsFrame, topics, totalsFrame } from "./frames";
import { isDonorNotified, STATUS_RANK } from "./pledge-status";

// ── Campaigns ─────────────────────────────────────────────────────────────────────────────

export type CampaignEventType = "campaign.created" | "campaign.updated" | "campaign.closed" | "campaign.totals_changed";

/** A campaign's projection as stored before the batch. */
export interface StoredCampaign {
  id: string;
  version: number;
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
}

export interface CampaignPlan {
  /** The newest snapshot per campaign that is newer than what is stored: to upsert. */
  upserts: CampaignSnapshot[];
  /** campaign.totals frames, at most one per campaign, never older than what was stored. */
  pushes: Push[];
  /** Fresh totals snapshots at or past their goal (the first per campaign in the batch). */
  goalsReached: CampaignSnapshot[];
}

const sameTotals = (a: TotalsFrame, b: StoredCampaign) =>
  a.raisedMinor === b.raisedMinor && a.donorCount === b.donorCount && a.pledgeCount === b.pledgeCount;

/**
 * Fresh events advance the projection when newer; a campaign that advanced pushes its newest
 * totals when the batch had a totals_changed for it or its totals moved. A redelivered
 * totals_changed (already applied: its push may have been lost in a crash between commit and
 * push) is pushed again only while it is still the newest version stored — the same numbers a
 * follower already has or should have, never older ones.
 */
export function planCampaigns(
  stored: ReadonlyMap<string, StoredCampaign>,
  fresh: ReadonlyArray<{ type: CampaignEventType; snapshot: CampaignSnapshot }>,
  redeliveredTotals: readonly CampaignSnapshot[],
): CampaignPlan {
  const newest = new Map<string, CampaignSnapshot>();
  const hadTotals = new Set<string>();
  const goals = new Map<string, CampaignSnapshot>();
  for (const { type, snapshot } of fresh) {
    const current = newest.get(snapshot.id);
    if (!current || snapshot.version > current.version) newest.set(snapshot.id, snapshot);
    if (type === "campaign.totals_changed") {
      hadTotals.add(snapshot.id);
      if (snapshot.raisedMinor >= snapshot.goalMinor && !goals.has(snapshot.id)) goals.set(snapshot.id, snapshot);
    }
  }
  const upserts: CampaignSnapshot[] = [];
  const pushes: Push[] = [];
  const pushed = new Set<string>();
  for (const [id, snapshot] of newest) {
    const before = stored.get(id);
    if (before && snapshot.version <= before.version) continue;
    upserts.push(snapshot);
    const frame = totalsFrame(snapshot);
    if (hadTotals.has(id) || (before && !sameTotals(frame, before))) {
      pushes.push({ topic: topics.campaign(id), frame });
      pushed.add(id);
    }
  }
  for (const snapshot of redeliveredTotals) {
    const before = stored.get(snapshot.id);
    if (pushed.has(snapshot.id) || newest.has(snapshot.id) || !before || before.version !== snapshot.version) continue;
    pushes.push({ topic: topics.campaign(snapshot.id), frame: totalsFrame(before) });
    pushed.add(snapshot.id);
  }
  return { upserts, pushes, goalsReached: [...goals.values()] };
}

// ── Pledges ───────────────────────────────────────────────────────────────────────────────

export type PledgeEvent =
  | { type: "pledge.created"; data: PledgeCreated }
  | {
      type:
        | "pledge.authorized"
        | "pledge.captured"
        | "pledge.failed"
        | "pledge.cancelled"
        | "pledge.expired"
        | "pledge.refunded";
      data: PledgeChange;
    };

/** A pledge's projection as the batch leaves it (the upsert keeps the furthest state either way). */
export interface PledgeProjection {
  id: string;
  campaignId: string;
  donorId: string | null;
  status: PledgeStatus;
  amountMinor: number;
  currency: string;
  createdAt: string;
  updatedAt: string;
}

export interface PledgePlan {
  rows: PledgeProjection[];
  /** pledge.status frames, in the order the pledge went through them, to the donor and the pledge's own topic. */
  pushes: Push[];
  /** Fresh changes a signed-in donor is told about in a stored notification (captured, failed, refunded). */
  donorNotices: PledgeChange[];
}

const statusOf = (e: PledgeEvent): PledgeStatus => (e.type === "pledge.created" ? "pending" : e.data.status);
const timeOf = (e: PledgeEvent): string => (e.type === "pledge.created" ? e.data.createdAt : e.data.at);
const earlier = (a: string, b: string) => (Date.parse(a) <= Date.parse(b) ? a : b);
const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);

/**
 * Pledge events of one batch against each pledge's stored status. Each change that takes a pledge
 * further than it was is pushed as pledge.status (a late, stale one never is: no donor sees
 * "authorized" after "captured"); pledge.created (pending) is not a change to push.
 */
export function planPledges(stored: ReadonlyMap<string, PledgeStatus>, events: readonly PledgeEvent[]): PledgePlan {
  const byPledge = new Map<string, PledgeEvent[]>();
  for (const e of events) {
    const list = byPledge.get(e.data.pledgeId);
    if (list) list.push(e);
    else byPledge.set(e.data.pledgeId, [e]);
  }
  const rows: PledgeProjection[] = [];
  const pushes: Push[] = [];
  const donorNotices: PledgeChange[] = [];
  for (const [pledgeId, list] of byPledge) {
    // Stable sort by rank: the order the machine went through them, whatever order they came in.
    const ordered = [...list].sort((a, b) => STATUS_RANK[statusOf(a)] - STATUS_RANK[statusOf(b)]);
    let rank = stored.has(pledgeId) ? STATUS_RANK[stored.get(pledgeId)!] : -1;
    const first = ordered[0]!;
    const row: PledgeProjection = {
      id: pledgeId,
      campaignId: first.data.campaignId,
      donorId: first.data.donorId,
      status: statusOf(first),
      amountMinor: first.data.amountMinor,
      currency: first.data.currency,
      createdAt: timeOf(first),
      updatedAt: timeOf(first),
    };
    for (const e of ordered) {
      const status = statusOf(e);
      if (STATUS_RANK[status] >= STATUS_RANK[row.status]) row.status = status;
      row.donorId ??= e.data.donorId;
      row.createdAt = e.type === "pledge.created" ? e.data.createdAt : earlier(row.createdAt, timeOf(e));
      row.updatedAt = later(row.updatedAt, timeOf(e));
      if (e.type === "pledge.created") continue;
      if (isDonorNotified(e.data.status) && e.data.donorId !== null) donorNotices.push(e.data);
      if (STATUS_RANK[status] <= rank) continue;
      rank = STATUS_RANK[status];
      const frame: PledgeStatusFrame = {
        type: "pledge.status",
        pledgeId,
        campaignId: e.data.campaignId,
        status,
        failureReason: e.data.failureReason,
      };
      if (e.data.donorId !== null) pushes.push({ topic: topics.user(e.data.donorId), frame });
      pushes.push({ topic: topics.pledge(pledgeId), frame });
    }
    rows.push(row);
  }
  return { rows, pushes, donorNotices };
}
